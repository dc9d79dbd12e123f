"""raytune_hpt: Keras Tuner-style hyperparameter search for Keras models on Ray Tune.

Importing the package is cheap: TensorFlow and Ray are imported when a search runs.
Keras Tuner code runs with one import changed: ``import raytune_hpt as kt`` gives
``kt.RandomSearch``, ``kt.GridSearch``, ``kt.BayesianOptimization``, ``kt.Hyperband``,
``kt.oracles`` and ``kt.errors`` with Keras Tuner's arguments, every trial on Ray.

Example:
    >>> import raytune_hpt as rth
    >>> tuner = rth.Tuner(build_model, objective="val_accuracy", searcher="bayesopt",
    ...                   scheduler="asha", max_trials=20)                 # doctest: +SKIP
    >>> tuner.search(x, y, validation_data=(xv, yv), epochs=10)          # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "BayesianOptimization",
    "ConfigurationError",
    "ExperimentResults",
    "GridSearch",
    "HyperModel",
    "HyperParameters",
    "Hyperband",
    "Objective",
    "Pareto",
    "RandomSearch",
    "TrialFailedError",
    "Tuner",
    "__version__",
    "errors",
    "load_results",
    "oracles",
]

# name -> module; imported on first use so `import raytune_hpt` stays fast.
_LAZY = {
    "ConfigurationError": "raytune_hpt.errors",
    "ExperimentResults": "raytune_hpt.results",
    "HyperModel": "raytune_hpt.hypermodel",
    "HyperParameters": "raytune_hpt.hyperparameters",
    "Objective": "raytune_hpt.objective",
    "Pareto": "raytune_hpt.objective",
    "TrialFailedError": "raytune_hpt.errors",
    "Tuner": "raytune_hpt.tuner",
    # Keras Tuner's names: `import raytune_hpt as kt` runs Keras Tuner code on Ray
    "BayesianOptimization": "raytune_hpt.tuners",
    "GridSearch": "raytune_hpt.tuners",
    "Hyperband": "raytune_hpt.tuners",
    "RandomSearch": "raytune_hpt.tuners",
}
_MODULES = {"errors": "raytune_hpt.errors", "oracles": "raytune_hpt.oracles"}


def __getattr__(name: str) -> Any:
    if name == "load_results":
        return import_module("raytune_hpt.results").load
    if name in _MODULES:
        return import_module(_MODULES[name])
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'raytune_hpt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
