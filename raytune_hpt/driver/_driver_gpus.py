"""The driver keeps its hands off the GPUs the trials need.

Space discovery builds the model in the user's process, and TensorFlow's first GPU work
there would take nearly all of every GPU's memory, leaving the trials on the same machine
out of memory. Before the package's first TensorFlow work in the driver, memory growth is
turned on for every GPU (the driver then holds only what it uses, and the user's process
keeps its GPUs for retraining the best model after the search). Where the user's script
already initialised the GPUs without it (a model built or a tensor placed before
``search()``), growth can no longer be set: the search says so once.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["keep_gpus_for_trials"]

logger = logging.getLogger(__name__)

_warned = False


def keep_gpus_for_trials() -> int:
    """Memory growth on every GPU this process sees; the number of GPUs (0 without any, or
    without TensorFlow imported, which then has no GPU memory to hold)."""
    global _warned
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return 0
    gpus = tf.config.list_physical_devices("GPU")
    taken = []
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # already initialised in this process
            if not tf.config.experimental.get_memory_growth(gpu):
                taken.append(gpu.name)
    if taken and not _warned:
        _warned = True
        logger.warning(
            "TensorFlow in this process initialised %s before the search without memory "
            "growth, so it may hold most of their memory and trials on this machine's GPUs "
            "may run out of it. Call tf.config.experimental.set_memory_growth(gpu, True) for "
            "each GPU at the top of the script, or build models after search().",
            ", ".join(taken))
    return len(gpus)
