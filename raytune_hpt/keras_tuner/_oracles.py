"""Keras Tuner's oracles as raytune_hpt searcher and scheduler choices (driver side).

An oracle here decides nothing itself: it holds Keras Tuner's arguments and says which
searcher (and, for Hyperband, which scheduler) runs the trials on Ray. The tuner that takes
it attaches itself (:meth:`Oracle.attach`); after a search the oracle answers
``get_best_trials`` from that tuner's results, and inside a trial ``update_trial`` reports
through the worker's handle on the running trial (``raytune_hpt.worker.running_trial``).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

from raytune_hpt._checks import check_int, check_number
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.keras_tuner._trial import Trial
from raytune_hpt.worker import running_trial

__all__ = [
    "BayesianOptimizationOracle",
    "GridSearchOracle",
    "HyperbandOracle",
    "Oracle",
    "OracleOwner",
    "RandomSearchOracle",
    "check_runs_here",
    "hyperband_trials",
    "oracle_arguments",
]

logger = logging.getLogger(__name__)

# Keras Tuner's Oracle arguments, taken by each of its tuners beside the Tuner's own.
_ORACLE_ARGUMENTS = ("objective", "seed", "hyperparameters", "tune_new_entries",
                     "allow_new_entries", "max_retries_per_trial",
                     "max_consecutive_failed_trials")


# Keras Tuner's Oracle methods that decide the search: a subclass that overrides one writes
# its own search algorithm, which the oracles here (a searcher's name) cannot run.
_DECIDING = ("populate_space", "_populate_space", "create_trial", "end_trial", "score_trial",
             "_score_trial", "update_space")


def check_runs_here(oracle: Oracle) -> None:
    """Refuse an oracle whose class overrides a method that decides the search.

    Raises:
        ConfigurationError: naming the class, the method and the way out.
    """
    cls = type(oracle)
    for klass in cls.__mro__:
        if klass.__module__ == __name__ or klass is object:
            continue
        overridden = [name for name in _DECIDING if name in vars(klass)]
        if overridden:
            raise ConfigurationError(
                f"{cls.__name__} overrides Oracle.{overridden[0]}: a Keras Tuner search "
                "algorithm of your own does not run here (the search would silently be "
                "random search). Pass one of kt.oracles.RandomSearch, GridSearch, "
                "BayesianOptimization or Hyperband, or write the algorithm as a Ray Tune "
                "Searcher (ray.tune.search.Searcher: suggest(trial_id) and "
                "on_trial_complete(trial_id, result)) and pass it as "
                "kt.Tuner(searcher=your_searcher, ...) (docs/keras_tuner.md).")


def oracle_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the oracle's arguments out of a Keras Tuner tuner's ``kwargs``."""
    return {k: kwargs.pop(k) for k in _ORACLE_ARGUMENTS if k in kwargs}


class OracleOwner(Protocol):
    """The tuner an oracle answers from: its last search's results and search space."""

    @property
    def last_results(self) -> Any: ...

    def search_space(self) -> Any: ...


class Oracle:
    """Keras Tuner's ``Oracle`` arguments; subclasses pick the searcher.

    It takes Keras Tuner's arguments, with their meanings: ``objective``, ``max_trials``,
    ``hyperparameters``, ``allow_new_entries``, ``tune_new_entries``, ``seed``,
    ``max_retries_per_trial``, ``max_consecutive_failed_trials``.
    """

    searcher: Any = "random"

    def __init__(self, objective: Any = None, max_trials: int | None = 10,
                 hyperparameters: Any = None, allow_new_entries: bool = True,
                 tune_new_entries: bool = True, seed: int | None = None,
                 max_retries_per_trial: int = 0, max_consecutive_failed_trials: int = 3,
                 **unknown: Any) -> None:
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown arguments {sorted(unknown)}.")
        check_int("max_trials", max_trials, 1, optional=True)
        check_int("seed", seed, 0, optional=True)
        check_int("max_retries_per_trial", max_retries_per_trial, 0)
        check_int("max_consecutive_failed_trials", max_consecutive_failed_trials, 1)
        self.objective, self.max_trials = objective, max_trials
        self.hyperparameters, self.seed = hyperparameters, seed
        self.allow_new_entries, self.tune_new_entries = allow_new_entries, tune_new_entries
        self.max_retries_per_trial = max_retries_per_trial
        self.max_consecutive_failed_trials = max_consecutive_failed_trials
        self._tuner: OracleOwner | None = None  # the tuner that took this oracle (attach)

    def tuner_arguments(self) -> dict[str, Any]:
        """What the oracle means as ``raytune_hpt.Tuner`` arguments."""
        return {"objective": self.objective, "searcher": self.searcher,
                "max_trials": self.max_trials or 10, "seed": self.seed,
                "hyperparameters": self.hyperparameters,
                "max_failures": self.max_retries_per_trial,
                "max_consecutive_failed_trials": self.max_consecutive_failed_trials,
                "tune_new_entries": self.tune_new_entries,
                "allow_new_entries": self.allow_new_entries}

    def attach(self, tuner: OracleOwner) -> None:
        """Answer from ``tuner``: its last search's results, its search space."""
        self._tuner = tuner

    def _results(self) -> Any:
        return getattr(self._tuner, "last_results", None)

    # -- after a search ---------------------------------------------------------------------
    def get_best_trials(self, num_trials: int = 1) -> list[Trial]:
        """The best trials, best first (Keras Tuner's ``Oracle.get_best_trials``)."""
        results = self._results()
        if results is None:
            raise RuntimeError("No results yet: call search() first.")
        return [Trial.from_record(t, results.space, results.objective)
                for t in results.ranked_trials()[:num_trials]]

    @property
    def trials(self) -> dict[str, Trial]:
        """Every trial of the search by id, failed ones included (Keras Tuner's
        ``Oracle.trials``)."""
        results = self._results()
        if results is None:
            return {}
        return {t.trial_id: Trial.from_record(t, results.space, results.objective)
                for t in results.trials}

    def get_space(self) -> Any:
        """A copy of the search space (Keras Tuner's ``Oracle.get_space``): the last
        search's, else the one building the model declares.

        Raises:
            RuntimeError: no tuner has taken this oracle yet.
        """
        if self._tuner is None:
            raise RuntimeError("get_space answers for the tuner this oracle is given to: "
                               "pass it as kt.Tuner(oracle=...) first.")
        return self._tuner.search_space().copy()

    def get_trial(self, trial_id: str) -> Trial:
        results = self._results()
        if results is None:
            raise RuntimeError("No results yet: call search() first.")
        for record in results.trials:
            if record.trial_id == trial_id:
                return Trial.from_record(record, results.space, results.objective)
        raise KeyError(f"No trial {trial_id!r} in {results.path}.")

    # -- inside a trial (custom run_trial) ---------------------------------------------------
    def update_trial(self, trial_id: str, metrics: dict[str, Any], step: int = 0) -> str:
        """Report ``metrics`` for the running trial (inside ``run_trial`` on the worker)."""
        trial_reports = running_trial()
        if trial_reports is None:
            raise RuntimeError("update_trial is called inside run_trial, while a trial runs.")
        trial_reports.update(metrics, step)
        return "RUNNING"


class RandomSearchOracle(Oracle):
    """Random search (raytune_hpt's seeded, conditional-aware ``random`` searcher)."""

    searcher = "random"


class GridSearchOracle(Oracle):
    """Grid search over every active combination (``grid``)."""

    searcher = "grid"


class BayesianOptimizationOracle(Oracle):
    """Gaussian-process Bayesian optimization (raytune_hpt's ``bayesopt``).

    ``num_initial_points`` random trials come first (Keras Tuner's default: 3 per
    hyperparameter; here the searcher's own default when None). ``alpha`` and ``beta`` are
    Keras Tuner's GP noise and UCB exploration weight; bayesopt fits its noise and uses
    expected improvement, so they are noted and not used.
    """

    searcher = "bayesopt"

    def __init__(self, objective: Any = None, max_trials: int = 10,
                 num_initial_points: int | None = None, alpha: float = 1e-4,
                 beta: float = 2.6, seed: int | None = None, hyperparameters: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(objective=objective, max_trials=max_trials, seed=seed,
                         hyperparameters=hyperparameters, **kwargs)
        check_int("num_initial_points", num_initial_points, 1, optional=True)
        check_number("alpha", alpha, minimum=0)
        check_number("beta", beta, minimum=0)
        self.num_initial_points, self.alpha, self.beta = num_initial_points, alpha, beta
        if (alpha, beta) != (1e-4, 2.6):
            logger.info("BayesianOptimization: alpha=%s, beta=%s are Keras Tuner's GP noise "
                        "and UCB weight; raytune_hpt's bayesopt fits its noise and uses "
                        "expected improvement instead.", alpha, beta)

    def tuner_arguments(self) -> dict[str, Any]:
        searcher: Any = "bayesopt"
        if self.num_initial_points is not None:
            searcher = {"type": "bayesopt", "random_initial": self.num_initial_points}
        return {**super().tuner_arguments(), "searcher": searcher}


def hyperband_trials(max_epochs: int, factor: int, iterations: int) -> int:
    """How many trials Keras Tuner's Hyperband runs: the sum over its brackets."""
    s_max = int(math.floor(math.log(max_epochs, factor) + 1e-9))
    per_iteration = sum(int(math.ceil((s_max + 1) / (s + 1) * factor ** s))
                        for s in range(s_max + 1))
    return per_iteration * iterations


class HyperbandOracle(Oracle):
    """Hyperband: random proposals, trials paused and resumed at rungs (``hyperband``).

    As in Keras Tuner, the epochs of each trial are ``max_epochs`` (``search``'s ``epochs``
    is replaced) and the number of trials follows from the brackets.
    """

    def __init__(self, objective: Any = None, max_epochs: int = 100, factor: int = 3,
                 hyperband_iterations: int = 1, seed: int | None = None,
                 hyperparameters: Any = None, **kwargs: Any) -> None:
        super().__init__(objective=objective, max_trials=None, seed=seed,
                         hyperparameters=hyperparameters, **kwargs)
        check_int("max_epochs", max_epochs, 1)
        check_number("factor", factor, above=1)
        check_int("hyperband_iterations", hyperband_iterations, 1)
        self.max_epochs, self.factor = max_epochs, factor
        self.hyperband_iterations = hyperband_iterations

    def tuner_arguments(self) -> dict[str, Any]:
        trials = hyperband_trials(self.max_epochs, int(self.factor), self.hyperband_iterations)
        return {**super().tuner_arguments(), "max_trials": trials,
                "scheduler": {"type": "hyperband", "max_t": self.max_epochs,
                              "reduction_factor": self.factor},
                "epochs": self.max_epochs}
