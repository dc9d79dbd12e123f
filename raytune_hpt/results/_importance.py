"""Hyperparameter importance: a random-forest functional ANOVA of the finished trials.

A random forest (scikit-learn, a core dependency) is fitted to map each trial's
hyperparameters to its objective; a hyperparameter's importance is the variance of its
marginal prediction (the forest's mean prediction over the trials with that one value set)
as a share of the variance of the predictions: its first-order (main) effect, as in fANOVA
(Hutter, Hoos and Leyton-Brown, 2014), with the trials themselves as the distribution
marginalized over. Inactive conditional values stay missing (NaN), which the forest splits
on as a value of their own. Interactions are not attributed, so the shares need not sum to 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["METHOD", "MIN_TRIALS", "hyperparameter_importance"]

METHOD = (
    "random-forest functional ANOVA (first-order effects; scikit-learn RandomForestRegressor "
    "fitted to the trials; each bar is the share of the objective's variance that "
    "hyperparameter explains alone)"
)
#: Fewer scored trials than this give no importance: a forest of 3 points explains nothing.
MIN_TRIALS = 5
_MAX_LEVELS = 32  # a continuous hyperparameter is marginalized at up to this many quantiles


def hyperparameter_importance(
    rows: Sequence[Sequence[float | None]],
    scores: Sequence[float],
    names: Sequence[str],
    seed: int = 0,
) -> dict[str, float]:
    """The share of the objective's variance each hyperparameter explains alone.

    Args:
        rows: one row per trial, one encoded value per hyperparameter (``None`` = inactive).
        scores: each trial's objective (finite).
        names: the hyperparameters, in the rows' column order.

    Returns:
        ``{name: share}``, each share in ``[0, 1]``; empty when there are fewer than
        :data:`MIN_TRIALS` trials or the objective never varied.

    Example:
        >>> rows = [[float(a), float(b)] for a in range(4) for b in range(4)]
        >>> shares = hyperparameter_importance(rows, [r[0] for r in rows], ["a", "b"])
        >>> shares["a"] > 0.9 > 0.1 > shares["b"]
        True
    """
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    x = np.array([[math.nan if v is None else float(v) for v in row] for row in rows], dtype=float)
    y = np.asarray(scores, dtype=float)
    if len(y) < MIN_TRIALS or not names or float(np.ptp(y)) == 0.0:
        return {}
    forest = RandomForestRegressor(n_estimators=100, random_state=seed).fit(x, y)
    total = float(np.var(forest.predict(x)))
    if total <= 0.0:
        return {name: 0.0 for name in names}
    return {name: min(_main_effect(forest, x, j) / total, 1.0) for j, name in enumerate(names)}


def _main_effect(forest: object, x: object, column: int) -> float:
    """The variance over the trials' values of the column of the forest's mean prediction
    with that column set to one value for every trial."""
    import numpy as np

    values = x[:, column]  # type: ignore[index]
    present = values[~np.isnan(values)]
    levels, counts = np.unique(present, return_counts=True)
    if len(levels) > _MAX_LEVELS:
        levels = np.quantile(present, np.linspace(0, 1, _MAX_LEVELS))
        counts = np.ones(len(levels))
    missing = int(np.isnan(values).sum())
    if missing:
        levels, counts = np.append(levels, np.nan), np.append(counts, missing)
    means = []
    for level in levels:
        probe = x.copy()  # type: ignore[attr-defined]
        probe[:, column] = level
        means.append(float(forest.predict(probe).mean()))  # type: ignore[attr-defined]
    weights = counts / counts.sum()
    centre = float(np.dot(weights, means))
    return float(np.dot(weights, (np.asarray(means) - centre) ** 2))
