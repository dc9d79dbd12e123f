"""When trials ran, from their reports: how many ran at once."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from raytune_hpt._checks import is_finite_number

__all__ = ["max_trials_at_once", "trial_interval"]


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
    """When a trial ran, from its reports: it started at ``tf_started_at`` (recorded with the
    placement, in the first report) and ran for its largest ``time_total_s``. Exact for a
    trial that ran in one go; for one paused and resumed, the span of its whole run."""
    started = [t for t in (_number(r.get("tf_started_at")) for r in rows) if t is not None]
    if not started:
        return None
    total = max(
        (t for t in (_number(r.get("time_total_s")) for r in rows) if t is not None), default=0.0
    )
    return min(started), min(started) + total
