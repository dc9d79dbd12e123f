"""The Keras callbacks a trial adds to ``fit``: one reports every epoch through the trial's
:class:`~raytune_hpt.worker._report.EpochReporter`, one keeps a fold's last logs. Kept apart
from the reporter so that a trial that never uses Keras (a custom ``run_trial``) does not
import it to report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from raytune_hpt.worker._report import EpochReporter

__all__ = ["LastLogs", "ReportCallback", "TunerCallback"]


class ReportCallback(keras.callbacks.Callback):
    """Keras callback: report every epoch through an :class:`EpochReporter`."""

    def __init__(self, reporter: EpochReporter) -> None:
        super().__init__()
        self.reporter = reporter

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.reporter.report(epoch, logs)
        if self.reporter.stop:
            self.model.stop_training = True


class LastLogs(keras.callbacks.Callback):
    """Keeps the logs of the last epoch (for cross-validation folds)."""

    def __init__(self) -> None:
        super().__init__()
        self.logs: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.logs = dict(logs or {})



class TunerCallback(keras.callbacks.Callback):
    """Keras Tuner's ``TunerCallback``: the tuner's overridden epoch and batch hooks during
    ``fit``, and its ``save_model`` at each epoch's end (``step``: the epoch); ``hooks``: the
    overridden ones by name, bound to the user's tuner."""

    def __init__(self, hooks: dict[str, Callable[..., None]], trial: Any) -> None:
        super().__init__()
        self.hooks, self.trial = hooks, trial

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if hook := self.hooks.get("on_epoch_begin"):
            hook(self.trial, self.model, epoch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if hook := self.hooks.get("on_batch_begin"):
            hook(self.trial, self.model, batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if hook := self.hooks.get("on_batch_end"):
            hook(self.trial, self.model, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if hook := self.hooks.get("on_epoch_end"):
            hook(self.trial, self.model, epoch, logs=logs)
        if hook := self.hooks.get("save_model"):
            hook(self.trial.trial_id, self.model, step=epoch)
