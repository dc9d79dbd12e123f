"""The Keras Tuner drop-in (driver side): Keras Tuner's arguments become raytune_hpt's settings.

``_options.py`` (Keras Tuner's constructor arguments translated once, in the names of
``Settings``), ``_oracles.py`` (Keras Tuner's oracles as searcher/scheduler choices),
``_trial.py`` (its Trial), ``_convert.py`` (its HyperParameters taken as ours) and
``_tuner_methods.py`` (its Tuner hooks and project paths, which ``Tuner`` inherits). The tuner
classes ``kt.RandomSearch``, ``kt.GridSearch``, ``kt.BayesianOptimization`` and
``kt.Hyperband`` are :class:`raytune_hpt.Tuner` with an oracle (``raytune_hpt/tuners.py``);
nothing here imports the Tuner or the driver.
"""

from __future__ import annotations

from raytune_hpt.keras_tuner._convert import as_hyperparameters
from raytune_hpt.keras_tuner._options import KERAS_TUNER_OPTIONS, translate
from raytune_hpt.keras_tuner._oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    Oracle,
    RandomSearchOracle,
    hyperband_trials,
    oracle_arguments,
)
from raytune_hpt.keras_tuner._trial import Trial
from raytune_hpt.keras_tuner._tuner_methods import TRIAL_HOOKS, KerasTunerMethods

__all__ = [
    "KERAS_TUNER_OPTIONS",
    "TRIAL_HOOKS",
    "BayesianOptimizationOracle",
    "GridSearchOracle",
    "HyperbandOracle",
    "KerasTunerMethods",
    "Oracle",
    "RandomSearchOracle",
    "Trial",
    "as_hyperparameters",
    "hyperband_trials",
    "oracle_arguments",
    "translate",
]
