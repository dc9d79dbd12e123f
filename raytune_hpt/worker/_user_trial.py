"""A Keras Tuner ``run_trial`` written by the user, run on a Ray worker.

The user's tuner object travels to the worker; its ``run_trial(trial, *args, **kwargs)``
runs there with a Keras Tuner ``Trial``, between its ``on_trial_begin`` and ``on_trial_end``
when it overrides them. What it reports through ``self.on_epoch_end``,
``self.oracle.update_trial`` or its return value (a float, a dict, a ``History`` or a list
of them) becomes the trial's Ray Tune reports; ``self.save_model`` names the model that
each report checkpoints.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Protocol

from raytune_hpt._record import DECLARED_HPS
from raytune_hpt.keras_tuner import Trial
from raytune_hpt.objective import Objective
from raytune_hpt.worker._datasets import ShippedDataset
from raytune_hpt.worker._hooks import TrialHooks
from raytune_hpt.worker._tf_setup import configure_tensorflow
from raytune_hpt.worker._trial import TrialSpec, fit_result_metrics, placement, with_retries

__all__ = ["TrialSession", "UserTuner", "run_user_trial"]


class UserTuner(Protocol):
    """The user's tuner on the worker: its ``run_trial`` runs the trial; ``_session`` is the
    running trial's reports, for its ``on_epoch_end``/``save_model`` (and its oracle's
    ``update_trial``)."""

    _session: Any

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any: ...


class TrialSession:
    """The running trial's reports: each epoch's logs, with the last saved model."""

    def __init__(self, objective: Objective, extra: dict[str, Any], hp: Any = None,
                 known: tuple[str, ...] = ()) -> None:
        self.objective, self.extra = objective, extra
        self.hp, self.sent = hp, set(known)
        self.model: Any = None
        self.reporter: Any = None
        self.last_epoch = -1

    def epoch_end(self, model: Any, epoch: int, logs: dict[str, Any] | None) -> None:
        self.model = model
        self.update(logs or {}, epoch)

    def update(self, metrics: dict[str, Any], step: int = 0) -> None:
        from raytune_hpt.worker._report import EpochReporter

        if self.reporter is None:
            models = [self.model] if self.model is not None else []
            self.reporter = EpochReporter(self.objective, models, extra=self.extra,
                                          checkpoint=bool(models))
        epoch = step if step > self.last_epoch else self.last_epoch + 1  # reports go forward
        self.reporter.report(epoch, metrics, info=self._declared())
        self.last_epoch = epoch

    def _declared(self) -> dict[str, str]:
        """Hyperparameters declared in run_trial since the last report, for the driver."""
        if self.hp is None:
            return {}
        new = [hp for hp in self.hp.space if hp.name not in self.sent]
        if not new:
            return {}
        self.sent.update(hp.name for hp in new)
        return {DECLARED_HPS: json.dumps({"space": [hp.get_config() for hp in new]})}

    def finish(self, result: Any) -> None:
        """What ``run_trial`` returned, reported when nothing was reported during it."""
        if self.reporter is not None and self.reporter.reports:
            return
        if result is None:
            raise ValueError("run_trial reported nothing and returned None; return the "
                             "objective (a float or a dict) or call self.on_epoch_end(...).")
        items = result if isinstance(result, list) else [result]
        per_item = [fit_result_metrics(item, self.objective) for item in items]
        shared = set.intersection(*(set(m) for m in per_item))
        self.update({k: sum(m[k] for m in per_item) / len(per_item) for k in shared}, 0)


def _load(value: Any) -> Any:
    if isinstance(value, ShippedDataset):
        return value.rebuild()
    return value


def run_user_trial(config: dict[str, Any], *, tuner: UserTuner, spec: TrialSpec, args: tuple,
                   kwargs: dict[str, Any]) -> None:
    """Run ``tuner.run_trial`` for one configuration. Ray Tune calls this on a worker.

    TensorFlow is set up only if it is imported already (a ``run_trial`` whose module uses
    Keras imports it when the trial is unpickled) or the trial has a GPU: a ``run_trial``
    that never touches TensorFlow (the guides' ``x * x + 1``) does not pay its import.
    """
    started_at = time.time()
    tf_setup = configure_tensorflow(spec.cpus, spec.meta_optimizer, gpu=spec.gpus,
                                    gpu_memory_mb=spec.gpu_memory_mb, defer=True)
    from ray import tune

    trial_id = tune.get_context().get_trial_id()
    extra = {**placement(tf_setup), "tf_started_at": started_at}

    def attempt() -> None:
        _fresh_state(spec.seed)
        trial = Trial(trial_id=trial_id, hyperparameters=spec.space.copy(config))
        session = TrialSession(spec.objective, dict(extra), hp=trial.hyperparameters,
                               known=tuple(h.name for h in spec.space.space))
        tuner._session = session
        with hooks.around(trial, fit=False):  # the fit hooks are run_trial's to call
            result = tuner.run_trial(trial, *[_load(a) for a in args],
                                     **{k: _load(v) for k, v in kwargs.items()})
            session.finish(result)

    hooks = TrialHooks.of(tuner)
    with_retries(spec, attempt)


def _fresh_state(seed: int | None) -> None:
    """Keras's state cleared and the seeds set, without importing Keras when the trial has
    not imported it."""
    if "keras" in sys.modules:
        import keras

        from raytune_hpt.worker._keras_state import reset_keras_state

        keras.backend.clear_session()
        reset_keras_state()  # what an earlier trial on this worker changed
        if seed is not None:
            keras.utils.set_random_seed(seed)
    elif seed is not None:
        import random

        import numpy as np

        random.seed(seed)
        np.random.seed(seed)
