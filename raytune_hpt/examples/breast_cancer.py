"""A binary classifier for scikit-learn's breast cancer data (30 standardized features)."""

from __future__ import annotations

from typing import Any

import keras


def build_model(hp: Any) -> keras.Model:
    """A sigmoid output trained with binary cross-entropy; accuracy and AUC are reported."""
    model = keras.Sequential(
        [
            keras.Input(shape=(30,)),
            keras.layers.Dense(hp.Choice("units", [8, 32]), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-3])),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    return model
