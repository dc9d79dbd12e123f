"""The Keras Tuner drop-in (driver side): ``import raytune_hpt as kt`` runs Keras Tuner code on Ray.

``_tuners.py`` (RandomSearch, GridSearch, BayesianOptimization, Hyperband), ``_oracles.py``
(Keras Tuner's oracles as searcher/scheduler choices), ``_options.py`` (Keras Tuner's
constructor arguments translated once), ``_methods.py`` (its Tuner methods and run_trial
hooks), ``_trial.py`` (its Trial) and ``_convert.py`` (its HyperParameters taken as ours).
"""

from __future__ import annotations

from raytune_hpt._lazy import lazy_attributes
from raytune_hpt.keras_tuner._convert import as_hyperparameters
from raytune_hpt.keras_tuner._methods import KerasTunerMethods
from raytune_hpt.keras_tuner._options import (
    KERAS_TUNER_OPTIONS,
    KerasTunerOptions,
    fix_new_entries,
    translate,
)
from raytune_hpt.keras_tuner._oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    Oracle,
    RandomSearchOracle,
)
from raytune_hpt.keras_tuner._trial import Trial

__all__ = [
    "KERAS_TUNER_OPTIONS",
    "BayesianOptimization",
    "BayesianOptimizationOracle",
    "GridSearch",
    "GridSearchOracle",
    "Hyperband",
    "HyperbandOracle",
    "KerasTunerMethods",
    "KerasTunerOptions",
    "Oracle",
    "RandomSearch",
    "RandomSearchOracle",
    "Trial",
    "as_hyperparameters",
    "fix_new_entries",
    "translate",
]


# The tuners import raytune_hpt.tuner, which imports this package: loaded on first use.
__getattr__ = lazy_attributes(__name__, dict.fromkeys(
    ("BayesianOptimization", "GridSearch", "Hyperband", "RandomSearch"), "_tuners"))
