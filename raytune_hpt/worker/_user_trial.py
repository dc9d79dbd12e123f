"""A Keras Tuner ``run_trial`` written by the user, run on a Ray worker.

The user's tuner object travels to the worker; its ``run_trial(trial, *args, **kwargs)``
runs there with a Keras Tuner ``Trial``, between its ``on_trial_begin`` and ``on_trial_end``
when it overrides them. What it reports through ``self.on_epoch_end``,
``self.oracle.update_trial`` or its return value (a float, a dict, a ``History`` or a list
of them) becomes the trial's Ray Tune reports; ``self.save_model`` names the model that
each report checkpoints.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from raytune_hpt.worker._datasets import ShippedDataset
from raytune_hpt.worker._hooks import TrialHooks
from raytune_hpt.worker._retries import with_retries
from raytune_hpt.worker._running_trial import RunningTrial, trial_running
from raytune_hpt.worker._spec import TrialSpec
from raytune_hpt.worker._tf_setup import configure_tensorflow
from raytune_hpt.worker._trial import fit_result_metrics, placement

__all__ = ["run_user_trial"]


def _report_result(running: RunningTrial, result: Any) -> None:
    """What ``run_trial`` returned, reported when nothing was reported during it."""
    if running.reported():
        return
    if result is None:
        raise ValueError("run_trial reported nothing and returned None; return the "
                         "objective (a float or a dict) or call self.on_epoch_end(...).")
    items = result if isinstance(result, list) else [result]
    per_item = [fit_result_metrics(item, running.objective) for item in items]
    shared = set.intersection(*(set(m) for m in per_item))
    running.update({k: sum(m[k] for m in per_item) / len(per_item) for k in shared}, 0)


def _load(value: Any) -> Any:
    if isinstance(value, ShippedDataset):
        return value.rebuild()
    return value


def run_user_trial(config: dict[str, Any], *, hooks: TrialHooks, spec: TrialSpec, args: tuple,
                   kwargs: dict[str, Any]) -> None:
    """Run ``hooks.tuner.run_trial`` for one configuration, the trial's :class:`RunningTrial`
    set for it. Ray Tune calls this on a worker.

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
        trial = hooks.new_trial(trial_id, spec.space.copy(config))
        running = RunningTrial(spec.objective, dict(extra), hp=trial.hyperparameters,
                               known=tuple(h.name for h in spec.space.space))
        # the fit hooks are run_trial's to call (fit=False)
        with trial_running(running), hooks.around(trial, fit=False):
            result = hooks.tuner.run_trial(trial, *[_load(a) for a in args],
                                           **{k: _load(v) for k, v in kwargs.items()})
            _report_result(running, result)

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
