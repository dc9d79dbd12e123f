"""The Pareto front of an experiment: non-dominated sorting of its trials.

A trial's point is its value of each objective at its best epoch (the epoch where the first
objective was best, whose checkpoint is the trial's model). Trial ``a`` dominates ``b`` when
``a`` is at least as good on every objective and strictly better on one. Rank 0 is the
front; rank 1 the front once rank 0 is removed; and so on (NSGA-II's non-dominated sorting,
Deb et al. 2002). A trial without a finite value of every objective has no rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from raytune_hpt._format import format_value

__all__ = ["dominates", "front_lines", "pareto_ranks", "trial_point"]


def _signed(points: Sequence[Sequence[float] | None],
            directions: Sequence[str]) -> list[tuple[float, ...] | None]:
    signs = [1.0 if d == "max" else -1.0 for d in directions]
    out: list[tuple[float, ...] | None] = []
    for p in points:
        finite = p is not None and len(p) == len(signs) and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in p)
        out.append(tuple(s * float(v) for s, v in zip(signs, p, strict=True))
                   if finite else None)  # type: ignore[arg-type]
    return out


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether ``a`` dominates ``b`` (both higher-is-better)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True))


def pareto_ranks(points: Sequence[Sequence[float] | None],
                 directions: Sequence[str]) -> list[int | None]:
    """The non-domination rank of each point (0: the front); None for a missing or
    non-finite point.

    Example:
        >>> pareto_ranks([(1, 1), (2, 0), (0, 0), (2, 2), None], ["max", "min"])
        [1, 0, 1, 1, None]
    """
    signed = _signed(points, directions)
    live = [i for i, p in enumerate(signed) if p is not None]
    beaten_by = {i: 0 for i in live}  # how many points dominate i
    beats: dict[int, list[int]] = {i: [] for i in live}
    for i in live:
        for j in live:
            if i != j and dominates(signed[i], signed[j]):  # type: ignore[arg-type]
                beats[i].append(j)
                beaten_by[j] += 1
    ranks: list[int | None] = [None] * len(points)
    current, rank = [i for i in live if beaten_by[i] == 0], 0
    while current:
        following = []
        for i in current:
            ranks[i] = rank
            for j in beats[i]:
                beaten_by[j] -= 1
                if beaten_by[j] == 0:
                    following.append(j)
        current, rank = following, rank + 1
    return ranks


def trial_point(trial: Any, terms: Sequence[Any]) -> tuple[float, ...] | None:
    """A trial's value of each objective (``terms``) at its best epoch; None if one is
    missing or not finite."""
    values = tuple(trial.best_metrics.get(t.name, math.nan) for t in terms)
    return values if all(isinstance(v, float) and math.isfinite(v) for v in values) else None


def front_lines(results: Any, num_trials: int | None = None) -> list[str]:
    """The front as a table: one line per trial, each objective then each hyperparameter."""
    objective = results.objective
    front = results.pareto_front()
    if not front:
        return [f"No trial reported a finite value of every objective "
                f"({', '.join(objective.metric_names())})."]
    shown = front if num_trials is None else front[:num_trials]
    hp_names = list(dict.fromkeys(k for t in shown for k in t.hyperparameters))
    header = ["trial", *(f"{t.name} ({t.direction})" for t in objective.terms), *hp_names]
    table = [header] + [
        [t.trial_id, *(format_value(v) for v in trial_point(t, objective.terms) or ()),
         *(format_value(t.hyperparameters.get(h, "-")) for h in hp_names)]
        for t in shown
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [f"Pareto front: {len(front)} non-dominated trial(s) of {len(results.trials)}"]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in table]
    return lines
