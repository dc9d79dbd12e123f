"""A one-hidden-layer MLP for scikit-learn's 8x8 digits (the quick-start example)."""

from __future__ import annotations

from typing import Any

import keras


def build_model(hp: Any) -> keras.Model:
    """Tunes the hidden layer's width and Adam's learning rate."""
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(
                hp.Int("units", min_value=32, max_value=512, step=32), activation="relu"
            ),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
