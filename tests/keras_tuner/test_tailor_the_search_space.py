"""keras-io's "Tailor the search space" guide, run through the drop-in.

The guide's code (guides/keras_tuner/tailor_the_search_space.py) with ``import raytune_hpt
as keras_tuner``, including its ``build_model`` as published (the stray ``model.add``
leaves the ``Dense(units)`` layer as the output). Changes:

* the guide's random images and labels are 1,000 / 500 of the bundled MNIST digits (same
  shapes: ``(n, 28, 28, 1)`` in [0, 1] and integer labels of shape ``(n, 1)``), so the best
  model can be checked against chance;
* ``max_trials=2`` instead of 3, ``directory`` under ``tmp_path``, a ``seed`` per tuner;
* the pre-made ``HyperXception`` section is left out: an Xception on CPU is minutes per
  trial, and ``keras_tuner.applications`` is Keras Tuner's model zoo, not part of the
  drop-in (``raytune_hpt.applications`` does not exist; pass
  ``keras_tuner.applications.HyperXception(...)`` itself, which the drop-in accepts).
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow import keras
from tensorflow.keras import layers

import raytune_hpt as keras_tuner

pytestmark = pytest.mark.slow

# Keras Tuner lets a hyperparameter declared up front (hyperparameters=hp) override the
# model's own declaration of another type: the guide turns build_model's Choice
# "learning_rate" into a Float, then into a Fixed (HyperParameters.declared_up_front).


def build_model(hp):
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(
        layers.Dense(
            units=hp.Int("units", min_value=32, max_value=128, step=32, default=64)
        )
    )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add  # noqa: B018 (the guide's own line)
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def digits(mnist):
    """The guide's random data, replaced by digits of the same shapes."""
    (x, y), _ = mnist
    x = np.expand_dims(x, -1).astype("float32") / 255.0
    y = y.reshape(-1, 1)
    return x[:1000], y[:1000], x[1000:1500], y[1000:1500]


def held_out(mnist):
    """Digits no search has seen, to check the best model against chance."""
    _, (x_test, y_test) = mnist
    return np.expand_dims(x_test, -1).astype("float32") / 255.0, y_test.reshape(-1, 1)


def search_a_few_and_fix_the_rest(directory, mnist, seed=0):
    hp = keras_tuner.HyperParameters()

    # This will override the `learning_rate` parameter with your
    # own selection of choices
    hp.Float("learning_rate", min_value=1e-4, max_value=1e-2, sampling="log")

    tuner = keras_tuner.RandomSearch(
        hypermodel=build_model,
        hyperparameters=hp,
        # Prevents unlisted parameters from being tuned
        tune_new_entries=False,
        objective="val_accuracy",
        max_trials=2,  # 3 in the guide
        overwrite=True,
        directory=directory,
        project_name="search_a_few",
        seed=seed,
    )
    x_train, y_train, x_val, y_val = digits(mnist)

    # Run the search
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    summary = tuner.search_space_summary()
    best = tuner.get_best_models()[0]
    x_test, y_test = held_out(mnist)
    return {"summary": summary, "best_hps": [h.values for h in tuner.get_best_hyperparameters(2)],
            "accuracy": best.evaluate(x_test, y_test, verbose=0)[1],
            "objective": tuner.oracle.get_best_trials(1)[0].score}


def fix_a_few_and_tune_the_rest(directory, mnist, seed=0):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("learning_rate", value=1e-4)

    tuner = keras_tuner.RandomSearch(
        build_model,
        hyperparameters=hp,
        tune_new_entries=True,
        objective="val_accuracy",
        max_trials=2,  # 3 in the guide
        overwrite=True,
        directory=directory,
        project_name="fix_a_few",
        seed=seed,
    )
    x_train, y_train, x_val, y_val = digits(mnist)
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    summary = tuner.search_space_summary()
    return {"summary": summary, "best_hps": [h.values for h in tuner.get_best_hyperparameters(2)],
            "objective": tuner.oracle.get_best_trials(1)[0].score}


def override_compilation_arguments(directory, mnist, seed=0):
    tuner = keras_tuner.RandomSearch(
        build_model,
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        metrics=[
            "sparse_categorical_crossentropy",
        ],
        objective="val_loss",
        max_trials=2,  # 3 in the guide
        overwrite=True,
        directory=directory,
        project_name="override_compile",
        seed=seed,
    )
    x_train, y_train, x_val, y_val = digits(mnist)
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val))
    best = tuner.get_best_models()[0]
    return {"loss": best.loss, "objective": tuner.oracle.get_best_trials(1)[0].score,
            "metrics": sorted(tuner.oracle.get_best_trials(1)[0].metrics)}


def test_search_a_few_and_fix_the_rest(ray_local, tmp_path, mnist):
    printed = search_a_few_and_fix_the_rest(str(tmp_path), mnist)

    assert "Default search space size: 1" in printed["summary"]
    assert "learning_rate" in printed["summary"] and "units" not in printed["summary"]
    for values in printed["best_hps"]:
        assert 1e-4 <= values["learning_rate"] <= 1e-2, values
        assert values.get("units", 64) == 64 and not values.get("dropout", False), values
    assert printed["accuracy"] > 0.2  # 10 classes: chance is 0.1


def test_fix_a_few_and_tune_the_rest(ray_local, tmp_path, mnist):
    printed = fix_a_few_and_tune_the_rest(str(tmp_path), mnist)

    assert "learning_rate (Fixed)" in printed["summary"] and "units (Int)" in printed["summary"]
    for values in printed["best_hps"]:
        assert values["learning_rate"] == 1e-4, values
        assert values["units"] in (32, 64, 96, 128) and values["dropout"] in (True, False)
    assert 0 <= printed["objective"] <= 1


def test_override_compilation_arguments(ray_local, tmp_path, mnist):
    printed = override_compilation_arguments(str(tmp_path), mnist)

    assert printed["loss"] == "mse"  # "you can see the loss function has changed to MSE"
    assert 0 < printed["objective"] < 100  # the MSE of outputs against labels 0..9
    assert "val_sparse_categorical_crossentropy" in printed["metrics"]
