"""A user's ``keras.callbacks.TensorBoard(log_dir)`` given to ``search()``: one folder per trial.

Keras Tuner's rule (``Tuner._configure_tensorboard_dir``): each trial's copy of the callback
writes to ``<log_dir>/<trial id>/execution<i>`` (Keras adds ``train``/``validation`` below),
and the trial's hyperparameters go there as HParams plugin data, so TensorBoard's HParams
dashboard compares trials. Here the trial id is Ray's (the one ``results`` and the console
show).

The driver makes a relative ``log_dir`` absolute (:func:`absolute_log_dirs`): Ray runs each
trial in its own working folder, and Keras Tuner's ``log_dir`` is relative to the script's.
The worker copies each TensorBoard callback per trial (:func:`per_trial_callbacks`).
On a cluster ``log_dir`` is a path on the node that runs the trial: events are written on
that node's disk, unless ``log_dir`` is a folder every node shares or a ``gs://`` URI.
"""

from __future__ import annotations

import copy
import os
from typing import Any

__all__ = ["absolute_log_dirs", "per_trial_callbacks", "trial_log_dir"]


def _is_user_tensorboard(callback: Any) -> bool:
    """Keras's TensorBoard (or a subclass), not raytune_hpt's own ``TrialTensorBoard``."""
    import keras

    from raytune_hpt.tracking._keras_callback import TrialTensorBoard

    return isinstance(callback, keras.callbacks.TensorBoard) and not isinstance(
        callback, TrialTensorBoard)


def absolute_log_dirs(fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``fit_kwargs`` with each user TensorBoard's relative ``log_dir`` made absolute (driver
    side, so it means the folder of the script, as in Keras Tuner); the callbacks given are
    left as they were."""
    callbacks = fit_kwargs.get("callbacks")
    if not callbacks or not any(_is_user_tensorboard(c) for c in callbacks):
        return fit_kwargs
    fixed = []
    for callback in callbacks:
        log_dir = str(getattr(callback, "log_dir", ""))
        if _is_user_tensorboard(callback) and "://" not in log_dir:
            callback = copy.copy(callback)
            callback.log_dir = os.path.abspath(log_dir)
        fixed.append(callback)
    return {**fit_kwargs, "callbacks": fixed}


def trial_log_dir(log_dir: str, trial_id: str, execution: int = 0) -> str:
    """Keras Tuner's layout: ``<log_dir>/<trial id>/execution<i>``."""
    return os.path.join(str(log_dir), str(trial_id), f"execution{execution}")


def per_trial_callbacks(callbacks: list, hp_values: dict[str, Any], execution: int = 0) -> list:
    """The trial's own callbacks (worker side): each user TensorBoard copied with the trial's
    ``log_dir``, and the trial's hyperparameters written there for the HParams dashboard."""
    if not any(_is_user_tensorboard(c) for c in callbacks):
        return list(callbacks)
    from ray import tune

    trial_id = tune.get_context().get_trial_id() or "trial"
    own = []
    for callback in callbacks:
        if _is_user_tensorboard(callback):
            callback = copy.deepcopy(callback)  # never the object other trials share
            callback.log_dir = trial_log_dir(callback.log_dir, trial_id, execution)
            _write_hparams(callback.log_dir, hp_values, trial_id)
        own.append(callback)
    return own


def _write_hparams(log_dir: str, hp_values: dict[str, Any], trial_id: str) -> None:
    """What Keras Tuner's ``hparams_api.KerasCallback`` writes at the start of training,
    written once (that callback cannot be fitted twice; a trial of several executions or
    folds fits epoch by epoch)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams_api

    from raytune_hpt.tracking._hparams import _plain

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hparams_api.hparams({k: _plain(v) for k, v in hp_values.items()}, trial_id=trial_id)
    writer.close()
