"""Failing trials: recorded with their error, never the best, and the search goes on."""

from __future__ import annotations

import math

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import SearchAbortedError


def picky_builder(hp):
    import keras

    units = hp.Choice("units", [8, 16, 32, 64])
    if units == 64:
        raise RuntimeError("64 units are not supported by this model")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_failing_trial_is_recorded_and_the_search_goes_on(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(picky_builder, objective="val_accuracy", searcher="grid", max_trials=4,
                      storage_path=str(tmp_path), name="picky", verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=1)
    by_units = {t.hyperparameters["units"]: t for t in results.trials}
    assert sorted(by_units) == [8, 16, 32, 64]
    assert by_units[64].status == "failed"
    assert "64 units are not supported" in by_units[64].error
    assert all(by_units[u].status == "finished" for u in (8, 16, 32))
    assert results.best_trial().hyperparameters["units"] != 64
    assert "Failed trial" in results.summary()


@pytest.mark.slow
def test_the_same_error_in_every_first_trial_stops_the_search(ray_local, digits, tmp_path):
    def broken(hp):
        import keras

        units = hp.Int("units", 8, 64)
        layer = keras.layers.Dense(units)
        model = keras.Sequential([keras.Input((64,)), layer])
        model.compile("adam", "mse")
        return model.missing_method()  # the user's bug, for every value

    def build(hp):
        if not hp.values:  # the first build of space discovery works; trials all fail
            import keras

            model = keras.Sequential([keras.Input((64,)),
                                      keras.layers.Dense(hp.Int("units", 8, 64))])
            model.compile("adam", "mse")
            return model
        return broken(hp)

    (x, y), _ = digits
    tuner = rth.Tuner(build, objective="val_loss", searcher="random", max_trials=12,
                      storage_path=str(tmp_path), name="broken", seed=3, verbose=0)
    with pytest.raises(SearchAbortedError) as error:
        tuner.search(x[:100], y[:100].astype("float32"), validation_split=0.2, epochs=1)
    message = str(error.value)
    assert "all failed with the same error" in message and "missing_method" in message
    results = rth.load_results(str(tmp_path / "broken"))
    assert 3 <= len(results.trials) < 12


def test_a_diverging_trial_stops_and_is_never_the_best(ray_local, digits, tmp_path):
    def build(hp):
        import keras

        lr = hp.Choice("lr", [1e-3, 1e12])
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
        return model

    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build, objective="val_loss", searcher="grid", max_trials=2,
                      storage_path=str(tmp_path), name="nan", verbose=0)
    results = tuner.search(x[:300], y[:300].astype("float32"),
                           validation_data=(xv, yv.astype("float32")), epochs=4)
    by_lr = {t.hyperparameters["lr"]: t for t in results.trials}
    diverged = by_lr[1e12]
    assert diverged.epochs < 4
    assert math.isnan(diverged.score(results.objective))
    assert results.best_trial().hyperparameters["lr"] == 1e-3
    assert [t.trial_id for t in results.ranked_trials()] == [by_lr[1e-3].trial_id]
