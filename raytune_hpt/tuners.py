"""Keras Tuner's tuner classes: :class:`~raytune_hpt.Tuner` with one of its oracles.

``kt.RandomSearch``, ``kt.GridSearch``, ``kt.BayesianOptimization`` and ``kt.Hyperband`` take
Keras Tuner's arguments (their oracle's first, the rest as ``Tuner``'s), as
``keras_tuner.tuners`` does; each trial runs on Ray. ``raytune_hpt/keras_tuner/`` translates
the arguments and holds the oracles; this module only pairs each oracle with the Tuner (the
adapter does not import the Tuner).
"""

from __future__ import annotations

from typing import Any

from raytune_hpt.keras_tuner import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    RandomSearchOracle,
    oracle_arguments,
)
from raytune_hpt.tuner import Tuner

__all__ = ["BayesianOptimization", "GridSearch", "Hyperband", "RandomSearch"]


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
                                    **oracle_arguments(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)


class GridSearch(Tuner):
    """Keras Tuner's ``GridSearch``: every active combination, in order, each on Ray."""

    def __init__(self, hypermodel: Any = None, objective: Any = None,
                 max_trials: int | None = None, **kwargs: Any) -> None:
        oracle = GridSearchOracle(objective=objective, max_trials=max_trials or 10**9,
                                  **oracle_arguments(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)


class BayesianOptimization(Tuner):
    """Keras Tuner's ``BayesianOptimization`` (raytune_hpt's ``bayesopt`` searcher)."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10,
                 num_initial_points: int | None = None, alpha: float = 1e-4,
                 beta: float = 2.6, **kwargs: Any) -> None:
        oracle = BayesianOptimizationOracle(objective=objective, max_trials=max_trials,
                                            num_initial_points=num_initial_points,
                                            alpha=alpha, beta=beta, **oracle_arguments(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)


class Hyperband(Tuner):
    """Keras Tuner's ``Hyperband``: trials paused at rungs and the best resumed, on Ray."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_epochs: int = 100,
                 factor: int = 3, hyperband_iterations: int = 1, **kwargs: Any) -> None:
        oracle = HyperbandOracle(objective=objective, max_epochs=max_epochs, factor=factor,
                                 hyperband_iterations=hyperband_iterations,
                                 **oracle_arguments(kwargs))
        super().__init__(hypermodel, oracle=oracle, **kwargs)
