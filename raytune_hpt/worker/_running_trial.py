"""The running trial's handle: what a ``run_trial`` override reports through, on its worker.

Keras Tuner code inside a ``run_trial`` override reports with ``self.on_epoch_end(...)``,
``self.save_model(...)`` and ``self.oracle.update_trial(...)``. Those methods
(``keras_tuner/``) reach the trial through one public accessor, :func:`running_trial`, as Ray
Tune's own API reaches its session through ``ray.tune.get_context()``: the worker sets it for
the length of the trial (:func:`trial_running`) and nothing is set on the user's objects.
Ray runs one trial at a time in a worker process, so one slot per process is enough.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from raytune_hpt._record import DECLARED_HPS
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective

__all__ = ["RunningTrial", "running_trial", "trial_running"]


class RunningTrial:
    """One running trial of a ``run_trial`` override: its reports to Ray Tune, each with the
    last model named by ``save_model`` as its checkpoint, and the hyperparameters the override
    declares as it runs (sent to the driver with the next report)."""

    def __init__(self, objective: Objective, extra: dict[str, Any],
                 hp: HyperParameters | None = None, known: tuple[str, ...] = ()) -> None:
        self.objective, self.extra = objective, extra
        self.hp, self.sent = hp, set(known)
        self.model: Any = None
        self.reporter: Any = None  # an EpochReporter, made at the first report
        self.last_epoch = -1

    def epoch_end(self, model: Any, epoch: int, logs: dict[str, Any] | None) -> None:
        """Keras Tuner's ``on_epoch_end``: checkpoint ``model`` and report ``logs``."""
        self.model = model
        self.update(logs or {}, epoch)

    def use_model(self, model: Any) -> None:
        """Keras Tuner's ``save_model``: the model the next report checkpoints."""
        self.model = model

    def update(self, metrics: dict[str, Any], step: int = 0) -> None:
        """Keras Tuner's ``oracle.update_trial``: report ``metrics`` (steps only go forward)."""
        from raytune_hpt.worker._report import EpochReporter

        if self.reporter is None:
            models = [self.model] if self.model is not None else []
            self.reporter = EpochReporter(self.objective, models, extra=self.extra,
                                          checkpoint=bool(models))
        epoch = step if step > self.last_epoch else self.last_epoch + 1  # reports go forward
        self.reporter.report(epoch, metrics, info=self._declared())
        self.last_epoch = epoch

    def reported(self) -> bool:
        return self.reporter is not None and bool(self.reporter.reports)

    def _declared(self) -> dict[str, str]:
        """Hyperparameters declared in run_trial since the last report, for the driver."""
        if self.hp is None:
            return {}
        new = [hp for hp in self.hp.space if hp.name not in self.sent]
        if not new:
            return {}
        self.sent.update(hp.name for hp in new)
        return {DECLARED_HPS: json.dumps({"space": [hp.get_config() for hp in new]})}


_running: RunningTrial | None = None


def running_trial() -> RunningTrial | None:
    """The trial a ``run_trial`` override is running in this process; None outside one (in
    the driver, and in a standard trial, which reports each epoch itself)."""
    return _running


@contextlib.contextmanager
def trial_running(trial: RunningTrial) -> Iterator[RunningTrial]:
    """Make ``trial`` the process's running trial for the block (put back afterwards)."""
    global _running
    before, _running = _running, trial
    try:
        yield trial
    finally:
        _running = before
