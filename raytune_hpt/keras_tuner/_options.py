"""Keras Tuner's constructor arguments, translated once into raytune_hpt's settings (driver side).

``Tuner(..., **options)`` takes Keras Tuner's names beside its own; :func:`translate` checks
them and says what each becomes, in the names of :class:`~raytune_hpt.settings.Settings`.
Arguments that have no meaning on Ray are accepted with a one-line note of what happens
instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from raytune_hpt._checks import check_int
from raytune_hpt.keras_tuner._convert import as_hyperparameters
from raytune_hpt.keras_tuner._oracles import Oracle, check_runs_here

__all__ = ["KERAS_TUNER_OPTIONS", "translate"]

logger = logging.getLogger(__name__)

KERAS_TUNER_OPTIONS = (
    "allow_new_entries", "directory", "distribution_strategy", "logger", "loss",
    "max_model_size", "max_retries_per_trial", "metrics", "optimizer", "oracle",
    "project_name", "tune_new_entries", "tuner_id",
)


def translate(arguments: Mapping[str, Any],
              options: Mapping[str, Any]) -> tuple[dict[str, Any], Oracle | None]:
    """raytune_hpt's ``arguments`` with Keras Tuner's ``options`` folded in (a new dict, in
    the names of ``Settings``), and the oracle among the options (None when none is given).

    Raises:
        TypeError: an argument neither raytune_hpt nor Keras Tuner knows, or an ``oracle``
            that is not one of ``raytune_hpt.oracles``.
    """
    unknown = sorted(set(options) - set(KERAS_TUNER_OPTIONS))
    if unknown:
        raise TypeError(f"Tuner got unknown arguments {unknown}; besides its own it takes "
                        f"Keras Tuner's {list(KERAS_TUNER_OPTIONS)}.")
    merged = dict(arguments)
    oracle = options.get("oracle")
    entries = {"tune_new_entries": True, "allow_new_entries": True}
    if oracle is not None:
        entries = _from_oracle(merged, oracle)
    merged["hyperparameters"] = as_hyperparameters(merged.get("hyperparameters"))
    _storage(merged, options)
    if "max_retries_per_trial" in options:
        check_int("max_retries_per_trial", options["max_retries_per_trial"], 0)
        merged["max_failures"] = options["max_retries_per_trial"]
    merged["compile_overrides"] = {k: options[k] for k in ("optimizer", "loss", "metrics")
                                   if options.get(k) is not None}
    merged["max_model_size"] = options.get("max_model_size")
    # As Keras Tuner: a hyperparameter the model declares beyond `hyperparameters` is tuned
    # only when both allow it; otherwise it keeps its default.
    merged["tune_new_entries"] = all(bool(options.get(name, entries[name])) for name in entries)
    if options.get("distribution_strategy") is not None:
        _strategy(merged, options["distribution_strategy"])
    for name in ("tuner_id", "logger"):
        if options.get(name) is not None:
            logger.info("%s=%r has no meaning on Ray and is ignored: trials are Ray Tune "
                        "trials, logged to the experiment folder and TensorBoard.",
                        name, options[name])
    return merged, oracle


def _from_oracle(arguments: dict[str, Any], oracle: Any) -> dict[str, bool]:
    """Fold the oracle's arguments in; its ``tune_new_entries``/``allow_new_entries``."""
    if not isinstance(oracle, Oracle):
        raise TypeError("oracle must be one of raytune_hpt.oracles (RandomSearch, GridSearch, "
                        f"BayesianOptimization, Hyperband), but got {oracle!r}.")
    check_runs_here(oracle)
    translated = oracle.tuner_arguments()
    entries = {name: translated.pop(name) for name in ("tune_new_entries", "allow_new_entries")}
    if translated["objective"] is None:
        translated["objective"] = arguments.get("objective")
    arguments.update(translated)
    return entries


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
    asked = arguments.get("resources")
    resources = dict(asked) if isinstance(asked, Mapping) else {}  # None/"auto": none asked
    if gpus:
        resources["gpu"] = gpus
        logger.info("distribution_strategy over %d GPU(s): each trial asks Ray for %d GPU(s) "
                    "and trains under a MirroredStrategy over them.", gpus, gpus)
    else:
        logger.info("distribution_strategy with %d replica(s) and no GPU: trials run on "
                    "their CPUs, as Ray places them.", replicas)
    arguments["resources"] = resources or None
