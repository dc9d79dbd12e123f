"""Why a trial or a search ended, in words: a diverged trial, a trial out of memory, a time
budget spent."""

from __future__ import annotations

from typing import Any

from raytune_hpt._checks import is_finite_number
from raytune_hpt._record import DIVERGED, DIVERGED_ON
from raytune_hpt.errors import OUT_OF_MEMORY

__all__ = ["budget_note", "diverged_text", "ended_lines", "ended_status", "error_text"]


def ended_status(status: str, epochs: int, metrics: dict[str, float],
                 last: dict[str, Any]) -> str | None:
    """``"not started"`` (ended before its first report: the search stopped first, e.g. a
    time budget), ``"diverged"`` (its last report says so) or None."""
    if status == "finished" and not epochs and not metrics:
        return "not started"
    return "diverged" if is_finite_number(last.get(DIVERGED)) else None


def ended_lines(trials: list[Any], metadata: dict[str, Any]) -> list[str]:
    """The summary's lines on diverged trials and on a time budget that ended the search."""
    diverged = [t for t in trials if t.status == "diverged"]
    lines = [f"Diverged trial {t.trial_id} (not ranked): {t.error}" for t in diverged[:3]]
    return lines + [note for note in [budget_note(metadata)] if note]


def error_text(error: str | None) -> str | None:
    """A failed trial's error as recorded; one that ran out of memory (a worker Ray's
    memory monitor killed says so somewhere in Ray's message) starts with ``out of memory``.
    """
    if not error or error.startswith(OUT_OF_MEMORY):
        return error
    lowered = error.lower()
    if OUT_OF_MEMORY in lowered or "low on memory" in lowered:
        return f"{OUT_OF_MEMORY} (its worker was killed by Ray's memory monitor): {error}"
    return error


def diverged_text(row: dict[str, Any]) -> str | None:
    """``"diverged at epoch 3: loss=nan"`` for a diverged trial's last report, else None."""
    if not is_finite_number(row.get(DIVERGED)):
        return None
    on = row.get(DIVERGED_ON)
    return f"diverged at epoch {int(row[DIVERGED])}: {on if isinstance(on, str) else 'NaN/inf'}"


def budget_note(metadata: dict[str, Any]) -> str | None:
    """A line saying that the time budget ended the last run (None: it did not)."""
    if metadata.get("ended_by") != "max_time":
        return None
    budget, total = metadata.get("max_time"), metadata.get("wall_time_s")
    used = f"; {total:.0f} s over all runs" if is_finite_number(total) else ""
    return (f"Ended by the time budget (max_time={budget:g} s{used}): trials that were "
            "running ended at their last epoch, no other trial started."
            if is_finite_number(budget) else "Ended by the time budget (max_time).")
