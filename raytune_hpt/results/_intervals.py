"""When trials ran, from their reports: how many ran at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from raytune_hpt._checks import is_finite_number

__all__ = ["max_trials_at_once", "trial_interval", "trial_runs"]


def max_trials_at_once(intervals: Iterable[tuple[float, float]]) -> int:
    """The largest number of the ``(start, end)`` intervals that overlap at one instant.

    Example:
        >>> max_trials_at_once([(0, 2), (1, 3), (2.5, 4)])
        2
    """
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
        key=lambda ev: (ev[0], ev[1]),
    )  # an end at t comes before a start at t
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def _number(value: Any) -> float | None:
    if not is_finite_number(value):
        return None  # missing (NaN in a metrics data frame) or not a number
    return float(value)


def trial_interval(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
    """When a trial ran, from its reports: from ``tf_started_at`` (recorded when the trial
    function starts, in the first report) to its last report's ``tf_reported_at`` (or Ray's
    ``timestamp``, whole seconds, for older results). ``time_total_s`` would overstate the
    first trial of each worker, whose clock includes the worker's start and TensorFlow's
    import; it is used only when no report has a timestamp."""
    started = [t for t in (_number(r.get("tf_started_at")) for r in rows) if t is not None]
    if not started:
        return None
    start = min(started)
    stamps = [t for t in (_number(r.get("tf_reported_at")) for r in rows) if t is not None]
    stamps = stamps or [t for t in (_number(r.get("timestamp")) for r in rows) if t is not None]
    if stamps:
        return start, max(start, max(stamps))
    total = max(
        (t for t in (_number(r.get("time_total_s")) for r in rows) if t is not None), default=0.0
    )
    return start, start + total


def trial_runs(rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """Each stretch a trial ran without a pause: a trial paused and resumed (HyperBand) or
    exploited (PBT) starts again with a new ``tf_started_at``; each stretch ends at its last
    report. Falls back to :func:`trial_interval` for reports without ``tf_reported_at``."""
    runs: list[list[float]] = []
    for row in rows:
        started, stamp = _number(row.get("tf_started_at")), _number(row.get("tf_reported_at"))
        if started is not None:
            runs.append([started, started])
        if runs and stamp is not None:
            runs[-1][1] = max(runs[-1][1], stamp)
    if not runs or any(start == end for start, end in runs):
        whole = trial_interval(rows)
        return [whole] if whole else []
    return [(start, end) for start, end in runs]
