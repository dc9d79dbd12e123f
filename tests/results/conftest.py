"""A small real experiment with everything a report must show: a conditional hyperparameter,
trials ASHA stopped early and one trial that failed."""

from __future__ import annotations

import pytest

import raytune_hpt as rth

FAILURE = "units2=16 with lr=0.01 is not supported (a deliberate failure)"


def conditional_builder(hp):
    """``units2`` exists only with two layers; the last grid point raises."""
    import keras

    layers = hp.Choice("layers", [1, 2])
    lr = hp.Float("lr", 1e-4, 1e-2, step=10, sampling="log")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu")])
    if layers == 2:
        with hp.conditional_scope("layers", [2]):
            units2 = hp.Choice("units2", [8, 16])
        if units2 == 16 and lr > 5e-3:
            raise ValueError(FAILURE)
        model.add(keras.layers.Dense(units2, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="session")
def report_experiment(ray_local, digits, tmp_path_factory):
    """9 grid trials (3 with one layer, 6 with two), ASHA from epoch 1: the one-layer trials
    run first and set the bar, two-layer trials with small learning rates are cut; the
    last one fails. Returns ``(results, path)``."""
    (x, y), (xv, yv) = digits
    storage = tmp_path_factory.mktemp("report")
    tuner = rth.Tuner(
        conditional_builder,
        objective="val_accuracy",
        searcher="grid",
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
        max_trials=9,
        storage_path=str(storage),
        name="conditional",
        seed=0,
        verbose=0,
    )
    results = tuner.search(x[:400], y[:400], validation_data=(xv, yv), epochs=3, batch_size=64)
    return results, str(storage / "conditional")
