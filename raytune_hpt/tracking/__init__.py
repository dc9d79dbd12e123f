"""Trackers that show the trials to people (driver side): TensorBoard (on by default) and MLflow.

``tracking_callbacks`` turns the Tuner's ``tracking`` option into Ray Tune callbacks that
run in the driver. Trackers are chosen by name from :data:`TRACKERS`; each one's module is
imported only when asked for (MLflow is an optional extra).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from raytune_hpt._lazy import lazy_attributes
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.tracking._console import say
from raytune_hpt.tracking._names import metric_series, run_name

__all__ = [
    "TENSORBOARD_DIR",
    "TRACKERS",
    "ConsoleReporter",
    "RemoteLogs",
    "TensorBoardLogger",
    "TrialTensorBoard",
    "absolute_log_dirs",
    "local_logdir",
    "metric_series",
    "per_trial_callbacks",
    "run_name",
    "say",
    "serve_tensorboard",
    "tensorboard_logdir",
    "tracking_callbacks",
    "validate_tracking",
]

# name -> "module:function(option, space=, objective=, experiment_path=) -> callbacks"
TRACKERS: dict[str, str] = {
    "mlflow": "raytune_hpt.tracking._mlflow:mlflow_callbacks",
    "tensorboard": "raytune_hpt.tracking._tensorboard:tensorboard_callbacks",
}


def _factory(name: str) -> Callable[..., list[Any]]:
    module_name, _, function = TRACKERS[name].partition(":")
    return getattr(importlib.import_module(module_name), function)


def validate_tracking(options: dict[str, Any] | None) -> dict[str, Any]:
    """Check the ``tracking`` option's shape and names; return it with defaults filled in.

    Raises:
        ConfigurationError: not a dict, or an unknown tracker name.
    """
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ConfigurationError(
            f"tracking must be a dict such as {{'tensorboard': True, 'mlflow': URI}}, but got "
            f"{options!r}."
        )
    unknown = sorted(set(options) - set(TRACKERS))
    if unknown:
        raise ConfigurationError(
            f"tracking keys must be among {sorted(TRACKERS)}; got {unknown[0]!r}."
        )
    # The shapes the trackers take, checked here so that a bad value fails before Ray starts
    tensorboard, mlflow = options.get("tensorboard", True), options.get("mlflow")
    if not (isinstance(tensorboard, bool) or (isinstance(tensorboard, str) and tensorboard)):
        raise ConfigurationError("tracking.tensorboard must be true, false or a local folder, "
                                 f"but got {tensorboard!r}.")
    if not (mlflow is None or isinstance(mlflow, (bool, dict))
            or (isinstance(mlflow, str) and mlflow)):
        raise ConfigurationError("tracking.mlflow must be a tracking URI or a dict of options, "
                                 f"but got {mlflow!r}.")
    return {"tensorboard": True, **options}


def tracking_callbacks(options: dict[str, Any] | None, *, space: HyperParameters,
                       objective: Objective, experiment_path: str) -> list[Any]:
    """Ray Tune callbacks for the trackers ``options`` asks for.

    Args:
        options: e.g. ``{"tensorboard": True, "mlflow": "sqlite:///mlflow.db"}``; ``None``
            means TensorBoard only. TensorBoard stays on unless ``"tensorboard": False``.
        space: the search space (every hyperparameter with its domain).
        objective: the search's objective.
        experiment_path: ``<storage_path>/<name>``, a folder or a URI.

    Returns:
        Driver-side Ray Tune callbacks, TensorBoard first.

    Raises:
        ConfigurationError: an unknown tracker name or an option of the wrong type.

    Example:
        >>> tracking_callbacks({"mlflow": "sqlite:///mlflow.db"}, space=space,
        ...                    objective=objective, experiment_path="/tmp/exp")  # doctest: +SKIP
    """
    chosen = validate_tracking(options)
    callbacks: list[Any] = []
    for name in sorted(TRACKERS, key=lambda n: n != "tensorboard"):
        option = chosen.get(name)
        if option is None or option is False:
            continue
        callbacks.extend(_factory(name)(option, space=space, objective=objective,
                                        experiment_path=experiment_path))
    return callbacks


# -- served on demand (they import Keras / TensorBoard) --------------------------------------
_LAZY = {
    "ConsoleReporter": "_live_console",
    "TENSORBOARD_DIR": "_tensorboard",
    "TensorBoardLogger": "_tensorboard",
    "local_logdir": "_tensorboard",
    "TrialTensorBoard": "_keras_callback",
    "absolute_log_dirs": "_user_tensorboard",
    "per_trial_callbacks": "_user_tensorboard",
    "RemoteLogs": "_server",
    "serve_tensorboard": "_server",
    "tensorboard_logdir": "_server",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
