"""Why a trial or a search ended, in words: a diverged trial, a trial out of memory, a time
budget spent."""

from __future__ import annotations

from typing import Any

from raytune_hpt._checks import is_finite_number
from raytune_hpt._record import DIVERGED, DIVERGED_ON
from raytune_hpt.errors import OUT_OF_MEMORY

__all__ = ["budget_note", "diverged_text", "error_text"]


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
