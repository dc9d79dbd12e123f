"""A retried trial stays in its worker process (issue 25, target 5), and a ``run_trial`` that
never uses TensorFlow does not import it (target 4).

Every attempt appends "<units> <initial_epoch> <pid> <tensorflow imported before the trial>"
to a file, so the tests read what each attempt saw in the worker.
"""

from __future__ import annotations

import os
import sys

import raytune_hpt as rth

FLAKY, BROKEN, FINE = 12, 24, 8


def _planted(tmp: str):
    from raytune_hpt import HyperModel

    driver = os.getpid()  # space discovery fits once in the driver: plant nothing there

    class Planted(HyperModel):
        def build(self, hp):
            import keras

            hp.Choice("units", [FINE, FLAKY, BROKEN])
            model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"),
                                      keras.layers.Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, *args, callbacks=None, **kwargs):
            import keras

            units = hp.get("units")
            if os.getpid() == driver:
                return model.fit(*args, callbacks=callbacks, **kwargs)
            with open(os.path.join(tmp, "attempts.txt"), "a") as file:
                file.write(f"{units} {kwargs.get('initial_epoch', 0)} {os.getpid()}\n")
            marker = os.path.join(tmp, "flaky-failed-once")

            class Planted(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    if units == BROKEN and epoch == 1:
                        raise RuntimeError("broken at every attempt")
                    if units == FLAKY and epoch == 2 and not os.path.exists(marker):
                        open(marker, "w").close()
                        raise RuntimeError("fails on the first attempt only")

            return model.fit(*args, callbacks=[*(callbacks or []), Planted()], **kwargs)

    return Planted()


def test_a_raising_trial_is_retried_in_the_same_worker(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(_planted(str(tmp_path)), objective="val_accuracy", searcher="grid",
                      max_trials=3, max_failures=2, storage_path=str(tmp_path / "results"),
                      name="retries", verbose=0)
    results = tuner.search(x[:200], y[:200], validation_data=(xv[:100], yv[:100]), epochs=3,
                           batch_size=100)

    attempts: dict[int, list[tuple[int, int]]] = {}
    for line in (tmp_path / "attempts.txt").read_text().splitlines():
        units, initial_epoch, pid = map(int, line.split())
        attempts.setdefault(units, []).append((initial_epoch, pid))
    by_units = {t.hyperparameters["units"]: t for t in results.trials}

    # a transient error: tried again from its epoch-2 checkpoint, in the same process
    assert [epoch for epoch, _ in attempts[FLAKY]] == [0, 2]
    assert len({pid for _, pid in attempts[FLAKY]}) == 1
    flaky = by_units[FLAKY]
    assert flaky.status == "finished" and flaky.error is None
    assert [int(r["epoch"]) for r in flaky.history] == [1, 2, 3]

    # a permanent error: 1 + max_failures attempts, all in one process, then failed with
    # its traceback (not retried by Ray in new processes on top)
    assert [epoch for epoch, _ in attempts[BROKEN]] == [0, 1, 1]  # from its epoch-1 checkpoint
    assert len({pid for _, pid in attempts[BROKEN]}) == 1
    broken = by_units[BROKEN]
    assert broken.status == "failed"
    assert "Traceback" in broken.error and "broken at every attempt" in broken.error

    assert by_units[FINE].status == "finished" and attempts[FINE] == [(0, attempts[FINE][0][1])]
    assert results.best_trial().hyperparameters["units"] in (FINE, FLAKY)


class _Square(rth.RandomSearch):
    """The keras-io guides' smallest tuner: no model, no TensorFlow."""

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        return {"score": x * x + 1, "tensorflow_imported": float("tensorflow" in sys.modules)}


def test_a_run_trial_without_tensorflow_does_not_import_it(ray_local, tmp_path):
    tuner = _Square(max_trials=4, seed=1, objective=rth.Objective("score", "min"),
                    directory=str(tmp_path), project_name="square", overwrite=True)
    tuner.search()

    trials = tuner.oracle.get_best_trials(4)
    assert len(trials) == 4
    for trial in trials:
        assert trial.metrics["tensorflow_imported"] == 0.0
        x = trial.hyperparameters.get("x")
        assert trial.score == x * x + 1
