"""``bayesopt``'s multi-objective rule: ParEGO's random augmented-Chebyshev scalarisations.

With a list of metrics (a Pareto objective), each trial's values are one vector, signed so
that higher is better. Every suggestion (Knowles 2006, "ParEGO") normalises each objective to
[0, 1] over the trials seen so far, draws weights uniformly from the simplex and scores each
trial by the augmented Chebyshev distance to the ideal point,

    cost = max_j(w_j * d_j) + rho * sum_j(w_j * d_j),    d_j = 1 - normalised value j,

then fits the usual Gaussian process to ``-cost`` and maximises expected improvement. A
weight vector favours one region of the front; drawing a new one per suggestion spreads the
suggestions along it, and the max term reaches non-convex parts of the front that a
weighted sum cannot.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["RHO", "chebyshev_scores", "check_modes", "signed_vector"]

logger = logging.getLogger(__name__)

RHO = 0.05  # ParEGO's augmentation weight: breaks ties between weakly dominated points


def check_modes(mode: str | Sequence[str] | None) -> None:
    """``mode`` is None, ``"min"``/``"max"``, or a list of them (one per metric)."""
    modes = list(mode) if isinstance(mode, (list, tuple)) else [mode]
    if not modes or any(m not in (None, "min", "max") for m in modes):
        raise ValueError(f"mode must be 'min' or 'max' (or a list of them for several "
                         f"metrics), but got {mode!r}.")


def signed_vector(trial_id: str, result: dict[str, Any], metrics: Sequence[str],
                  modes: Sequence[str]) -> tuple[float, ...] | None:
    """The trial's values of ``metrics``, negated where ``min``; None if one is missing,
    non-numeric or not finite."""
    if len(metrics) != len(modes):
        raise ValueError(f"metric and mode must be lists of the same length, but got "
                         f"{list(metrics)} and {list(modes)}.")
    values = []
    for metric, mode in zip(metrics, modes, strict=True):
        value = result.get(metric)
        try:
            score = float(value) if value is not None else None
        except (TypeError, ValueError):
            logger.warning("Trial %s reported a non-numeric %s: %r.", trial_id, metric, value)
            return None
        if score is None or not math.isfinite(score):
            return None
        values.append(score if mode == "max" else -score)
    return tuple(values)


def chebyshev_scores(y: np.ndarray, rng: np.random.Generator, rho: float = RHO) -> np.ndarray:
    """One random augmented-Chebyshev scalarisation of ``y`` (rows: trials, columns:
    objectives, higher better): higher is better, 0 at the ideal point."""
    y = np.asarray(y, dtype=float)
    low, high = y.min(axis=0), y.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    distance = (high - y) / span  # 0: the best value seen, 1: the worst
    weights = rng.dirichlet(np.ones(y.shape[1]))
    weighted = distance * weights
    return -(weighted.max(axis=1) + rho * weighted.sum(axis=1))
