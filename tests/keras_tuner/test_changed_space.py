"""Reloading a finished search whose hyperparameters differ from the model's (issue 34).

The README's first command searches ``units``/``learning_rate`` into ./results/digits; its
Python example, run next with the same name, used to print those trials as its answer for a
model over ``units``/``act``/``lr``. Now the search refuses, naming each difference and the
way out, before any trial.
"""

from __future__ import annotations

import os

import keras
import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]


def units_and_learning_rate(hp):  # the digits example's space
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-2)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def units_act_lr(hp):  # the README's Python example's space
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Int("units", 8, 16, step=8),
                                                 activation=hp.Choice("act", ["relu", "tanh"])),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _trial_folders(path):
    return sorted(p for p in os.listdir(path) if os.path.isdir(os.path.join(path, p))
                  and "_" in p and not p.startswith(("trial_", "tensorboard")))


def test_a_finished_search_over_other_hyperparameters_is_not_the_answer(digits, tmp_path):
    (x, y), (xv, yv) = digits
    where = {"storage_path": str(tmp_path), "name": "digits", "seed": 0, "verbose": 0}
    fit = {"validation_data": (xv, yv), "epochs": 1, "batch_size": 64}
    rth.Tuner(units_and_learning_rate, objective="val_accuracy", max_trials=1,
              **where).search(x[:300], y[:300], **fit)
    before = _trial_folders(tmp_path / "digits")
    assert len(before) == 1

    other = rth.Tuner(units_act_lr, objective="val_accuracy", max_trials=1, **where)
    with pytest.raises(ConfigurationError) as raised:
        other.search(x[:300], y[:300], **fit)
    message = str(raised.value)
    assert "'act' is only in this search" in message
    assert "'lr' is only in this search" in message
    assert "'learning_rate' is only in the earlier experiment" in message
    assert "'units'" not in message  # the same domain in both
    assert "name=" in message and "overwrite=True" in message
    assert _trial_folders(tmp_path / "digits") == before  # nothing ran, nothing deleted

    # the same model finds its own search done; a name of its own searches afresh
    same = rth.Tuner(units_and_learning_rate, objective="val_accuracy", max_trials=1, **where)
    assert same.search(x[:300], y[:300], **fit).trials[0].trial_id in before[0]
    renamed = rth.Tuner(units_act_lr, objective="val_accuracy", max_trials=1,
                        **{**where, "name": "digits_python"})
    values = renamed.search(x[:300], y[:300], **fit).best_hyperparameters(1)[0]
    assert set(values) == {"units", "act", "lr"}


class BatchSizeInFit(rth.HyperModel):
    """Declares a hyperparameter in fit() once it has the data: building the model (even
    calling fit without data) does not see it; the search's discovery does."""

    def build(self, hp):
        return units_and_learning_rate(hp)

    def fit(self, hp, model, x, y, **kwargs):
        rows = len(x)
        batch_size = hp.Choice("batch_size", [32, 64]) if rows else 1
        return model.fit(x, y, batch_size=batch_size, **kwargs)


def test_the_same_model_with_a_custom_fit_finds_its_search_again(digits, tmp_path):
    (x, y), (xv, yv) = digits
    where = {"storage_path": str(tmp_path), "name": "fit", "seed": 0, "verbose": 0}
    fit = {"validation_data": (xv, yv), "epochs": 1}
    first = rth.Tuner(BatchSizeInFit(), objective="val_accuracy", max_trials=1, **where)
    ran = first.search(x[:300], y[:300], **fit).trials[0].trial_id
    assert "batch_size" in first.search_space().values

    again = rth.Tuner(BatchSizeInFit(), objective="val_accuracy", max_trials=1, **where)
    assert again.search(x[:300], y[:300], **fit).trials[0].trial_id == ran  # not refused
