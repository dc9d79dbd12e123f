"""Cluster-shaped searches, each run in its own process by tests/resources (never imported).

    python scenarios.py logical_gpus OUT.json          # 8 CPUs, 4 logical GPUs (+ distributed)
    python scenarios.py two_nodes OUT.json ADDRESS     # connect to a running two-node cluster
    python scenarios.py distributed OUT.json           # workers_per_trial=2 on a 2-CPU local Ray

Each search writes, per trial, the placement keys of its last report and when it ran, as
JSON; the tests assert on that file. Trials train a tiny model for real. A barrier callback
makes every trial wait (up to a timeout) until ``expect`` trials have started training, so
"N at once" is observed, not hoped for; if Ray could run fewer at once, the barrier times
out and the measured maximum is smaller.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
import uuid

import keras
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Barrier(keras.callbacks.Callback):
    """Wait at the start of training until ``expect`` trials got there (or ``timeout`` s)."""

    def __init__(self, folder: str, expect: int, timeout: float = 120.0) -> None:
        super().__init__()
        self.folder, self.expect, self.timeout = folder, expect, timeout

    def on_train_begin(self, logs=None):
        open(os.path.join(self.folder, uuid.uuid4().hex), "w").close()
        deadline = time.time() + self.timeout
        while len(os.listdir(self.folder)) < self.expect and time.time() < deadline:
            time.sleep(0.1)


def build(hp):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 8)), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


class Lines(logging.Handler):
    """Keeps what raytune_hpt.resources logs (the start line, the unused-GPU warning)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def search(name: str, trials: int, resources, barrier: int | None, root: str, *,
           keras_tuner: bool = False, **options):
    import raytune_hpt
    from raytune_hpt.results import max_trials_at_once, trial_interval

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    callbacks = []
    if barrier:
        folder = tempfile.mkdtemp(prefix="barrier-", dir=root)
        callbacks = [Barrier(folder, barrier)]
    if keras_tuner:  # Keras Tuner's code as written: no resources, its storage arguments
        options.update(directory=os.path.join(root, "results"), project_name=name)
        make = raytune_hpt.RandomSearch
    else:
        options.update(resources=resources, storage_path=os.path.join(root, "results"),
                       name=name)
        make = raytune_hpt.Tuner
    lines = Lines()
    logging.getLogger("raytune_hpt.resources").addHandler(lines)
    logging.getLogger("raytune_hpt.resources").setLevel(logging.INFO)
    tuner = make(build, objective="val_loss", max_trials=trials, verbose=0, seed=1, **options)
    try:
        results = tuner.search(
            x, y, validation_data=(x, y), epochs=2, batch_size=16, callbacks=callbacks
        )
    finally:
        logging.getLogger("raytune_hpt.resources").removeHandler(lines)
    rows = []
    for trial in results.trials:
        placement = {  # recorded in the first report of each (re)start
            k: v
            for row in trial.history
            for k, v in row.items()
            if (k.startswith("tf_") or k in ("node_id", "gpu_ids", "pid"))
            and v is not None
            and v == v  # not missing (None from progress.csv, NaN from a data frame)
        }
        # progress.csv may read "0" back as the number 0: ids compare as text
        for key in ("gpu_ids", "tf_cuda_visible_devices", "tf_gpu_plan_ids"):
            if key in placement:
                placement[key] = str(placement[key])
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                "epochs": trial.epochs,
                "reports": len(trial.history),
                "interval": trial_interval(trial.history),
                "metrics": trial.metrics,
                **placement,
            }
        )
    intervals = [r["interval"] for r in rows if r["interval"]]
    return {
        "trials": rows,
        "max_at_once": max_trials_at_once(intervals),
        "summary_resources": tuner.resources.describe(),
        "log": lines.lines,
    }


def start_ray(**options) -> None:
    """ray.init, once more if the raylet did not register within Ray's fixed 30 s (seen when
    the shared test machine is overloaded)."""
    import ray

    for attempt in (1, 2):
        try:
            ray.init(
                include_dashboard=False, log_to_driver=False, configure_logging=False, **options
            )
            return
        except Exception as error:
            if attempt == 2 or "timed out during startup" not in str(error):
                raise
            print(f"ray.init failed ({error}); trying again", file=sys.stderr)
            ray.shutdown()


def main() -> None:
    import ray

    scenario, out = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="rth-res-")
    report = {}
    if scenario == "logical_gpus":
        start_ray(num_cpus=8, num_gpus=4)
        report["half"] = search(
            "half", 8, {"cpu": 1, "gpu": 0.5, "gpu_memory_mb": 16000}, barrier=8, root=root
        )
        report["two"] = search("two", 2, {"cpu": 1, "gpu": 2}, barrier=2, root=root)
        # Keras Tuner code with no resources: one GPU per trial, four at once.
        report["default"] = search("default", 4, None, barrier=4, root=root, keras_tuner=True)
        # An explicit CPU-only request on this GPU machine: said once, GPUs hidden.
        report["cpu_only"] = search("cpu_only", 2, {"cpu": 1}, barrier=None, root=root)
        # In the same Ray (saves starting another): a 2-worker trial on CPUs only.
        report["dist"] = search("dist", 1, {"cpu": 1}, barrier=None, root=root, workers_per_trial=2)
    elif scenario == "two_nodes":
        ray.init(address=sys.argv[3], log_to_driver=False, configure_logging=False)
        report["nodes"] = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
        report["spread"] = search("spread", 2, {"cpu": 1, "gpu": 1}, barrier=2, root=root)
    elif scenario == "distributed":
        start_ray(num_cpus=2)
        report["dist"] = search(
            "dist", 1, {"cpu": 0.5}, barrier=None, root=root, workers_per_trial=2
        )
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    with open(out, "w") as file:
        json.dump(report, file, indent=2, default=str)
    ray.shutdown()


if __name__ == "__main__":
    main()
