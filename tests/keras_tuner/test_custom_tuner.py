"""keras-io's custom_tuner guide, run through the drop-in, in both of its published forms.

guides/keras_tuner/custom_tuner.py is today "Tune hyperparameters in your custom training
loop" (a ``HyperModel.fit`` with its own loop, calling the tuner's callbacks); until 2022 it
was "Writing your own Tuner to support a custom training loop" (a ``Tuner`` subclass
overriding ``run_trial`` with a ``tf.data.Dataset``, ``self.on_epoch_end`` and an
``oracle=kt.oracles.BayesianOptimization(...)``). Both are here, with ``import raytune_hpt
as keras_tuner`` / ``as kt``. Changes:

* data: the guides' random arrays / MNIST download are 1,000 of the bundled MNIST digits
  (the current guide's ``x_val`` 500 more), as uint8 for the ``run_trial`` form (it divides
  by 255 itself) and in [0, 1] for the ``HyperModel.fit`` form;
* ``directory`` under ``tmp_path`` and a ``seed`` per tuner; the budgets are the guides'
  own (2 trials of 2 epochs);
* three Keras 3 spellings, needed with keras_tuner as much as here: ``reset_state()`` for
  the guides' ``reset_states()`` (removed in Keras 3), ``callback.set_model(model)`` for
  ``callback.model = model`` (a read-only property in Keras 3) and
  ``AveragePooling2D(2)`` for ``AveragePooling2D()`` (``pool_size`` has no default in
  Keras 3: every trial drawing ``pooling="avg"`` failed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

import raytune_hpt as keras_tuner
import raytune_hpt as kt
from tests.keras_tuner.conftest import load_mnist

pytestmark = pytest.mark.slow


# The guide's random arrays, replaced by bundled digits; its fit() reads these globals.
(_x, _y), _ = load_mnist(0)
_x = np.expand_dims(_x, -1).astype("float32") / 255.0
x_train, y_train = _x[:1000], _y[:1000].reshape(-1, 1)
x_val, y_val = _x[1000:1500], _y[1000:1500].reshape(-1, 1)


class MyHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        """Builds a convolutional model."""
        inputs = keras.Input(shape=(28, 28, 1))
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(
            units=hp.Choice("units", [32, 64, 128]), activation="relu"
        )(x)
        outputs = keras.layers.Dense(10)(x)
        return keras.Model(inputs=inputs, outputs=outputs)

    def fit(self, hp, model, x, y, validation_data, callbacks=None, **kwargs):
        # Convert the datasets to tf.data.Dataset.
        batch_size = hp.Int("batch_size", 32, 128, step=32, default=64)
        train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(
            batch_size
        )
        validation_data = tf.data.Dataset.from_tensor_slices(validation_data).batch(
            batch_size
        )
        # Define the optimizer.
        optimizer = keras.optimizers.Adam(
            hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        )
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # The metric to track validation loss.
        epoch_loss_metric = keras.metrics.Mean()
        # Function to run the train step.
        @tf.function
        def run_train_step(images, labels):
            with tf.GradientTape() as tape:
                logits = model(images)
                loss = loss_fn(labels, logits)
                # Add any regularization losses.
                if model.losses:
                    loss += tf.math.add_n(model.losses)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))  # noqa: B905
        # Function to run the validation step.
        @tf.function
        def run_val_step(images, labels):
            logits = model(images)
            loss = loss_fn(labels, logits)
            # Update the metric.
            epoch_loss_metric.update_state(loss)
        # Assign the model to the callbacks.
        for callback in callbacks:
            callback.set_model(model)  # `callback.model = model` before Keras 3
        # Record the best validation loss value
        best_epoch_loss = float("inf")
        # The custom training loop.
        for epoch in range(2):
            print(f"Epoch: {epoch}")
            # Iterate the training data to run the training step.
            for images, labels in train_ds:
                run_train_step(images, labels)
            # Iterate the validation data to run the validation step.
            for images, labels in validation_data:
                run_val_step(images, labels)
            # Calling the callbacks after epoch.
            epoch_loss = float(epoch_loss_metric.result().numpy())
            for callback in callbacks:
                # The "my_metric" is the objective passed to the tuner.
                callback.on_epoch_end(epoch, logs={"my_metric": epoch_loss})
            epoch_loss_metric.reset_state()  # `reset_states()` before Keras 3
            print(f"Epoch loss: {epoch_loss}")
            best_epoch_loss = min(best_epoch_loss, epoch_loss)
        # Return the evaluation metric value.
        return best_epoch_loss


def custom_training_loop(directory, mnist, seed=0):
    tuner = keras_tuner.RandomSearch(
        objective=keras_tuner.Objective("my_metric", "min"),
        max_trials=2,
        hypermodel=MyHyperModel(),
        directory=directory,
        project_name="custom_training",
        overwrite=True,
        seed=seed,
    )
    tuner.search(x=x_train, y=y_train, validation_data=(x_val, y_val))

    best_hps = tuner.get_best_hyperparameters()[0]
    print(best_hps.values)
    best_model = tuner.get_best_models()[0]
    best_model.summary()
    _, (x_test, y_test) = mnist  # held out: not seen by the search
    predicted = np.argmax(best_model.predict(x_test[..., None] / 255.0, verbose=0), axis=-1)
    return {"best_hps": [best_hps.values], "loss": tuner.oracle.get_best_trials(1)[0].score,
            "accuracy": float(np.mean(predicted == y_test))}


def build_model(hp):
    """Builds a convolutional model."""
    inputs = tf.keras.Input(shape=(28, 28, 1))
    x = inputs
    for i in range(hp.Int("conv_layers", 1, 3, default=3)):
        x = tf.keras.layers.Conv2D(
            filters=hp.Int("filters_" + str(i), 4, 32, step=4, default=8),
            kernel_size=hp.Int("kernel_size_" + str(i), 3, 5),
            activation="relu",
            padding="same",
        )(x)

        if hp.Choice("pooling" + str(i), ["max", "avg"]) == "max":
            x = tf.keras.layers.MaxPooling2D()(x)
        else:
            x = tf.keras.layers.AveragePooling2D(2)(x)  # no default pool_size in Keras 3

        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.ReLU()(x)

    if hp.Choice("global_pooling", ["max", "avg"]) == "max":
        x = tf.keras.layers.GlobalMaxPooling2D()(x)
    else:
        x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(10, activation="softmax")(x)

    model = tf.keras.Model(inputs, outputs)

    optimizer = hp.Choice("optimizer", ["adam", "sgd"])
    model.compile(
        optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


class MyTuner(kt.Tuner):
    def run_trial(self, trial, train_ds):
        hp = trial.hyperparameters

        # Hyperparameters can be added anywhere inside `run_trial`.
        # When the first trial is run, they will take on their default values.
        # Afterwards, they will be tuned by the `Oracle`.
        train_ds = train_ds.batch(hp.Int("batch_size", 32, 128, step=32, default=64))

        model = self.hypermodel.build(trial.hyperparameters)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        optimizer = tf.keras.optimizers.Adam(lr)
        epoch_loss_metric = tf.keras.metrics.Mean()
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

        # @tf.function
        def run_train_step(data):
            images = tf.dtypes.cast(data[0], "float32") / 255.0
            labels = data[1]
            with tf.GradientTape() as tape:
                logits = model(images)
                loss = loss_fn(labels, logits)
                # Add any regularization losses.
                if model.losses:
                    loss += tf.math.add_n(model.losses)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))  # noqa: B905
            epoch_loss_metric.update_state(loss)
            return loss

        # `self.on_epoch_end` reports results to the `Oracle` and saves the
        # current state of the Model. The other hooks called here only log values
        # for display but can also be overridden.
        for epoch in range(2):
            print("Epoch: {}".format(epoch))  # noqa: UP032

            self.on_epoch_begin(trial, model, epoch, logs={})
            for batch, data in enumerate(train_ds):
                self.on_batch_begin(trial, model, batch, logs={})
                batch_loss = float(run_train_step(data))
                self.on_batch_end(trial, model, batch, logs={"loss": batch_loss})

                if batch % 100 == 0:
                    loss = epoch_loss_metric.result().numpy()
                    print("Batch: {}, Average Loss: {}".format(batch, loss))  # noqa: UP032

            epoch_loss = epoch_loss_metric.result().numpy()
            self.on_epoch_end(trial, model, epoch, logs={"loss": epoch_loss})
            epoch_loss_metric.reset_state()  # `reset_states()` before Keras 3


def custom_run_trial(directory, mnist, seed=0):
    tuner = MyTuner(
        oracle=kt.oracles.BayesianOptimization(
            objective=kt.Objective("loss", "min"), max_trials=2, seed=seed
        ),
        hypermodel=build_model,
        directory=directory,
        project_name="mnist_custom_training",
    )

    (x_train, y_train), (x_test, y_test) = mnist

    # Reshape the images to have the channel dimension.
    x_train = x_train.reshape(x_train.shape + (1,))[:1000]
    y_train = y_train.astype(np.int64)[:1000]

    mnist_train = tf.data.Dataset.from_tensor_slices((x_train, y_train))

    tuner.search(train_ds=mnist_train)

    best_hps = tuner.get_best_hyperparameters()[0]
    print(best_hps.values)

    best_model = tuner.get_best_models()[0]
    held_out_loss, accuracy = best_model.evaluate(x_test.reshape(x_test.shape + (1,)) / 255.0,
                                                  y_test, verbose=0)
    return {"best_hps": [best_hps.values], "loss": tuner.oracle.get_best_trials(1)[0].score,
            "accuracy": accuracy, "held_out_loss": held_out_loss,
            "trials": len(tuner.oracle.trials)}


def test_custom_training_loop(ray_local, tmp_path, mnist):
    printed = custom_training_loop(str(tmp_path), mnist)

    values = printed["best_hps"][0]
    assert values["units"] in (32, 64, 128) and values["batch_size"] in (32, 64, 96, 128)
    assert 1e-4 <= values["learning_rate"] <= 1e-2, values
    # the best validation loss is finite and better than chance (ln 10 for 10 classes)
    assert math.isfinite(printed["loss"]) and 0 < printed["loss"] < math.log(10)
    assert printed["accuracy"] > 0.2


def test_custom_run_trial(ray_local, tmp_path, mnist):
    printed = custom_run_trial(str(tmp_path), mnist)

    values = printed["best_hps"][0]
    assert printed["trials"] == 2
    assert 1 <= values["conv_layers"] <= 3 and values["optimizer"] in ("adam", "sgd")
    # declared inside run_trial: in the best trial's hyperparameters, within their domains
    assert values["batch_size"] in (32, 64, 96, 128), values
    assert 1e-4 <= values["learning_rate"] <= 1e-2, values
    # the guide's objective, the training loss: finite, and not diverged. (2 epochs of 16
    # steps train this network little: about chance, ln 10 = 2.30, in both libraries.)
    assert math.isfinite(printed["loss"]) and 0 < printed["loss"] < 2.5
    assert math.isfinite(printed["held_out_loss"]) and 0 <= printed["accuracy"] <= 1
