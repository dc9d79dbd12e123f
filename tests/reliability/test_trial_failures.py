"""Failing trials beyond tests/test_failures.py: retries up to ``max_failures`` (a trial that
fails once continues from its checkpoint and is recorded once), out-of-memory errors and a
worker killed outright (what the kernel's OOM killer does) are recorded and the search goes on.
"""

from __future__ import annotations

import os
import signal

import pytest

import raytune_hpt as rth

pytestmark = pytest.mark.slow

EPOCHS = 3
FLAKY, MEMORY, KILLED = 12, 1_000_000_000, 7  # units values with a failure planted


def _model(tmp):
    from raytune_hpt import HyperModel

    driver = os.getpid()  # space discovery builds and "fits" in the driver: plant nothing there

    class Planted(HyperModel):
        """Every attempt appends "<units> <initial_epoch>" to attempts.txt first."""

        def build(self, hp):
            import keras
            import numpy as np

            units = hp.Choice("units", [8, FLAKY, MEMORY, KILLED, 16])
            if os.getpid() != driver and units == MEMORY:  # a layer too big for any machine
                np.ones((units, 1_000_000), dtype="float64")  # raises MemoryError
            model = keras.Sequential(
                [
                    keras.Input((64,)),
                    keras.layers.Dense(min(units, 16), activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ]
            )
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, *args, callbacks=None, **kwargs):
            import keras

            units = hp.get("units")
            if os.getpid() == driver:
                return model.fit(*args, callbacks=callbacks, **kwargs)
            with open(os.path.join(tmp, "attempts.txt"), "a") as file:
                file.write(f"{units} {kwargs.get('initial_epoch', 0)}\n")
            if units == KILLED:
                os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies, no Python error

            marker = os.path.join(tmp, "flaky-failed-once")

            class FailOnce(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    if units == FLAKY and epoch == 2 and not os.path.exists(marker):
                        open(marker, "w").close()
                        raise RuntimeError("transient failure (fails on the first attempt only)")

            return model.fit(*args, callbacks=[*(callbacks or []), FailOnce()], **kwargs)

    return Planted()


def test_retries_out_of_memory_and_a_killed_worker(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(
        _model(str(tmp_path)),
        objective="val_accuracy",
        searcher="grid",
        max_trials=5,
        max_failures=1,
        storage_path=str(tmp_path / "results"),
        name="planted",
        verbose=0,
    )
    results = tuner.search(
        x[:200], y[:200], validation_data=(xv[:100], yv[:100]), epochs=EPOCHS, batch_size=100
    )

    by_units = {t.hyperparameters["units"]: t for t in results.trials}
    assert sorted(by_units) == sorted([8, FLAKY, MEMORY, KILLED, 16])  # each recorded once
    attempts: dict[int, list[int]] = {}
    for line in (tmp_path / "attempts.txt").read_text().split("\n"):
        if line:
            units, initial_epoch = map(int, line.split())
            attempts.setdefault(units, []).append(initial_epoch)

    # a transient failure: retried once, from its epoch-2 checkpoint, then finished
    flaky = by_units[FLAKY]
    assert flaky.status == "finished" and flaky.error is None
    assert attempts[FLAKY] == [0, 2]
    assert [int(r["epoch"]) for r in flaky.history] == [1, 2, 3]

    # permanent failures: tried 1 + max_failures times, then recorded with their error
    memory, killed = by_units[MEMORY], by_units[KILLED]
    assert memory.status == "failed" and "MemoryError" in memory.error
    assert MEMORY not in attempts  # it failed in build, before fit
    assert killed.status == "failed" and killed.error
    assert attempts[KILLED] == [0, 0]

    # the search went on: the other trials finished and the best is one of them
    assert by_units[8].status == by_units[16].status == "finished"
    assert attempts[8] == attempts[16] == [0]
    assert results.best_trial().hyperparameters["units"] in (8, FLAKY, 16)
