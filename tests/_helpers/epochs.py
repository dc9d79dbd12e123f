"""A Ray Tune function trainable's epoch checkpoints, for scheduler tests without Keras."""

from __future__ import annotations

import json
import os
import tempfile

from raytune_hpt.schedulers import TIME_ATTR


def resumed_epoch() -> int:
    """The last epoch checkpointed before a pause (0 on a fresh start)."""
    from ray import tune

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as folder, open(os.path.join(folder, "e.json")) as f:
        return json.load(f)


def report_epoch(loss: float, epoch: int) -> None:
    """Report ``loss`` at ``epoch`` with a checkpoint that remembers the epoch."""
    from ray import tune

    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "e.json"), "w") as f:
            json.dump(epoch, f)
        tune.report({"loss": loss, TIME_ATTR: epoch},
                    checkpoint=tune.Checkpoint.from_directory(folder))
