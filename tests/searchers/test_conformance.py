"""Every registered searcher with every registered scheduler, on real Ray and real Keras.

Small budgets (2 trials, 2 epochs, 300 samples): this checks that each pair runs, that every
suggestion is a valid point of the space, and that results come back whole.
"""

from __future__ import annotations

import math

import pytest

import raytune_hpt as rth
from raytune_hpt.schedulers import SCHEDULERS
from raytune_hpt.searchers import SEARCHERS


def small_builder(hp):
    import keras

    layers = [keras.Input((64,))]
    for i in range(hp.Int("layers", 1, 2)):
        layers.append(keras.layers.Dense(hp.Int(f"units_{i}", 8, 32, step=8), activation="relu"))
    if hp.Boolean("dropout"):
        with hp.conditional_scope("dropout", [True]):
            layers.append(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5, step=0.2)))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    optimizer = hp.Choice("optimizer", ["adam", "sgd"])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
@pytest.mark.parametrize("searcher", sorted(SEARCHERS))
def test_searcher_with_scheduler(ray_local, digits, tmp_path, searcher, scheduler):
    (x, y), (xv, yv) = digits
    options = {"hyperband": {"type": "hyperband", "reduction_factor": 2},
               "asha": {"type": "asha", "grace_period": 1, "reduction_factor": 2}}
    tuner = rth.Tuner(small_builder, objective="val_accuracy", searcher=searcher,
                      scheduler=options.get(scheduler, scheduler), max_trials=2,
                      storage_path=str(tmp_path), name="c", seed=1, verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=(xv[:150], yv[:150]), epochs=2,
                           batch_size=64)

    assert len(results.trials) == 2
    space = {hp.name: hp for hp in tuner.space.space}
    assert set(space) == {"layers", "units_0", "units_1", "dropout", "rate", "optimizer"}
    for trial in results.trials:
        assert trial.status in ("finished", "stopped"), trial.error
        values = trial.hyperparameters
        assert ("rate" in values) == values["dropout"]
        assert ("units_1" in values) or values["layers"] == 1 or searcher in ("hyperopt", "optuna")
        for name, value in values.items():
            assert space[name].snap(value) == value, (name, value)
        assert 1 <= trial.epochs <= 2
        assert [row["epoch"] for row in trial.history] == sorted(
            {row["epoch"] for row in trial.history}
        )
    best = results.best_trial()
    assert not math.isnan(best.score(results.objective))
    assert tuner.get_best_hyperparameters(1)[0].values == best.hyperparameters
