"""Gaussian-process Bayesian optimization over mixed, conditional Keras Tuner spaces.

Ray's ``BayesOptSearch`` only handles float ranges (and does not import with
bayesian-optimization 3); this searcher needs only numpy, scipy and nothing else. It follows
Optuna 5's ``GPSampler`` without PyTorch (``_gp.py``: the Gaussian process, priors and log
expected improvement; ``_acquisition.py``: the encoding of every hyperparameter type and the
mixed continuous / exhaustive search of the acquisition).

Fidelity (BOHB's rule, Falkner et al. 2018): every intermediate report (``epoch`` and the
metric, through Ray's ``on_trial_result``) is kept, and the model is fitted on the highest
epoch that at least ``random_initial`` trials have reached, each trial with its value at that
epoch. With a scheduler that stops or pauses trials (ASHA, HyperBand), a trial promoted past
epoch 1 is compared with the others at epoch 1, not with its own later values; without one,
this is every trial's final value as soon as enough trials have finished. A trial that ended
before that epoch (stopped by the scheduler, or by its own early stopping) enters with its
last value: leaving it out made the model propose the region the scheduler had just stopped,
again and again (on MFBranin under ASHA, 4 runs of 5 never finished a trial at the target).
``fidelity="last"`` instead learns from each finished trial's last value (for a Keras
``EarlyStopping`` callback and no scheduler, where a trial's last epoch is its own choice).

Exploration (BOHB's random fraction): after the initial design, each suggestion is drawn at
random with probability ``random_fraction`` (its own seeded generator, kept in the state).
BOHB and HpBandSter draw a third of their proposals at random; the default here does so only
with ``fidelity="rungs"`` once trials are seen to stop early (see the class docstring).

Several metrics (``metric`` and ``mode`` lists, a Pareto objective): each suggestion fits the
GP to a fresh random augmented-Chebyshev scalarisation of the normalised objectives
(ParEGO, ``_parego.py``).

Trials still running (and without a value at that epoch) enter the model with its own mean
prediction there (the "kriging believer" of Ginsbourger et al. 2010): the uncertainty there
is gone, so expected improvement next to them drops. No suggestion repeats a configuration
that is running or done, or lies within :data:`NEAR` of one in every coordinate (the
next-ranked candidate is taken instead).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raytune_hpt._checks import check_int, check_number, is_number
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers._acquisition import Encoder, maximize_acquisition
from raytune_hpt.searchers._basic import StatefulSearcher, active_part, sample_active
from raytune_hpt.searchers._gp import GaussianProcess
from raytune_hpt.searchers._keys import point_key
from raytune_hpt.searchers._parego import chebyshev_scores, check_modes, signed_vector

__all__ = ["BayesOptSearcher"]

logger = logging.getLogger(__name__)

_FIDELITIES = ("rungs", "last")
_WARPS = ("power", "rank", "standardize")
# BOHB's random fraction (Falkner et al. 2018; HpBandSter's default), used by default once a
# scheduler is seen stopping trials
_AUTO_FRACTION = 1 / 3
#: The epoch under which ``fidelity="last"`` keeps a trial's final value: after every rung.
LAST = math.inf
#: A candidate closer than this to a configuration tried or running (in unit coordinates,
#: every coordinate) is passed over for the next-ranked one: a model that extrapolates a
#: trend to an edge can put log EI's peak next to the same observation again and again,
#: and such a point teaches it nothing (Branin, seed 106: 20 suggestions within 0.002 of
#: one boundary point, regret 1.55 to the end; 0.065 after 20 evaluations and 1e-4 after 50
#: with this rule).
NEAR = 1e-3

#: A trial's score: a float (higher is better), or a vector of them for several metrics.
Score = Any


@dataclass
class _TrialState:
    """What the searcher knows of one trial: its active values, its score at each epoch it
    reported (only :data:`LAST` with ``fidelity="last"``), whether it ended and how."""

    point: dict[str, Any]
    scores: dict[float, Score] = field(default_factory=dict)
    done: bool = False
    failed: bool = False

    @classmethod
    def restore(cls, saved: Any) -> _TrialState:
        """From a saved state; states saved before this class held dicts keyed "last"."""
        if isinstance(saved, cls):
            return cls(dict(saved.point), dict(saved.scores), saved.done, saved.failed)
        scores = {LAST if epoch == "last" else float(epoch): score
                  for epoch, score in saved["scores"].items()}
        return cls(dict(saved["point"]), scores, bool(saved["done"]), bool(saved["failed"]))

    def last_epoch(self) -> float:
        return max(self.scores)


class BayesOptSearcher(StatefulSearcher):
    """Gaussian-process Bayesian optimization with log expected improvement, for any space.

    Args:
        space: the discovered hyperparameters.
        metric: the result key to optimize (Ray's Tuner may set it later), or a list of keys
            for a Pareto front (ParEGO scalarisations, see the module).
        mode: ``"min"`` or ``"max"`` (Ray's Tuner may set it later), a list with a metric list.
        seed: makes suggestions repeatable for the same sequence of observations.
        random_initial: random suggestions before the Gaussian process is used; also how many
            trials an epoch needs before the model is fitted there.
        xi: exploration margin of expected improvement, in standard deviations of the objective.
        candidates: random valid configurations scored per suggestion before local search.
        fidelity: ``"rungs"`` (BOHB's rule, see the module) or ``"last"``.
        warp: how observations become GP targets: ``"power"`` (Yeo-Johnson, then
            standardized: tames heavy tails, keeps the order of magnitude), ``"rank"`` (normal
            scores), ``"standardize"`` (plain, as Optuna's GPSampler).
        random_fraction: the probability, in [0, 1), that a suggestion after the initial
            design is drawn at random instead of from the model. Default (None): 1/3 (BOHB's
            fraction) with ``fidelity="rungs"`` once a finished trial is seen to have stopped
            at an earlier epoch than another trial reached (a scheduler such as ASHA or
            HyperBand stops trials, or the model's own early-stopping callback), 0 otherwise.
        points_to_evaluate: configurations suggested first, in order (they count among the
            ``random_initial`` suggestions). Trials run elsewhere (a warm start) enter through
            :meth:`add_evaluated_point` and are observations from the first suggestion on.

    Raises:
        ConfigurationError: (a ValueError) for a mode other than "min"/"max", an unknown
            ``fidelity`` or ``warp``, a bad ``random_fraction``.
        ValueError: an out-of-range number (``random_initial``, ``xi``, ``candidates``).

    Example:
        >>> hp = HyperParameters()
        >>> _ = hp.Float("lr", 1e-4, 1e-1, sampling="log")
        >>> searcher = BayesOptSearcher(hp, metric="loss", mode="min", seed=0)
        >>> config = searcher.suggest("t1")
        >>> searcher.on_trial_complete("t1", {"loss": (config["lr"] - 0.01) ** 2})
    """

    def __init__(self, space: HyperParameters, metric: str | list[str] | None = None,
                 mode: str | list[str] | None = None,
                 seed: int | None = None, random_initial: int = 5, xi: float = 0.0,
                 candidates: int = 2048, fidelity: str = "rungs", warp: str = "power",
                 random_fraction: float | None = None,
                 points_to_evaluate: list[dict[str, Any]] | None = None) -> None:
        _check_mode(mode)
        _check_fraction(random_fraction)
        check_int("random_initial", random_initial, 1)
        check_number("xi", xi, minimum=0)
        check_int("candidates", candidates, 10)
        for name, value, allowed in (("fidelity", fidelity, _FIDELITIES),
                                     ("warp", warp, _WARPS)):
            if value not in allowed:
                raise ConfigurationError(
                    f"{name} must be one of {sorted(allowed)}, but got {value!r}.")
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._encoder = Encoder(space)
        self._random_initial, self._candidates, self._xi = random_initial, candidates, float(xi)
        self._fidelity, self._warp = fidelity, warp
        self._py_rng = random.Random(seed)
        self._rng = np.random.default_rng(seed)
        self._random_fraction = random_fraction
        # its own stream: the fraction changes no other random draw
        self._coin = random.Random(None if seed is None else f"random_fraction/{seed}")
        self._suggested = 0
        self._trials: dict[str, _TrialState] = {}  # by trial id, in insertion order
        self._kernel: np.ndarray | None = None  # last fitted kernel parameters (warm start)
        self._queue = [active_part(space, p) for p in points_to_evaluate or []]

    # -- Ray's Searcher interface --------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:
        """Take metric and mode from Ray's Tuner; the space stays the discovered one."""
        _check_mode(mode)
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The active values of the next configuration to try."""
        # trials given by add_evaluated_point count: a warm start fits from the first suggestion
        enough = len(self._trials) >= self._random_initial and not self._queue
        explore = enough and self._coin.random() < self._fraction()
        data = self._training_data() if enough and not explore else None
        point = self._queue.pop(0) if self._queue else None
        if data and self._encoder.width:
            # small matrices: BLAS threads only contend with each other (and with trials)
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                point = self._bayesian_point(*data)
        how = ("random fraction" if explore
               else f"Gaussian process on {len(data[0])} observations" if data and point is not None
               else "given" if not enough and point is not None else "random")
        if point is None:
            point = self._random_point()
        logger.debug("bayesopt suggestion for %s (%s): %s", trial_id, how, point)
        self._suggested += 1
        self._trials[trial_id] = _TrialState(point)
        return dict(point)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Keep an intermediate report (its epoch and metric) for the rung-wise model."""
        self._record(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        """Record the trial's end; errors and NaN/inf/missing values count as failures."""
        trial = self._trials.get(trial_id)
        if trial is None or trial.done:
            return
        trial.done = True
        score = None if error or not result else self._record(trial_id, result)
        if score is None:
            trial.failed = True
        elif self._fidelity == "last":
            trial.scores = {LAST: score}

    def add_evaluated_point(self, parameters: dict[str, Any], value: float | None,
                            error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        """A trial run elsewhere (Ray's interface; a warm start) becomes an observation.

        ``intermediate_values[i]`` is the metric at epoch ``i + 1`` (for the rung-wise model);
        ``value`` is the last one. The configuration is never suggested again.
        """
        trial_id = f"evaluated_{len(self._trials)}"
        point = active_part(self._space, parameters)
        self._trials[trial_id] = _TrialState(point)
        epochs = list(intermediate_values or [])
        for epoch, metric in enumerate(epochs if not error else [], start=1):
            self._record(trial_id, {self._metric: metric, "epoch": epoch})
        last = {self._metric: value, "epoch": len(epochs)} if epochs else {self._metric: value}
        self.on_trial_complete(trial_id, None if error else last, error=error)

    def get_state(self) -> dict:
        return {"py_rng": self._py_rng.getstate(), "rng": self._rng.bit_generator.state,
                "suggested": self._suggested, "trials": {k: _TrialState.restore(v) for k, v in
                                                         self._trials.items()},
                "kernel": self._kernel, "metric": self._metric, "mode": self._mode,
                "queue": self._queue, "coin": self._coin.getstate()}

    def set_state(self, state: dict) -> None:
        self._py_rng.setstate(state["py_rng"])
        self._rng.bit_generator.state = state["rng"]
        self._suggested = state["suggested"]
        self._trials = {k: _TrialState.restore(v) for k, v in state["trials"].items()}
        self._kernel = state["kernel"]
        self._metric, self._mode = state["metric"], state["mode"]
        self._queue = state.get("queue", [])
        if "coin" in state:  # states saved before the random fraction have none
            self._coin.setstate(state["coin"])

    # -- observations ----------------------------------------------------------------------
    def _record(self, trial_id: str, result: dict) -> Any:
        trial = self._trials.get(trial_id)
        if isinstance(self._metric, list):  # several metrics: a vector, higher better
            vector = signed_vector(trial_id, result, self._metric, self._mode)
            if vector is not None and trial is not None and self._fidelity == "rungs":
                trial.scores[float(result.get("epoch", 0))] = vector
            return vector
        value = result.get(self._metric) if self._metric else None
        try:
            score = float(value) if value is not None else None
        except (TypeError, ValueError):
            logger.warning("Trial %s reported a non-numeric %s: %r.", trial_id, self._metric, value)
            score = None
        if score is None or not math.isfinite(score):
            return None
        score = score if self._mode == "max" else -score
        if trial is not None and self._fidelity == "rungs":
            trial.scores[float(result.get("epoch", 0))] = score
        return score

    def _fraction(self) -> float:
        """The random fraction in force (the default follows whether trials stop early)."""
        if self._random_fraction is not None:
            return self._random_fraction
        return _AUTO_FRACTION if self._fidelity == "rungs" and self._stopped_early() else 0.0

    def _stopped_early(self) -> bool:
        """Whether a finished trial stopped at an earlier epoch than another trial reached."""
        last = {k: t.last_epoch() for k, t in self._trials.items() if t.scores}
        top = max(last.values(), default=0.0)
        return any(t.done and not t.failed and last.get(k, top) < top
                   for k, t in self._trials.items())

    def _budget(self) -> float | None:
        """The highest epoch that enough trials reached (else the best-covered one)."""
        counts: dict[float, int] = {}
        for trial in self._trials.values():
            for epoch in trial.scores:
                counts[epoch] = counts.get(epoch, 0) + 1
        if not counts:
            return None
        enough = [e for e, n in counts.items() if n >= self._random_initial]
        if enough:
            return max(enough)
        return max(counts, key=lambda e: (counts[e], e))

    def _training_data(self) -> tuple[list, np.ndarray, list] | None:
        """(points, targets, pending points) at the chosen budget; None if too few."""
        budget = self._budget()
        # a trial that ended before the budget (stopped by a scheduler or its own early
        # stopping) counts with its last value: left out, the model never learns from what
        # the scheduler stopped and proposes the same region again
        scored = [(t.point, t.scores[budget] if budget in t.scores else t.scores[t.last_epoch()])
                  for t in self._trials.values()
                  if budget in t.scores or (t.done and not t.failed and t.scores)]
        if len(scored) < 2:
            return None
        worst = np.min([s for _, s in scored], axis=0)  # per metric with several
        failed = [(t.point, worst) for t in self._trials.values()
                  if t.failed and budget not in t.scores]
        pending = [t.point for t in self._trials.values()
                   if not t.done and budget not in t.scores]
        points = [p for p, _ in scored + failed]
        y = np.array([s for _, s in scored + failed], dtype=float)
        if y.ndim == 2:  # several metrics: this suggestion's random scalarisation
            y = chebyshev_scores(y, self._rng)
        return points, self._warped(y), pending

    def _warped(self, y: np.ndarray) -> np.ndarray:
        warp = self._warp
        if warp == "rank":
            from scipy.stats import norm, rankdata

            return norm.ppf((rankdata(y) - 0.5) / len(y))
        if warp == "power" and np.ptp(y) > 0:
            from scipy.stats import yeojohnson

            z = (y - np.median(y)) / (y.std() or 1.0)
            with np.errstate(all="ignore"):
                y = yeojohnson(z)[0]
            if not np.all(np.isfinite(y)):
                y = z
        return (y - y.mean()) / (y.std() or 1.0)

    # -- suggestions -----------------------------------------------------------------------
    def _taken(self) -> set[tuple]:
        return {point_key(t.point) for t in self._trials.values()}

    def _random_point(self) -> dict[str, Any]:
        taken = self._taken()
        for _ in range(100):
            point = sample_active(self._space, self._py_rng)
            if point_key(point) not in taken:
                break
        return point

    def _bayesian_point(self, points: list, y: np.ndarray,
                        pending: list) -> dict[str, Any] | None:
        enc = self._encoder
        raw = np.array([enc.to_raw(p, self._rng) for p in points])
        seen = enc.features(raw)
        gp = GaussianProcess(seen, y, enc.categorical).fit([self._kernel])
        self._kernel = gp.raw
        best = float(y.max()) + self._xi
        if pending:
            # the kriging believer: each pending trial enters with the model's own mean
            # there, which removes the uncertainty a suggestion next to it would resolve
            believed = enc.features(np.array([enc.to_raw(p, self._rng) for p in pending]))
            gp = gp.condition_on(believed, gp.posterior(believed)[0])
            seen = np.vstack([seen, believed])
        top = raw[np.argsort(-y, kind="stable")[:5]]
        taken = self._taken()
        for candidate in maximize_acquisition(gp, enc, best, self._rng, top, self._candidates):
            point = enc.decode(candidate)
            if point_key(point) not in taken and not _near(enc.features(candidate[None]), seen):
                return point
        return None


def _near(features: np.ndarray, seen: np.ndarray) -> bool:
    """Whether a candidate is within :data:`NEAR` of a configuration tried or running, in
    every coordinate (two inactive values are equal, an active and an inactive one are not)."""
    both_inactive = np.isnan(seen) & np.isnan(features)
    diff = np.where(both_inactive, 0.0, np.nan_to_num(np.abs(seen - features), nan=1.0))
    return bool((diff.max(axis=1) < NEAR).any())


def _check_mode(mode: str | list[str] | None) -> None:
    check_modes(mode)


def _check_fraction(value: Any) -> None:
    if value is not None and not (is_number(value) and 0 <= value < 1):
        raise ConfigurationError(
            f"random_fraction must be a number in [0, 1) (or None for the default), "
            f"but got {value!r}.")
