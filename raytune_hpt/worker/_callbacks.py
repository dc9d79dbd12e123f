"""The Keras callbacks a trial adds to ``fit``: one reports every epoch through the trial's
:class:`~raytune_hpt.worker._report.EpochReporter`, one keeps a fold's last logs. Kept apart
from the reporter so that a trial that never uses Keras (a custom ``run_trial``) does not
import it to report."""

from __future__ import annotations

from typing import Any

import keras

from raytune_hpt.worker._report import EpochReporter

__all__ = ["LastLogs", "ReportCallback"]


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

