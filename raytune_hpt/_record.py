"""An experiment's on-disk record: what the worker and the driver write, what ``results/`` reads.

Both sides import the names from here and neither imports the other:

* ``raytune_hpt.json`` (:data:`METADATA_FILE`) beside Ray's own files: the objective, the space
  and the search's settings, written by the driver;
* each epoch's report: the epoch number under :data:`EPOCH` (the schedulers' time attribute),
  a trial failed by a ``FailedTrialError`` under :data:`TRIAL_ERROR`, one whose loss or a
  metric became NaN/inf under :data:`DIVERGED`, hyperparameters a
  ``run_trial`` override declared late under :data:`DECLARED_HPS`;
* each checkpoint folder: one ``.keras`` file per model (:func:`model_file`) and
  :data:`STATE_FILE` (epochs done, the report, the trial id), read back by
  :func:`load_checkpoint`;
* Ray's ``error.pkl`` of a failed trial, read back by :func:`trial_cause`;
* :data:`PRUNED_FILE` beside ``raytune_hpt.json``: the trials whose checkpoints the driver
  deleted under ``keep_models`` (their metrics and logs stay), written by the driver.

Nothing here imports Ray, Keras or TensorFlow at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from raytune_hpt import _ray_compat

__all__ = [
    "DECLARED_HPS",
    "DIVERGED",
    "DIVERGED_ON",
    "EPOCH",
    "METADATA_FILE",
    "MODEL_FILE",
    "PRUNED_FILE",
    "STATE_FILE",
    "TRIAL_ERROR",
    "TRIAL_TRACEBACK",
    "load_checkpoint",
    "model_file",
    "trial_cause",
]

#: The experiment's own file beside Ray's: objective, space, settings (JSON).
METADATA_FILE = "raytune_hpt.json"
#: The report field counting epochs done (1-based); the schedulers' ``time_attr``.
EPOCH = "epoch"
#: The report field of a trial failed by a ``FailedTrialError``: its error (no retry).
TRIAL_ERROR = "trial_error"

#: The report field of a trial that diverged: the epoch (1-based) at which its loss, its
#: objective or another metric it logs became NaN or infinite; the trial stops there and is
#: never ranked. :data:`DIVERGED_ON` names the values (``"loss=nan, val_loss=nan"``).
DIVERGED = "diverged_at_epoch"
DIVERGED_ON = "diverged_on"

#: The report field of a trial that failed after its retries in one worker: the traceback.
TRIAL_TRACEBACK = "trial_traceback"
#: The report field with hyperparameters a trial declared that the space did not have yet
#: (a ``run_trial`` override declares them lazily, as in Keras Tuner): a JSON space config.
DECLARED_HPS = "declared_hyperparameters"
#: JSON Lines, one ``{"trial_id": id, "folder": trial folder, "keep_models": K}`` per trial
#: whose checkpoints were deleted because it was not among the best K when it ended
#: (``keep_models``). Not a ``.json`` file: on resume Ray Tune copies the experiment's
#: top-level ``.json`` and ``.pkl`` files to its driver staging folder and uploads them
#: back at every experiment checkpoint, which would put the list read at resume back over
#: the one the resumed run writes.
PRUNED_FILE = "pruned_models.jsonl"
#: A checkpoint's model (the first fold's under cross-validation).
MODEL_FILE = "model.keras"
#: A checkpoint's state: ``{"epoch": done, "metrics": report, "trial_id": id}``.
STATE_FILE = "trial_state.json"


def model_file(index: int) -> str:
    """The checkpoint file of fold ``index``'s model (:data:`MODEL_FILE` for the first)."""
    return MODEL_FILE if index == 0 else f"model_fold{index}.keras"


def load_checkpoint(folder: str, models: Sequence[Any]) -> int:
    """Load weights and optimizer state of a checkpoint folder into built models.

    Returns:
        The number of epochs already done.
    """
    for k, model in enumerate(models):
        optimizer = getattr(model, "optimizer", None)  # None: a model never compiled
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(folder, model_file(k)))
    with open(os.path.join(folder, STATE_FILE)) as file:
        return int(json.load(file)[EPOCH])


def trial_cause(trial: Any) -> BaseException | None:
    """The exception a trial raised, read from the driver's copy of its error file."""
    from ray import cloudpickle

    try:
        local = trial.pickled_error_file  # written at once; the storage copy is synced later
        if local and os.path.exists(local):
            with open(local, "rb") as file:
                error = cloudpickle.load(file)
        else:
            error = _ray_compat.trial_pickled_error(trial)
    except Exception:  # an unreadable error file must not break the search
        return None
    return getattr(error, "cause", None) or error
