"""Keras Tuner's constructor arguments, translated once into raytune_hpt's (driver side).

``Tuner(..., **options)`` takes Keras Tuner's names beside its own; :func:`translate` checks
them and says what each becomes. Arguments that have no meaning on Ray are accepted with a
one-line note of what happens instead.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt._checks import check_int
from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["KERAS_TUNER_OPTIONS", "KerasTunerOptions", "fix_new_entries", "translate"]

logger = logging.getLogger(__name__)

KERAS_TUNER_OPTIONS = (
    "allow_new_entries", "directory", "distribution_strategy", "logger", "loss",
    "max_model_size", "max_retries_per_trial", "metrics", "optimizer", "oracle",
    "project_name", "tune_new_entries", "tuner_id",
)


@dataclass
class KerasTunerOptions:
    """What Keras Tuner's arguments ask of each trial, beyond raytune_hpt's own."""

    compile_overrides: dict[str, Any] = field(default_factory=dict)
    max_model_size: int | None = None
    tune_new_entries: bool = True
    allow_new_entries: bool = True
    epochs: int | None = None  # Hyperband fixes every trial's epochs (max_epochs)
    oracle: Any = None


def translate(arguments: dict[str, Any], options: dict[str, Any]) -> KerasTunerOptions:
    """Fold Keras Tuner's ``options`` into raytune_hpt's ``arguments`` (changed in place).

    Raises:
        TypeError: an argument neither raytune_hpt nor Keras Tuner knows.
    """
    unknown = sorted(set(options) - set(KERAS_TUNER_OPTIONS))
    if unknown:
        raise TypeError(f"Tuner got unknown arguments {unknown}; besides its own it takes "
                        f"Keras Tuner's {list(KERAS_TUNER_OPTIONS)}.")
    result = KerasTunerOptions()
    if options.get("oracle") is not None:
        _from_oracle(arguments, options["oracle"], result)
    _storage(arguments, options)
    if "max_retries_per_trial" in options:
        check_int("max_retries_per_trial", options["max_retries_per_trial"], 0)
        arguments["max_failures"] = options["max_retries_per_trial"]
    result.compile_overrides = {k: options[k] for k in ("optimizer", "loss", "metrics")
                                if options.get(k) is not None}
    check_int("max_model_size", options.get("max_model_size"), 1, optional=True)
    result.max_model_size = options.get("max_model_size")
    result.tune_new_entries = bool(options.get("tune_new_entries", result.tune_new_entries))
    result.allow_new_entries = bool(options.get("allow_new_entries", result.allow_new_entries))
    if options.get("distribution_strategy") is not None:
        _strategy(arguments, options["distribution_strategy"])
    for name in ("tuner_id", "logger"):
        if options.get(name) is not None:
            logger.info("%s=%r has no meaning on Ray and is ignored: trials are Ray Tune "
                        "trials, logged to the experiment folder and TensorBoard.",
                        name, options[name])
    return result


def _from_oracle(arguments: dict[str, Any], oracle: Any, result: KerasTunerOptions) -> None:
    from raytune_hpt.keras_tuner._oracles import Oracle

    if not isinstance(oracle, Oracle):
        raise TypeError("oracle must be one of raytune_hpt.oracles (RandomSearch, GridSearch, "
                        f"BayesianOptimization, Hyperband), but got {oracle!r}.")
    translated = oracle.tuner_arguments()
    result.epochs = translated.pop("epochs", None)
    result.tune_new_entries = translated.pop("tune_new_entries")
    result.allow_new_entries = translated.pop("allow_new_entries")
    if translated["objective"] is None:
        translated["objective"] = arguments.get("objective")
    arguments.update(translated)
    result.oracle = oracle


def _storage(arguments: dict[str, Any], options: dict[str, Any]) -> None:
    """Keras Tuner's ``directory``/``project_name`` are the storage path and the name.

    Keras Tuner code (its tuner classes pass an ``oracle``) keeps Keras Tuner's defaults,
    ``./untitled_project``, unless ``storage_path`` is given; so a script run twice finds
    its project again. ``Tuner`` alone keeps Ray's ``~/ray_results/<timestamped name>``.
    """
    directory = options.get("directory")
    if directory is None and options.get("oracle") is not None \
            and arguments.get("storage_path") is None:
        directory = "."
    if directory is not None:
        directory = os.fspath(directory)
        arguments["storage_path"] = directory if "://" in directory else \
            os.path.abspath(directory)
    if options.get("project_name") is not None:
        arguments["name"] = options["project_name"]
    elif directory is not None and arguments.get("name") is None:
        arguments["name"] = "untitled_project"  # Keras Tuner's default


def _strategy(arguments: dict[str, Any], strategy: Any) -> None:
    """A ``MirroredStrategy`` over N devices: each trial gets N GPUs and mirrors over them."""
    replicas = int(getattr(strategy, "num_replicas_in_sync", 1) or 1)
    devices = getattr(getattr(strategy, "extended", None), "worker_devices", ()) or ()
    gpus = sum(1 for d in devices if "GPU" in str(d).upper())
    resources = dict(arguments.get("resources") or {})
    if gpus:
        resources["gpu"] = gpus
        logger.info("distribution_strategy over %d GPU(s): each trial asks Ray for %d GPU(s) "
                    "and trains under a MirroredStrategy over them.", gpus, gpus)
    else:
        logger.info("distribution_strategy with %d replica(s) and no GPU: trials run on "
                    "their CPUs, as Ray places them.", replicas)
    arguments["resources"] = resources or None


def fix_new_entries(space: HyperParameters, declared: HyperParameters | None) -> HyperParameters:
    """Keras Tuner's ``tune_new_entries=False``: what was not declared up front keeps its
    default (a ``Fixed`` hyperparameter)."""
    fixed = declared.copy() if declared is not None else HyperParameters()
    known = {hp.name for hp in fixed.space}
    for hp in space.space:
        if hp.name not in known:
            fixed.Fixed(hp.name, hp.default)
    return fixed.declared_up_front()  # the model's own declarations must not undo these
