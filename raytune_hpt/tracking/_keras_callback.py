"""``TrialTensorBoard``: Keras's own TensorBoard callback inside a trial (runs on the worker)."""

from __future__ import annotations

import glob
import os
from typing import Any

from raytune_hpt import _ray_compat
from raytune_hpt.tracking._tensorboard import TENSORBOARD_DIR

__all__ = ["TrialTensorBoard"]


class TrialTensorBoard(_ray_compat.trial_tensorboard_base()):
    """Keras's ``TensorBoard`` callback for a trial: histograms, graph, profiling.

    Put it in ``search(..., callbacks=[TrialTensorBoard(histogram_freq=1)])``; it takes
    Keras's arguments except ``log_dir``, which is found on the worker: the trial's run
    folder (``<experiment>/tensorboard/<run>/keras``) when the experiment is on a disk the
    worker sees, else the trial's own folder. Epoch scalars are left to
    the driver's ``TensorBoardLogger`` (no duplicates); histograms use the same 1-based
    epochs, and Keras's per-step validation scalars are not written again.
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


def _trial_keras_dir() -> str:
    from ray import tune

    context = tune.get_context()
    trial_id = context.get_trial_id()
    experiment_path = _ray_compat.trial_local_experiment_dir()
    if experiment_path and os.path.isdir(experiment_path):
        root = os.path.join(experiment_path, TENSORBOARD_DIR)
        runs = sorted(glob.glob(os.path.join(glob.escape(root), f"{trial_id}_*")))
        run = runs[0] if runs else os.path.join(root, trial_id)  # the name without hps
        return os.path.join(run, "keras")
    return os.path.join(context.get_trial_dir(), TENSORBOARD_DIR)
