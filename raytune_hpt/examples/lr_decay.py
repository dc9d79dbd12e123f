"""A learning-rate schedule as hyperparameters: ``ExponentialDecay`` on the digits MLP."""

from __future__ import annotations

from typing import Any

import keras


def build_model(hp: Any) -> keras.Model:
    """Tunes the initial rate, the decay rate and whether the decay is a staircase."""
    schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=hp.Float("initial_learning_rate", 1e-3, 1e-1, sampling="log"),
        decay_steps=hp.Fixed("decay_steps", 100),
        decay_rate=hp.Float("decay_rate", 0.5, 0.99),
        staircase=hp.Boolean("staircase"),
    )
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
