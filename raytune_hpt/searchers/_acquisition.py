"""Encoding a mixed, conditional space for the Gaussian process, and maximizing log EI over it.

Every hyperparameter but ``Fixed`` is one column of a "raw" matrix of unit coordinates in
[0, 1] (its ``to_unit`` / ``from_unit``). The GP sees each column as:

* ``cat`` (unordered ``Choice``, ``Boolean``): the index of the value, compared by Hamming
  distance;
* ``grid`` (at most 16 values: ordered ``Choice``, stepped ``Int``/``Float``): the unit
  coordinate of the value, searched exhaustively one coordinate at a time;
* ``relaxed`` (``Float`` without step, ``Int``/``Float`` with more than 16 values): the unit
  coordinate, optimized continuously by L-BFGS-B and then snapped onto the valid values;
* NaN wherever the hyperparameter is inactive in that row
  (:meth:`HyperParameters.active_mask`).

The acquisition search follows Optuna 5's ``optimize_acqf_mixed`` (``optuna/_gp/optim_mixed.py``):
score a few thousand random valid points (plus neighbours of the best observations), start
local searches from the best ones and from the best observation, and alternate gradient
steps on the continuous coordinates with exhaustive steps on the discrete ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from raytune_hpt.hyperparameters import Choice, Fixed, HyperParameters
from raytune_hpt.searchers._gp import GaussianProcess, log_expected_improvement

__all__ = ["Encoder", "maximize_acquisition"]

_EXHAUSTIVE = 16  # a discrete column with at most this many values is searched exhaustively


class Encoder:
    """Maps raw unit coordinates to GP features and configurations, for one space."""

    def __init__(self, space: HyperParameters) -> None:
        self.space = space
        self.hps = [hp for hp in space.space if not isinstance(hp, Fixed)]
        self.fixed = [hp for hp in space.space if isinstance(hp, Fixed)]
        counts = [len(v) if (v := hp.values_list()) is not None else 0 for hp in self.hps]
        self.counts = np.array(counts)
        self.categorical = np.array([isinstance(hp, Choice) and not hp.ordered
                                     for hp in self.hps], dtype=bool)
        grid = (self.counts > 0) & (self.counts <= _EXHAUSTIVE)
        self.discrete = np.flatnonzero(self.categorical | grid)
        self.relaxed = np.flatnonzero(~(self.categorical | grid))
        parents = {c.parent_name for hp in space.space for cs in hp.condition_sets for c in cs}
        self.parents = [(j, hp) for j, hp in enumerate(self.hps) if hp.name in parents]

    @property
    def width(self) -> int:
        return len(self.hps)

    def snap(self, raw: np.ndarray, columns: Any = None) -> np.ndarray:
        """Raw coordinates moved onto the unit coordinates of valid values."""
        out = np.clip(raw, 0.0, 1.0)
        for j in range(self.width) if columns is None else columns:
            count = self.counts[j]
            if count:
                index = np.minimum(np.floor(out[:, j] * count), count - 1)
                out[:, j] = (index + 0.5) / count
            elif self.hps[j].values_list() is None and type(self.hps[j]).__name__ == "Int":
                hp = self.hps[j]  # a log-sampled Int without step: integral, no list
                out[:, j] = [hp.to_unit(hp.from_unit(u)) for u in out[:, j]]
        return out

    def active(self, raw: np.ndarray) -> np.ndarray:
        """(rows, columns) booleans: which hyperparameter each row activates."""
        rows = {hp.name: [hp.from_unit(u) for u in raw[:, j]] for j, hp in self.parents}
        masks = self.space.active_mask(rows, size=len(raw), hps=self.hps)
        return np.stack([masks[hp.name] for hp in self.hps], axis=1)

    def features(self, raw: np.ndarray, relax: bool = False) -> np.ndarray:
        """GP inputs; with ``relax`` the relaxed columns are not snapped (for gradients)."""
        x = np.clip(raw, 0.0, 1.0)
        x = self.snap(x, self.discrete if relax else None)
        cat = self.categorical
        x[:, cat] = np.minimum(np.floor(x[:, cat] * self.counts[cat]), self.counts[cat] - 1)
        x[~self.active(raw)] = np.nan
        return x

    def to_raw(self, point: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """A configuration's coordinates; an absent (inactive) one gets a random value."""
        return np.array([hp.to_unit(point[hp.name]) if hp.name in point else rng.random()
                         for hp in self.hps])

    def decode(self, raw: np.ndarray) -> dict[str, Any]:
        point = {hp.name: hp.from_unit(float(u)) for hp, u in zip(self.hps, raw, strict=True)}
        point.update({hp.name: hp.value for hp in self.fixed})
        return self.space.active_values(point)


def _acquisition(gp: GaussianProcess, enc: Encoder, best: float, raw: np.ndarray) -> np.ndarray:
    mean, var = gp.posterior(enc.features(raw))
    return log_expected_improvement(mean, var, best)[0]


def _gradient_step(gp: GaussianProcess, enc: Encoder, best: float,
                   starts: np.ndarray) -> np.ndarray:
    """L-BFGS-B on the relaxed columns of every start at once (their sum is separable),
    in coordinates scaled by the length scales (Optuna's preconditioning)."""
    cols = enc.relaxed
    if not len(cols):
        return starts
    scale = np.clip(gp.length_scales[cols], 1e-3, None)
    fixed = starts.copy()

    def negative(z: np.ndarray) -> tuple[float, np.ndarray]:
        raw = fixed.copy()
        raw[:, cols] = np.clip(z.reshape(len(starts), -1) * scale, 0.0, 1.0)
        mean, var, dmean, dvar = gp.posterior(enc.features(raw, relax=True), cols)
        value, grad = log_expected_improvement(mean, var, best, dmean, dvar)
        grad = np.nan_to_num(grad) * scale
        return -float(value.sum()), -grad.ravel()

    z0 = (starts[:, cols] / scale).ravel()
    bounds = [(0.0, 1.0 / s) for s in scale] * len(starts)
    result = minimize(negative, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 100, "gtol": 1e-4})
    out = starts.copy()
    out[:, cols] = np.clip(result.x.reshape(len(starts), -1) * scale, 0.0, 1.0)
    return enc.snap(out)


def _coordinate_step(gp: GaussianProcess, enc: Encoder, best: float, starts: np.ndarray,
                     values: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Every single change of one discrete coordinate; each start takes its best one."""
    variants, owner = [], []
    for j in enc.discrete:
        choices = (np.arange(enc.counts[j]) + 0.5) / enc.counts[j]
        for i, start in enumerate(starts):
            block = np.repeat(start[None, :], len(choices), axis=0)
            block[:, j] = choices
            variants.append(block)
            owner.extend([i] * len(choices))
    if not variants:
        return starts, values, False
    cands, owner_arr = np.vstack(variants), np.array(owner)
    scores = _acquisition(gp, enc, best, cands)
    changed = False
    starts, values = starts.copy(), values.copy()
    for i in range(len(starts)):
        mine = np.flatnonzero(owner_arr == i)
        k = mine[np.argmax(scores[mine])]
        if scores[k] > values[i] + 1e-9:
            starts[i], values[i], changed = cands[k], scores[k], True
    return starts, values, changed


def _candidates(enc: Encoder, rng: np.random.Generator, count: int,
                observed: np.ndarray) -> np.ndarray:
    """Random valid points plus Gaussian neighbours of the best observations."""
    pool = rng.random((count, enc.width))
    if len(observed):
        near = np.repeat(observed, count // (4 * len(observed)) + 1, axis=0)
        near = near + rng.normal(0.0, 0.1, near.shape)
        resample = rng.random(near.shape) < 1.0 / enc.width
        near[resample] = rng.random(int(resample.sum()))
        pool = np.vstack([pool, near])
    return enc.snap(pool)


def maximize_acquisition(gp: GaussianProcess, enc: Encoder, best: float,
                         rng: np.random.Generator, observed_best: np.ndarray,
                         candidates: int = 2048, local_searches: int = 8
                         ) -> list[np.ndarray]:
    """Raw points ordered from the highest log EI: local-search optima first, then the pool."""
    pool = _candidates(enc, rng, candidates, observed_best)
    scores = _acquisition(gp, enc, best, pool)
    order = np.argsort(-scores, kind="stable")
    starts = np.vstack([pool[order[:local_searches]], enc.snap(observed_best[:2])])
    values = _acquisition(gp, enc, best, starts)
    for _ in range(3):
        moved = _gradient_step(gp, enc, best, starts)
        moved_values = _acquisition(gp, enc, best, moved)
        better = moved_values > values
        starts[better], values[better] = moved[better], moved_values[better]
        starts, values, changed = _coordinate_step(gp, enc, best, starts, values)
        if not changed:
            break
    ranked = [starts[i] for i in np.argsort(-values, kind="stable")]
    return ranked + [pool[i] for i in order[:50]]
