"""Every trial in TensorBoard while it runs: scalars and the HParams dashboard.

:class:`TensorBoardLogger` is a Ray Tune ``LoggerCallback`` that runs in the driver and writes
TensorBoard event files with TensorBoard's own protobuf writers (no TensorFlow summary ops)::

    <experiment_path>/tensorboard/
        events...hparams              the HParams experiment: every hyperparameter, every metric
        <trial_id>_<main hps>/        one run per trial: the HParams session (start at trial
                                      start, end with its status), and the ``epochs`` scalar
            train/                    epoch_loss, epoch_accuracy, ...   (step = epoch, 1-based)
            validation/               epoch_loss, epoch_accuracy, ...   (from val_loss, ...)
            keras/                    optional: TrialTensorBoard's histograms, graph, profile

Training and validation series share tags, as with Keras's own ``TensorBoard`` callback, so
one chart shows both. Every write is flushed at once, so a running trial is visible after
its first epoch. :class:`TrialTensorBoard` passes Keras's TensorBoard options (histograms,
profiling) through to each trial. See ``docs/tensorboard.md`` for the design.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import numbers
import os
import re
import time
from typing import Any

import keras
from ray.tune.logger import LoggerCallback

from raytune_hpt import storage
from raytune_hpt.hyperparameters import Fixed, HyperParameter, HyperParameters, _Numeric
from raytune_hpt.objective import Objective

__all__ = [
    "TENSORBOARD_DIR",
    "TensorBoardLogger",
    "TrialTensorBoard",
    "local_logdir",
    "metric_series",
    "run_name",
    "serve_tensorboard",
    "tensorboard_callbacks",
    "tensorboard_logdir",
]

logger = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"
EPOCHS_TAG = "epochs"  # scalar in each session run: epochs done (shows early stopping)

# Report fields that are not metrics: Ray's bookkeeping and where the trial ran.
_NOT_METRICS = {
    "epoch", "pid", "node_id", "gpu_ids", "done", "trial_id", "date", "timestamp", "hostname",
    "node_ip", "time_this_iter_s", "time_total_s", "time_since_restore", "training_iteration",
    "iterations_since_restore", "timesteps_total", "timesteps_since_restore", "episodes_total",
    "checkpoint_dir_name", "should_checkpoint", "experiment_tag", "config", "warmup_time",
}
_NOT_METRIC_PREFIXES = ("config/", "tf_")
_FOLD = re.compile(r"^(fold\d+)/(.+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]+")


def local_logdir(experiment_path: str) -> str:
    """Where the event files are written: ``<experiment_path>/tensorboard`` on a local disk.

    TensorBoard's writers need a local file system; for an ``s3://``/``gs://`` experiment they
    go to ``~/ray_results/tensorboard/<scheme>/<bucket>/<prefix>`` and are uploaded to
    ``<experiment_path>/tensorboard`` when the search ends.
    """
    if not storage.is_uri(experiment_path):
        return os.path.join(storage.normalize(experiment_path), TENSORBOARD_DIR)
    scheme, _, rest = experiment_path.partition("://")
    return os.path.join(os.path.expanduser("~"), "ray_results", TENSORBOARD_DIR, scheme,
                        *[part for part in rest.split("/") if part])


def metric_series(key: str, value: Any) -> tuple[str, str] | None:
    """``(group, tag)`` for a reported metric, as Keras's TensorBoard callback names it.

    ``loss`` -> ``("train", "epoch_loss")``, ``val_loss`` -> ``("validation", "epoch_loss")``,
    ``fold0/val_loss`` -> ``("validation", "fold0/epoch_loss")``; ``None`` for bookkeeping
    and non-numbers.
    """
    if key in _NOT_METRICS or key.startswith(_NOT_METRIC_PREFIXES):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    prefix, name = "", key
    fold = _FOLD.match(key)
    if fold:
        prefix, name = fold.group(1) + "/", fold.group(2)
    if name.startswith("val_"):
        return "validation", f"{prefix}epoch_{name[4:]}"
    return "train", f"{prefix}epoch_{name}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)[:16]


def run_name(trial_id: str, values: dict[str, Any], space: HyperParameters,
             max_hps: int = 4) -> str:
    """A readable run name: the trial id, then the first hyperparameters that vary."""
    varying = [hp.name for hp in space.space if not isinstance(hp, Fixed)]
    parts = [f"{name}={_short(values[name])}" for name in varying if name in values][:max_hps]
    name = "_".join([trial_id, ",".join(parts)]) if parts else trial_id
    return _UNSAFE.sub("-", name)[:120]


# -- HParams protos ---------------------------------------------------------------------
def _hparam_info(hp: HyperParameter) -> Any:
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import api_pb2

    info = api_pb2.HParamInfo(name=hp.name, description=repr(hp))
    if isinstance(hp, _Numeric):
        info.type = api_pb2.DATA_TYPE_FLOAT64
        info.domain_interval.min_value = float(hp.min_value)
        info.domain_interval.max_value = float(hp.max_value)
        return info
    values = hp.values_list() or []
    if all(isinstance(v, bool) for v in values):
        info.type = api_pb2.DATA_TYPE_BOOL
    elif all(isinstance(v, numbers.Real) for v in values):
        info.type = api_pb2.DATA_TYPE_FLOAT64
    else:
        info.type = api_pb2.DATA_TYPE_STRING
    listed = struct_pb2.ListValue()
    for value in values:
        listed.values.append(_proto_value(value))
    info.domain_discrete.CopyFrom(listed)
    return info


def _proto_value(value: Any) -> Any:
    from google.protobuf import struct_pb2

    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, numbers.Real):
        return struct_pb2.Value(number_value=float(value))
    return struct_pb2.Value(string_value=str(value))


def _plain(value: Any) -> Any:
    """A Python bool/float/str for a session's hyperparameter value (no numpy types)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _hparams_summary(tag: str, plugin_data: Any) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(plugin_data),
                      tensor=metadata.NULL_TENSOR)
    return summary


def experiment_summary(space: HyperParameters, metrics: list[tuple[str, str, str]],
                       description: str = "") -> Any:
    """The HParams experiment: every hyperparameter with its domain; ``metrics`` are
    ``(group, tag, display name)``."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    experiment = api_pb2.Experiment(
        description=description, time_created_secs=time.time(),
        hparam_infos=[_hparam_info(hp) for hp in space.space],
        metric_infos=[
            api_pb2.MetricInfo(
                name=api_pb2.MetricName(group=group, tag=tag), display_name=display,
                dataset_type=(api_pb2.DATASET_VALIDATION if group == "validation"
                              else api_pb2.DATASET_TRAINING if group == "train"
                              else api_pb2.DATASET_UNKNOWN))
            for group, tag, display in metrics
        ],
    )
    return _hparams_summary(metadata.EXPERIMENT_TAG,
                            plugin_data_pb2.HParamsPluginData(experiment=experiment))


def session_start_summary(values: dict[str, Any], group_name: str, start_time: float) -> Any:
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(group_name=group_name, start_time_secs=start_time)
    for name, value in values.items():
        info.hparams[name].CopyFrom(_proto_value(_plain(value)))
    return _hparams_summary(metadata.SESSION_START_INFO_TAG,
                            plugin_data_pb2.HParamsPluginData(session_start_info=info))


def session_end_summary(status: int, end_time: float) -> Any:
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=end_time)
    return _hparams_summary(metadata.SESSION_END_INFO_TAG,
                            plugin_data_pb2.HParamsPluginData(session_end_info=info))


# -- writing ------------------------------------------------------------------------------
class _Writer:
    """One event file; every ``write`` is flushed at once (TensorBoard shows it live)."""

    def __init__(self, logdir: str, suffix: str = "") -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._writer = EventFileWriter(logdir, filename_suffix=suffix)

    def write(self, summary: Any, step: int = 0) -> None:
        from tensorboard.compat.proto import event_pb2

        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class _TrialRun:
    """The writers of one trial's run."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.session = _Writer(path)
        self.groups: dict[str, _Writer] = {}
        self.epoch = 0

    def group(self, name: str) -> _Writer:
        if name not in self.groups:
            self.groups[name] = _Writer(os.path.join(self.path, name))
        return self.groups[name]

    def close(self) -> None:
        for writer in (self.session, *self.groups.values()):
            writer.close()


class TensorBoardLogger(LoggerCallback):
    """Writes every trial's learning curves and the HParams dashboard's data (driver side).

    Args:
        logdir: the TensorBoard folder (see :func:`local_logdir`).
        space: the search space; the HParams experiment lists all of it.
        objective: shown in the experiment's description.
        experiment_path: the experiment folder; read for the epoch budget (to tell
            "stopped early" from "finished") and, for a URI, where the logs are uploaded.

    Example:
        >>> TensorBoardLogger("/tmp/exp/tensorboard", space, Objective("val_loss"),
        ...                   "/tmp/exp")                                   # doctest: +SKIP
    """

    def __init__(self, logdir: str, space: HyperParameters, objective: Objective,
                 experiment_path: str) -> None:
        self.logdir = logdir
        self.space = space
        self.objective = objective
        self.experiment_path = experiment_path
        self._reset()

    def _reset(self) -> None:
        self._runs: dict[str, _TrialRun] = {}
        self._experiment_written = False
        self._max_epochs: int | None = None

    def __getstate__(self) -> dict:
        # Ray pickles the run config into the experiment; open files stay in this process.
        state = dict(self.__dict__)
        for key in ("_runs", "_experiment_written", "_max_epochs"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    # -- Ray Tune hooks ----------------------------------------------------------------
    def setup(self, *args: Any, **kwargs: Any) -> None:
        os.makedirs(self.logdir, exist_ok=True)
        # A resumed experiment keeps the experiment config written by the first driver.
        self._experiment_written = bool(glob.glob(os.path.join(self.logdir, "*.hparams")))
        logger.info("TensorBoard logs in %s", self.logdir)

    def log_trial_start(self, trial: Any) -> None:
        if trial.trial_id in self._runs:  # resumed after a pause: the session goes on
            return
        values = self.space.active_values(trial.config)
        name = run_name(trial.trial_id, values, self.space)
        run = _TrialRun(os.path.join(self.logdir, name))
        run.session.write(session_start_summary(values, group_name=name, start_time=time.time()))
        self._runs[trial.trial_id] = run

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        if trial.trial_id not in self._runs:
            self.log_trial_start(trial)
        run = self._runs[trial.trial_id]
        step = int(result.get("epoch") or result.get("training_iteration") or 0)
        series: dict[str, dict[str, float]] = {}
        for key, value in result.items():
            where = metric_series(key, value)
            if where is not None and math.isfinite(float(value)):
                series.setdefault(where[0], {})[where[1]] = float(value)
        if not self._experiment_written:
            self._write_experiment(result)
        for group, scalars in series.items():
            writer = run.group(group)
            for tag, value in scalars.items():
                writer.write(scalar_pb(tag, value), step=step)
        run.epoch = step
        run.session.write(scalar_pb(EPOCHS_TAG, step), step=step)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.text.summary_v2 import text_pb

        run = self._runs.pop(trial.trial_id, None)
        if run is None:
            return
        budget = self._epoch_budget()
        if failed:
            status, text = api_pb2.STATUS_FAILURE, "failed"
            error = getattr(trial, "error_file", None)
            if error:
                text += f" (see {error})"
        elif budget is not None and run.epoch < budget:
            status, text = api_pb2.STATUS_SUCCESS, f"stopped early at epoch {run.epoch} of {budget}"
        else:
            status, text = api_pb2.STATUS_SUCCESS, f"finished: {run.epoch} epochs"
        run.session.write(text_pb("status", text), step=run.epoch)
        run.session.write(session_end_summary(status, time.time()), step=run.epoch)
        run.close()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for run in self._runs.values():
            run.close()  # interrupted trials keep a session without an end
        self._runs.clear()
        if storage.is_uri(self.experiment_path):
            self._upload()

    # -- helpers ---------------------------------------------------------------------
    def _write_experiment(self, result: dict) -> None:
        metrics = [(group, tag, key) for key, value in result.items()
                   if not _FOLD.match(key) and (where := metric_series(key, value)) is not None
                   for group, tag in [where]]
        metrics.sort(key=lambda m: (m[2] != self.objective.name, m[0], m[1]))
        metrics.append(("", EPOCHS_TAG, "epochs run"))
        description = (f"raytune_hpt experiment `{self.experiment_path}`; objective "
                       f"`{self.objective.name}` ({self.objective.direction}).")
        writer = _Writer(self.logdir, suffix=".hparams")
        writer.write(experiment_summary(self.space, metrics, description))
        writer.close()
        self._experiment_written = True

    def _epoch_budget(self) -> int | None:
        if self._max_epochs is None:
            from raytune_hpt.results import METADATA_FILE

            try:
                text = storage.read_text(storage.join(self.experiment_path, METADATA_FILE))
                self._max_epochs = int(json.loads(text)["epochs"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return self._max_epochs

    def _upload(self) -> None:
        import pyarrow.fs

        fs, inner = storage.filesystem(storage.join(self.experiment_path, TENSORBOARD_DIR))
        try:
            pyarrow.fs.copy_files(self.logdir, inner, destination_filesystem=fs)
        except Exception as error:  # the search's results matter more than the copy
            logger.warning("Could not upload the TensorBoard logs from %s to %s: %s",
                           self.logdir, self.experiment_path, error)


# -- Keras's own callback, per trial ----------------------------------------------------
class TrialTensorBoard(keras.callbacks.TensorBoard):
    """Keras's ``TensorBoard`` callback for a trial: histograms, graph, profiling.

    Put it in ``search(..., callbacks=[TrialTensorBoard(histogram_freq=1)])``; it takes
    Keras's arguments except ``log_dir``, which is found on the worker: the trial's run
    folder (``<experiment>/tensorboard/<run>/keras``) when the experiment is on a disk the
    worker sees, else the trial's own folder. Epoch scalars are left to
    :class:`TensorBoardLogger` (no duplicates); histograms use the same 1-based epochs.
    """

    def __init__(self, **kwargs: Any) -> None:
        if "log_dir" in kwargs:
            raise ValueError(
                "TrialTensorBoard finds each trial's log_dir itself; do not pass log_dir."
            )
        super().__init__(log_dir="", **kwargs)

    def set_model(self, model: Any) -> None:
        self.log_dir = _trial_keras_dir()
        super().set_model(model)

    def _log_epoch_metrics(self, epoch: int, logs: Any) -> None:
        pass  # the driver's TensorBoardLogger writes every epoch's metrics

    def _log_weights(self, epoch: int) -> None:
        super()._log_weights(epoch + 1)

    def on_test_end(self, logs: Any = None) -> None:
        # Keras would log the validation metrics again, per optimizer step.
        self._pop_writer()


def _trial_keras_dir() -> str:
    from ray import tune

    context = tune.get_context()
    trial_id = context.get_trial_id()
    experiment_path = None
    try:
        storage_context = context.get_storage()
        if type(storage_context.storage_filesystem).__name__ == "LocalFileSystem":
            experiment_path = storage_context.experiment_fs_path
    except Exception:  # outside Tune, or a storage layout this version does not expose
        experiment_path = None
    if experiment_path and os.path.isdir(experiment_path):
        root = os.path.join(experiment_path, TENSORBOARD_DIR)
        runs = sorted(glob.glob(os.path.join(glob.escape(root), f"{trial_id}_*")))
        run = runs[0] if runs else os.path.join(root, trial_id)  # the name without hps
        return os.path.join(run, "keras")
    return os.path.join(context.get_trial_dir(), TENSORBOARD_DIR)


def tensorboard_callbacks(option: Any, *, space: HyperParameters, objective: Objective,
                          experiment_path: str) -> list[Any]:
    """The ``tracking={"tensorboard": ...}`` option: ``True``, or a local folder for the logs."""
    if option is True:
        logdir = local_logdir(experiment_path)
    elif isinstance(option, str) and option and not storage.is_uri(option):
        logdir = storage.normalize(option)
    else:
        from raytune_hpt.errors import ConfigurationError

        raise ConfigurationError(
            "tracking.tensorboard must be true, false or a local folder, but got "
            f"{option!r}."
        )
    return [TensorBoardLogger(logdir, space, objective, experiment_path)]


# -- serving ----------------------------------------------------------------------------
def tensorboard_logdir(directory: str) -> str:
    """The local folder to serve for ``directory``.

    An experiment folder (it has ``tensorboard/`` or ``raytune_hpt.json``) gives its
    ``tensorboard/`` folder; any other folder is served whole (several experiments side by
    side). For an ``s3://``/``gs://`` experiment, the local copy this machine's driver
    writes is served if present, else a snapshot is downloaded into it.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
    """
    from raytune_hpt.results import METADATA_FILE

    if storage.is_uri(directory):
        directory = storage.normalize(directory)
        local = local_logdir(directory)
        if not os.path.isdir(local):
            import pyarrow.fs

            remote = storage.join(directory, TENSORBOARD_DIR)
            if not storage.exists(remote):
                raise FileNotFoundError(f"no TensorBoard logs at {remote}")
            fs, inner = storage.filesystem(remote)
            os.makedirs(local, exist_ok=True)
            pyarrow.fs.copy_files(inner, local, source_filesystem=fs)
        return local
    directory = storage.normalize(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a folder")
    logdir = os.path.join(directory, TENSORBOARD_DIR)
    if os.path.isdir(logdir) or os.path.exists(os.path.join(directory, METADATA_FILE)):
        os.makedirs(logdir, exist_ok=True)  # a search just starting: its logs come soon
        return logdir
    return directory


def serve_tensorboard(logdir: str, *, port: int | None = None, host: str = "127.0.0.1") -> str:
    """Start TensorBoard on ``logdir`` in a background thread; returns its URL."""
    from tensorboard import program

    board = program.TensorBoard()
    options: dict[str, Any] = {"logdir": logdir, "host": host, "reload_interval": 5.0}
    if port is not None:
        options["port"] = port
    board.configure(**options)
    return board.launch()
