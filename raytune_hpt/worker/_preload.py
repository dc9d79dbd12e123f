"""What a warm Ray worker imports before it takes work (Ray's ``preload_python_modules``).

A local Ray the package starts, and the one ``raytune-hpt up`` keeps, name this module:
each worker the raylet prestarts imports it, so that a trial actor that takes the worker
finds Ray Tune, TensorFlow and Keras already imported (about 4-5 s of a new worker's
start on 2 cores). It imports only: it lists no device and creates no tensor, so CUDA is
not initialised before Ray sets the trial's ``CUDA_VISIBLE_DEVICES``, and TensorFlow's
thread pools are still sized per trial (``_tf_setup.configure_tensorflow``). Importing
it is its whole purpose; nothing else imports it.
"""

from __future__ import annotations

import os

__all__: list[str] = []

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # this worker process's own environment

import ray.tune  # noqa: E402,F401  (the trial actor's class is Ray Tune's)

from raytune_hpt.worker._tf_setup import import_keras_lean  # noqa: E402
from raytune_hpt.worker._warm_ready import mark_ready  # noqa: E402

import_keras_lean(in_worker=True)  # a worker the raylet started: Ray runs preloads only there
mark_ready()  # for `raytune-hpt up`, which waits for its warm workers (``_warm_ready``)
