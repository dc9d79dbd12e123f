"""Keras Tuner's tuners (``RandomSearch``, ``GridSearch``, ``BayesianOptimization``,
``Hyperband``) as ``raytune_hpt.Tuner`` with Keras Tuner's constructor arguments."""

from __future__ import annotations

from typing import Any

from raytune_hpt.keras_tuner._oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    RandomSearchOracle,
)
from raytune_hpt.tuner import Tuner

__all__ = ["BayesianOptimization", "GridSearch", "Hyperband", "RandomSearch"]

# Keras Tuner's Oracle arguments, taken by each tuner beside Tuner's own.
_ORACLE_ARGUMENTS = ("objective", "seed", "hyperparameters", "tune_new_entries",
                     "allow_new_entries", "max_retries_per_trial",
                     "max_consecutive_failed_trials")


def _split(kwargs: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Pop the oracle's arguments out of ``kwargs``."""
    return {k: kwargs.pop(k) for k in (*_ORACLE_ARGUMENTS, *extra) if k in kwargs}


class RandomSearch(Tuner):
    """Keras Tuner's ``RandomSearch``, each trial on Ray.

    Example:
        >>> import raytune_hpt as kt
        >>> tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5,
        ...                         executions_per_trial=2, directory="runs",
        ...                         project_name="demo")                  # doctest: +SKIP
        >>> tuner.search(x, y, validation_split=0.2, epochs=10)           # doctest: +SKIP
    """

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10,
                 **kwargs: Any) -> None:
        oracle = RandomSearchOracle(objective=objective, max_trials=max_trials,
                                    **_split(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)


class GridSearch(Tuner):
    """Keras Tuner's ``GridSearch``: every active combination, in order, each on Ray."""

    def __init__(self, hypermodel: Any = None, objective: Any = None,
                 max_trials: int | None = None, **kwargs: Any) -> None:
        oracle = GridSearchOracle(objective=objective, max_trials=max_trials or 10**9,
                                  **_split(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)


class BayesianOptimization(Tuner):
    """Keras Tuner's ``BayesianOptimization`` (raytune_hpt's ``bayesopt`` searcher)."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10,
                 num_initial_points: int | None = None, alpha: float = 1e-4,
                 beta: float = 2.6, **kwargs: Any) -> None:
        oracle = BayesianOptimizationOracle(objective=objective, max_trials=max_trials,
                                            num_initial_points=num_initial_points,
                                            alpha=alpha, beta=beta, **_split(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)


class Hyperband(Tuner):
    """Keras Tuner's ``Hyperband``: trials paused at rungs and the best resumed, on Ray."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_epochs: int = 100,
                 factor: int = 3, hyperband_iterations: int = 1, **kwargs: Any) -> None:
        oracle = HyperbandOracle(objective=objective, max_epochs=max_epochs, factor=factor,
                                 hyperband_iterations=hyperband_iterations, **_split(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)
