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
its first epoch. ``TrialTensorBoard`` (``_keras_callback.py``) passes Keras's TensorBoard
options (histograms, profiling) through to each trial. See ``docs/tensorboard.md`` for the design.
"""

from __future__ import annotations

import glob
import itertools
import json
import logging
import math
import os
import socket
import threading
import time
from typing import Any

from ray.tune.logger import LoggerCallback

from raytune_hpt import storage
from raytune_hpt._record import METADATA_FILE
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.tracking._hparams import (
    experiment_summary,
    session_end_summary,
    session_start_summary,
)
from raytune_hpt.tracking._names import FOLD, metric_series, run_name

__all__ = ["TENSORBOARD_DIR", "TensorBoardLogger", "local_logdir", "tensorboard_callbacks"]

logger = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"
#: For an ``s3://``/``gs://`` experiment, the files that changed are uploaded this often
#: while the search runs (in a background thread of the driver), so that
#: ``raytune-hpt tensorboard URI`` elsewhere shows the running trials.
UPLOAD_S = 20.0
EPOCHS_TAG = "epochs"  # scalar in each session run: epochs done (shows early stopping)

# Report fields that are not metrics: Ray's bookkeeping and where the trial ran.

def local_logdir(experiment_path: str) -> str:
    """Where the event files are written: ``<experiment_path>/tensorboard`` on a local disk.

    TensorBoard's writers need a local file system; for an ``s3://``/``gs://`` experiment they
    go to ``~/ray_results/tensorboard/<scheme>/<bucket>/<prefix>`` and what changed is
    uploaded to ``<experiment_path>/tensorboard`` every :data:`UPLOAD_S` seconds and when the
    search ends.
    """
    if not storage.is_uri(experiment_path):
        return os.path.join(storage.normalize(experiment_path), TENSORBOARD_DIR)
    scheme, _, rest = experiment_path.partition("://")
    return os.path.join(os.path.expanduser("~"), "ray_results", TENSORBOARD_DIR, scheme,
                        *[part for part in rest.split("/") if part])


# -- writing ------------------------------------------------------------------------------
class _Writer:
    """One event file, named and framed as TensorBoard's ``EventFileWriter`` writes it;
    every ``write`` is flushed at once (TensorBoard shows it live).

    The folder is always local (:func:`local_logdir`), so the file is opened directly:
    ``EventFileWriter`` goes through ``tensorboard.compat.tf``, which imports TensorFlow in
    full when it is installed, 3-5 s in a driver whose trials never use it (a ``run_trial``
    that tunes any function)."""

    _numbers = itertools.count()

    def __init__(self, logdir: str, suffix: str = "") -> None:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(logdir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(self._numbers)}{suffix}")
        self._records = RecordWriter(open(os.path.join(logdir, name), "wb"))  # noqa: SIM115
        self._add(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2",
                                  source_metadata=event_pb2.SourceMetadata(writer="raytune-hpt")))

    def _add(self, event: Any) -> None:
        self._records.write(event.SerializeToString())
        self._records.flush()

    def write(self, summary: Any, step: int = 0) -> None:
        from tensorboard.compat.proto import event_pb2

        self._add(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def close(self) -> None:
        self._records.close()


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

    _PROCESS_STATE = ("_runs", "_experiment_written", "_max_epochs", "_uploaded",
                      "_upload_thread", "_last_upload")

    def _reset(self) -> None:
        self._runs: dict[str, _TrialRun] = {}
        self._experiment_written = False
        self._max_epochs: int | None = None
        self._uploaded: dict[str, tuple[int, int]] = {}  # file -> (size, mtime) uploaded
        self._upload_thread: threading.Thread | None = None
        self._last_upload = time.monotonic()

    def __getstate__(self) -> dict:
        # Ray pickles the run config into the experiment; open files stay in this process.
        state = dict(self.__dict__)
        for key in self._PROCESS_STATE:
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

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        # A remote experiment's logs follow the search: what changed, every UPLOAD_S.
        if (storage.is_uri(self.experiment_path)
                and time.monotonic() - self._last_upload >= UPLOAD_S
                and (self._upload_thread is None or not self._upload_thread.is_alive())):
            self._last_upload = time.monotonic()
            self._upload_thread = threading.Thread(target=self._upload, daemon=True,
                                                   name="raytune_hpt-tensorboard-upload")
            self._upload_thread.start()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for run in self._runs.values():
            run.close()  # interrupted trials keep a session without an end
        self._runs.clear()
        if storage.is_uri(self.experiment_path):
            if self._upload_thread is not None:
                self._upload_thread.join(timeout=300)
            self._upload()

    # -- helpers ---------------------------------------------------------------------
    def _write_experiment(self, result: dict) -> None:
        metrics = [(group, tag, key) for key, value in result.items()
                   if not FOLD.match(key) and (where := metric_series(key, value)) is not None
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
            try:
                text = storage.read_text(storage.join(self.experiment_path, METADATA_FILE))
                self._max_epochs = int(json.loads(text)["epochs"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return self._max_epochs

    def _upload(self) -> None:
        """Upload the files that changed since the last upload (event files only grow)."""
        fs, inner = storage.filesystem(storage.join(self.experiment_path, TENSORBOARD_DIR))
        try:
            for folder, _, names in os.walk(self.logdir):
                for name in names:
                    path = os.path.join(folder, name)
                    stat = os.stat(path)
                    if self._uploaded.get(path) == (stat.st_size, stat.st_mtime_ns):
                        continue
                    relative = os.path.relpath(path, self.logdir).replace(os.sep, "/")
                    with open(path, "rb") as file, fs.open_output_stream(
                            f"{inner}/{relative}") as stream:
                        stream.write(file.read())
                    self._uploaded[path] = (stat.st_size, stat.st_mtime_ns)
        except Exception as error:  # the search's results matter more than the copy
            logger.warning("Could not upload the TensorBoard logs from %s to %s: %s",
                           self.logdir, self.experiment_path, error)


def tensorboard_callbacks(option: Any, *, space: HyperParameters, objective: Objective,
                          experiment_path: str) -> list[Any]:
    """The ``tracking={"tensorboard": ...}`` option: ``True``, or a local folder for the logs."""
    if option is True:
        logdir = local_logdir(experiment_path)
    elif isinstance(option, str) and option and not storage.is_uri(option):
        logdir = storage.normalize(option)
    else:
        raise ConfigurationError(
            "tracking.tensorboard must be true, false or a local folder, but got "
            f"{option!r}."
        )
    return [TensorBoardLogger(logdir, space, objective, experiment_path)]
