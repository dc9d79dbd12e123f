"""MLflow as a second tracker: one MLflow run per trial, grouped under the experiment.

``tracking={"mlflow": "sqlite:///mlflow.db"}`` (or ``{"mlflow": {"tracking_uri": ...,
"experiment_name": ..., "tags": {...}}}``) adds Ray's ``MLflowLoggerCallback``, which
creates the runs, logs each trial's config as parameters and ends the run with FINISHED or
FAILED. This subclass only narrows what is logged per epoch: the Keras metrics at
``step = epoch``, without Ray's bookkeeping (pid, timings, node ids), and names each run
like its TensorBoard run. Needs the ``mlflow`` extra: ``pip install 'raytune-hpt[mlflow]'``.
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback

from raytune_hpt import _ray_compat
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.tracking import metric_series, run_name

__all__ = ["KerasMLflowLogger", "mlflow_callbacks"]

_OPTIONS = ("tracking_uri", "experiment_name", "tags", "registry_uri", "save_artifact")


def _is_metric(key: str, value: Any) -> bool:
    return metric_series(key, value) is not None and math.isfinite(float(value))


class KerasMLflowLogger(MLflowLoggerCallback):
    """Ray's MLflow logger, logging the active hyperparameters and Keras metrics per epoch."""

    def __init__(self, *, space: HyperParameters, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.space = space

    def log_trial_start(self, trial: Any) -> None:
        values = self.space.active_values(trial.config)
        runs = _ray_compat.mlflow_trial_runs(self)
        if trial not in runs:
            tags = {**self.tags, "trial_name": str(trial), "trial_id": trial.trial_id}
            run = self.mlflow_util.start_run(tags=tags,
                                             run_name=run_name(trial.trial_id, values, self.space))
            runs[trial] = run.info.run_id
        if not self.log_params_on_trial_end:
            self.mlflow_util.log_params(run_id=runs[trial], params_to_log=values)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        if trial not in _ray_compat.mlflow_trial_runs(self):
            self.log_trial_start(trial)
        step = int(result.get("epoch") or result.get("training_iteration") or 0)
        metrics = {k: float(v) for k, v in result.items() if _is_metric(k, v)}
        run_id = _ray_compat.mlflow_trial_runs(self)[trial]
        self.mlflow_util.log_metrics(run_id=run_id, metrics_to_log=metrics,
                                     step=step)


def mlflow_callbacks(option: Any, *, space: HyperParameters, objective: Objective,
                     experiment_path: str) -> list[Any]:
    """The ``tracking={"mlflow": ...}`` option: a tracking URI or a dict of options.

    Raises:
        ConfigurationError: an option of the wrong shape.
        ImportError: mlflow is not installed (names the extra).
    """
    if isinstance(option, str) and option:
        options: dict[str, Any] = {"tracking_uri": option}
    elif option is True:
        options = {}  # MLflow's own default (MLFLOW_TRACKING_URI or ./mlruns)
    elif isinstance(option, dict):
        unknown = sorted(set(option) - set(_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"tracking.mlflow keys must be among {list(_OPTIONS)}; got {unknown[0]!r}."
            )
        options = dict(option)
    else:
        raise ConfigurationError(
            f"tracking.mlflow must be a tracking URI or a dict of {list(_OPTIONS)}, but got "
            f"{option!r}."
        )
    options.setdefault("experiment_name", os.path.basename(experiment_path.rstrip("/")))
    tags = {"raytune_hpt.experiment_path": experiment_path,
            "raytune_hpt.objective": f"{objective.name} ({objective.direction})",
            **(options.pop("tags", None) or {})}
    if importlib.util.find_spec("mlflow") is None:
        raise ImportError("tracking with MLflow needs mlflow: pip install 'raytune-hpt[mlflow]'")
    return [KerasMLflowLogger(space=space, tags=tags, **options)]
