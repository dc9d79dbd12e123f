"""Keras Tuner's ``kt.oracles`` names: pass one as ``Tuner(oracle=...)`` to pick the search.

Example:
    >>> import raytune_hpt as kt
    >>> oracle = kt.oracles.BayesianOptimizationOracle(
    ...     objective=kt.Objective("loss", "min"), max_trials=2)
    >>> oracle.tuner_arguments()["searcher"]
    'bayesopt'
"""

from __future__ import annotations

from raytune_hpt.keras_tuner import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    Oracle,
    RandomSearchOracle,
)

# Keras Tuner's short names (kt.oracles.BayesianOptimization, ...)
RandomSearch = RandomSearchOracle
GridSearch = GridSearchOracle
BayesianOptimization = BayesianOptimizationOracle
Hyperband = HyperbandOracle

# Each search's oracle under its two names.
__all__ = ["BayesianOptimization", "BayesianOptimizationOracle", "GridSearch", "GridSearchOracle",
           "Hyperband", "HyperbandOracle", "Oracle", "RandomSearch", "RandomSearchOracle"]
