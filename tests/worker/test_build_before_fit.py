"""``build_before_fit`` creates a model's variables before ``fit`` traces its first step
(flat memory on a reused worker, issue 33) and leaves the model as ``fit`` would: a
``Sequential`` without an ``Input`` keeps no batch size, so Keras Tuner's guide's
``best_model.build(input_shape=(None, 28, 28, 1))`` still works on the best model."""

from __future__ import annotations

import keras
import numpy as np

from raytune_hpt.hypermodel import HyperModel
from raytune_hpt.worker._keras_state import build_before_fit


class _Plain(HyperModel):
    def build(self, hp):
        raise AssertionError("not called")


class _OwnFit(_Plain):
    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, **kwargs)


def _sequential_without_input() -> keras.Model:
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4)])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_variables_exist_before_fit_and_the_batch_size_stays_open():
    model = _sequential_without_input()
    x, y = np.zeros((10, 3, 2), "float32"), np.zeros((10,), "int64")
    build_before_fit(_Plain(), [model], [(x, y)])
    assert model.built and model.optimizer.built
    assert tuple(model.inputs[0].shape) == (None, 3, 2)
    model.build(input_shape=(None, 3, 2))  # what keras_tuner's getting-started guide does
    assert model.fit(x, y, epochs=1, batch_size=5, verbose=0).history["loss"]


def test_a_hypermodels_own_fit_builds_its_model_itself():
    model = _sequential_without_input()
    build_before_fit(_OwnFit(), [model], [(np.zeros((4, 3), "float32"), np.zeros((4,)))])
    assert not model.built


def test_unreadable_data_and_an_uncompiled_model_are_left_to_fit():
    model = _sequential_without_input()
    gen = (b for b in [(np.zeros((2, 3), "float32"), np.zeros((2,)))])
    build_before_fit(_Plain(), [model], [(gen,)])
    uncompiled = keras.Sequential([keras.layers.Dense(4)])
    build_before_fit(_Plain(), [uncompiled], [(np.zeros((4, 3), "float32"), np.zeros((4,)))])
    assert not model.built and not uncompiled.built
