"""The short check to run the first day a machine with real GPUs is there (at most 5 minutes).

    python scripts/check_gpu.py            # after: pip install .

It runs Keras Tuner code with no ``resources`` (one trial per GPU, as many at once as there
are GPUs), then ``resources={"gpu": 0.5}`` (two trials per GPU, each capped to half of its
memory), on the digits MLP, and prints for each trial the GPU Ray gave it, what TensorFlow
saw, its memory cap and its peak GPU memory, then the driver's own peak (space discovery
builds the model in the driver: memory growth keeps it small). It exits 1 on any failure: a
trial that failed or saw no GPU, a trial over its cap, two trials of a search on one GPU
without a cap. Without GPUs it says so in one line and exits 0. docs/resources.md says how
to run it and what to send back.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _gpu_count() -> int:
    from raytune_hpt._noise import import_tensorflow_quietly

    import_tensorflow_quietly()  # without a GPU, TensorFlow's CUDA notices are noise here
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def _build(hp):
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 64, 512, step=64), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _peak_callback():
    import keras
    import tensorflow as tf

    class GpuPeak(keras.callbacks.Callback):
        """Adds this trial's peak GPU memory (MB) to each epoch's logs."""

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and tf.config.list_logical_devices("GPU"):
                peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
                logs["gpu_peak_mb"] = peak / 2**20

    return GpuPeak()


def _run(label: str, trials: int, folder: str, **options) -> list[str]:
    """One search; its trials' lines; raises AssertionError naming the first failure."""
    from sklearn.datasets import load_digits

    import raytune_hpt as kt

    data = load_digits()
    x, y = (data.data / 16.0).astype("float32"), data.target
    tuner = kt.RandomSearch(_build, objective="val_accuracy", max_trials=trials, seed=0,
                            directory=folder, project_name=label, overwrite=True, **options)
    started = time.monotonic()
    results = tuner.search(x, y, validation_split=0.2, epochs=3, batch_size=64,
                           callbacks=[_peak_callback()])
    lines = [f"{label}: {len(results.trials)} trials in {time.monotonic() - started:.0f} s"]
    problems = []
    for trial in results.trials:
        first = trial.history[0] if trial.history else {}
        gpus, seen = str(first.get("gpu_ids", "")), str(first.get("tf_visible_gpus", ""))
        cap = float(first.get("tf_gpu_memory_limit_mb", 0) or 0)
        peak = float(trial.metrics.get("gpu_peak_mb", float("nan")))
        lines.append(f"  trial {trial.trial_id} {trial.status:8} Ray GPU {gpus or '-':4} "
                     f"TensorFlow {seen or '-':6} cap {cap:6.0f} MB  peak {peak:8.1f} MB")
        if trial.status != "finished":
            problems.append(f"trial {trial.trial_id} {trial.status}: {trial.error}")
        elif not gpus or not seen:
            problems.append(f"trial {trial.trial_id} saw no GPU (Ray {gpus!r}, TF {seen!r})")
        elif cap and peak > cap:
            problems.append(f"trial {trial.trial_id} used {peak:.0f} MB over its cap {cap:.0f}")
    if problems:
        raise AssertionError("; ".join(problems) + "\n" + "\n".join(lines))
    return lines


def main() -> int:
    gpus = _gpu_count()
    if not gpus:
        print("check_gpu: no GPU here (TensorFlow lists none); nothing to check, run it on a "
              "machine with NVIDIA GPUs.")
        return 0
    import tensorflow as tf

    folder = tempfile.mkdtemp(prefix="check_gpu-")
    try:
        lines = _run("one_gpu_per_trial", 2 * gpus, folder)
        lines += _run("half_a_gpu_per_trial", 4 * gpus, folder, resources={"gpu": 0.5})
    except Exception as error:  # the check's whole point: one clear failure, exit 1
        print(f"check_gpu: FAILED: {type(error).__name__}: {error}")
        return 1
    driver_peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    print("\n".join(lines))
    print(f"driver: peak {driver_peak:.1f} MB on GPU:0 (memory growth on: it holds only what "
          f"space discovery used); {gpus} GPU(s). check_gpu: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
