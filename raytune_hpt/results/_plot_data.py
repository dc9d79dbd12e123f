"""What the report's plots are drawn from: trials in start order, the best so far,
hyperparameter axes with an "absent" position for inactive conditional values, the Pareto
front. Plain Python, tested without a browser; ``_plots.py`` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from raytune_hpt._format import format_value
from raytune_hpt.results._intervals import trial_interval

__all__ = [
    "ABSENT",
    "COLORS",
    "CURVES",
    "STATUS_NAMES",
    "SYMBOLS",
    "HpAxis",
    "TrialView",
    "best_so_far",
    "hp_axes",
    "parallel_dimension",
    "pareto_front",
    "trial_views",
]

#: Where a conditional hyperparameter was inactive: shown as its own position, never as 0.
ABSENT = "— (inactive)"
#: How each status is drawn (marker symbol); failed trials have no objective to draw.
SYMBOLS = {
    "finished": "circle",
    "stopped": "x",
    "running": "diamond-open",
    "paused": "square-open",
    "pending": "circle-open",
}
STATUS_NAMES = {
    "finished": "finished",
    "stopped": "stopped early",
    "diverged": "diverged (NaN/inf)",
    "running": "running",
    "paused": "paused",
    "pending": "pending",
}
COLORS = {
    "finished": "#1f77b4",
    "stopped": "#ff7f0e",
    "running": "#2ca02c",
    "paused": "#9467bd",
    "pending": "#7f7f7f",
}
CURVES = 10  # learning curves drawn: the best trials


@dataclass(frozen=True)
class TrialView:
    """One trial as the plots see it: its number in start order and when it ended."""

    number: int
    record: Any  # TrialRecord
    score: float  # the objective at its best epoch (NaN if none)
    end: float | None  # seconds after the experiment's first trial started


@dataclass(frozen=True)
class HpAxis:
    """How one hyperparameter is placed on an axis: numeric (maybe log) or categories."""

    name: str
    numeric: bool
    log: bool = False
    categories: tuple[Any, ...] = ()

    def encode(self, value: Any) -> float | None:
        """The value's position on the axis; ``None`` when the hyperparameter is absent."""
        if value is None:
            return None
        if not self.numeric:
            return float(self.categories.index(value)) if value in self.categories else None
        return math.log10(value) if self.log else float(value)


def _interval(record: Any) -> tuple[float, float] | None:
    interval = trial_interval(record.history)
    if interval is None and record.history:  # no placement time: derive it from the last row
        last = record.history[-1]
        stamp, total = last.get("timestamp"), last.get("time_total_s")
        if isinstance(stamp, (int, float)) and isinstance(total, (int, float)):
            interval = (float(stamp) - float(total), float(stamp))
    return interval


def trial_views(results: Any) -> list[TrialView]:
    """Every trial, numbered 1, 2, ... in the order they started (unstarted ones last)."""
    intervals = [_interval(t) for t in results.trials]
    starts = [i[0] for i in intervals if i]
    origin = min(starts) if starts else 0.0
    order = sorted(
        range(len(results.trials)),
        key=lambda k: (intervals[k] is None, intervals[k][0] if intervals[k] else 0, k),
    )
    views = []
    for number, k in enumerate(order, start=1):
        record, interval = results.trials[k], intervals[k]
        views.append(
            TrialView(
                number=number,
                record=record,
                score=record.score(results.objective),
                end=interval[1] - origin if interval else None,
            )
        )
    return views


def best_so_far(values: Sequence[float], direction: str) -> list[float]:
    """The running best of ``values`` (NaN ignored; NaN until the first finite value).

    Example:
        >>> best_so_far([0.5, float("nan"), 0.4, 0.7], "max")
        [0.5, 0.5, 0.5, 0.7]
    """
    best, out = math.nan, []
    for value in values:
        if math.isfinite(value) and (
            math.isnan(best) or (value > best if direction == "max" else value < best)
        ):
            best = value
        out.append(best)
    return out


def hp_axes(results: Any) -> list[HpAxis]:
    """One axis per hyperparameter of the space (or, without one, per key of the trials)."""
    observed: dict[str, list[Any]] = {}
    for trial in results.trials:
        for name, value in trial.hyperparameters.items():
            observed.setdefault(name, []).append(value)
    hps = list(results.space.space)
    names = [hp.name for hp in hps] or sorted(observed)
    by_name = {hp.name: hp for hp in hps}
    axes = []
    for name in names:
        hp, values = by_name.get(name), observed.get(name, [])
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if hp is not None and hasattr(hp, "sampling"):  # Int and Float
            log = hp.sampling == "log" and all(v > 0 for v in values)
            axes.append(HpAxis(name, numeric=True, log=log))
        elif hp is None and values and numbers and len(set(values)) > 8:
            axes.append(HpAxis(name, numeric=True))
        else:
            declared = list(hp.values_list() or []) if hp is not None else []
            extra = sorted({v for v in values if v not in declared}, key=str)
            axes.append(HpAxis(name, numeric=False, categories=tuple(declared + extra)))
    return axes


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices of the points no other point dominates (NaN points are never on the front).

    Example:
        >>> pareto_front([(1, 1), (2, 0), (0, 0), (2, 2)], ["max", "min"])
        [1]
    """
    from raytune_hpt.results._pareto import pareto_ranks

    return [i for i, rank in enumerate(pareto_ranks(points, directions)) if rank == 0]


def parallel_dimension(axis: HpAxis, values: list[Any]) -> dict[str, Any]:
    """A parallel-coordinates axis; inactive values sit at their own "absent" tick."""
    codes = [axis.encode(v) for v in values]
    present = [c for c in codes if c is not None]
    if axis.numeric:
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        unique = sorted(set(present))
        ticks = unique if len(unique) <= 6 else [lo + (hi - lo) * k / 4 for k in range(5)]
        labels = [format_value(10**t if axis.log else t) for t in ticks]
        absent = lo - 0.15 * ((hi - lo) or 1.0)
    else:
        lo, hi = 0.0, float(max(len(axis.categories) - 1, 0))
        ticks, labels = (
            [float(k) for k in range(len(axis.categories))],
            [str(c) for c in axis.categories],
        )
        absent = -1.0
    if len(present) < len(codes):
        ticks, labels, lo = [absent, *ticks], [ABSENT, *labels], absent
    label = f"{axis.name} (log)" if axis.log else axis.name
    return {
        "label": label,
        "values": [absent if c is None else c for c in codes],
        "range": [lo, hi] if hi > lo else [lo - 0.5, hi + 0.5],
        "tickvals": ticks,
        "ticktext": labels,
    }
