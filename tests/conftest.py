"""Shared fixtures: one real local Ray for the session and small bundled data sets."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray with 2 logical CPUs, shared by every test that runs trials.

    Tests that need another shape of cluster (logical GPUs, several nodes) start their own
    in a subprocess or after ``ray.shutdown()``; this fixture starts Ray again on demand.
    """
    import ray

    if not ray.is_initialized():
        _start_session_ray()
    yield ray
    # left running for the session; pytest's exit shuts it down


def _start_session_ray() -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)


@pytest.fixture(scope="module", autouse=True)
def _ray_given_back(request):
    """A test module that used the session's Ray gives every CPU back: an actor or placement
    group it leaves behind would make later tests run one trial at a time and fail far from
    here. A leak is said in pytest's warnings summary, naming the module (checked after the
    module's own fixtures, such as a search left running in a thread, have ended), and the
    next module gets a new session Ray."""
    yield
    import time

    import ray

    if not ray.is_initialized():
        return
    total = ray.cluster_resources().get("CPU", 0)
    deadline = time.monotonic() + 30  # Tune ends its actors asynchronously
    while ray.available_resources().get("CPU", 0) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    free = ray.available_resources().get("CPU", 0)
    if free < total:
        from ray.util.placement_group import placement_group_table

        groups = {k[:8]: v["state"] for k, v in placement_group_table().items()
                  if v["state"] != "REMOVED"}
        ray.shutdown()
        _start_session_ray()
        warnings.warn(f"{request.module.__name__} left {total - free:g} of its Ray's {total:g} "
                      f"CPUs held 30 s after its tests ended (an actor, or a placement group: "
                      f"{groups}); the next module gets a new session Ray", LeakedRayWarning,
                      stacklevel=1)


class LeakedRayWarning(UserWarning):
    """A test module left CPUs of the session's Ray held (reported in pytest's summary)."""


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled 8x8 digits: (x_train, y_train), (x_val, y_val)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def mlp_builder(hp):
    """The issue's example model: a digits MLP with units, activation and learning rate."""
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 32, 512, step=32),
                           activation=hp.Choice("act", ["relu", "tanh"])),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def build_mlp():
    return mlp_builder
