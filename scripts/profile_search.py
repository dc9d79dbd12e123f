"""Where the seconds of a small search go: 1 trial x 2 epochs of the digits MLP, by phase.

The phases come from clocks the package already records: the driver's own timer around
``ray.init`` (started here first, so that ``search()`` reuses it), the trial function's start
(``tf_started_at``: the worker process is up and has imported what unpickling the trial
needs), its first report (TensorFlow imported and configured, the model built and one epoch
trained) and its last, and ``search()``'s return.

    python scripts/profile_search.py [--trials 1] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    phases: dict[str, float] = {}
    clock = time.perf_counter()
    import keras  # noqa: F401  (TensorFlow's import, as in a user's script)

    phases["import tensorflow/keras (driver)"] = time.perf_counter() - clock
    clock = time.perf_counter()
    import raytune_hpt as rth

    phases["import raytune_hpt"] = time.perf_counter() - clock
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = (data.data / 16).astype("float32"), data.target.astype("int64")

    def build(hp):
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 16, 128, step=16), activation="relu"),
            keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    import ray

    clock = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False,
             log_to_driver=False)
    phases["ray.init (local, 2 CPUs)"] = time.perf_counter() - clock
    with tempfile.TemporaryDirectory() as folder:
        clock = time.perf_counter()
        tuner = rth.Tuner(build, objective="val_accuracy", max_trials=args.trials,
                          storage_path=folder, name="profile", seed=0, verbose=0)
        phases["Tuner(...)"] = time.perf_counter() - clock
        started = time.time()
        clock = time.perf_counter()
        results = tuner.search(x[:1200], y[:1200], validation_data=(x[1200:], y[1200:]),
                               epochs=args.epochs)
        phases["search() in all"] = time.perf_counter() - clock
        ended = time.time()
        rows = sorted((r for t in results.trials for r in t.history), key=lambda r: r["epoch"])
        first, last = rows[0], rows[-1]
        phases["  search() start -> trial function starts (space, searcher, actor)"] = (
            first["tf_started_at"] - started)
        phases["  -> first report (TF import + setup, build, epoch 1)"] = (
            first["tf_reported_at"] - first["tf_started_at"])
        phases["  -> last report (the other epochs)"] = (
            last["tf_reported_at"] - first["tf_reported_at"])
        phases["  -> search() returns (results written, read)"] = (
            ended - last["tf_reported_at"])
    ray.shutdown()
    width = max(map(len, phases))
    for name, seconds in phases.items():
        print(f"{name:{width}s} {seconds:6.2f} s")
    print(json.dumps(phases))


if __name__ == "__main__":
    main()
