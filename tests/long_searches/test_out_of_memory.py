"""Issue 33, item 6: a trial that runs out of memory is a result, not a crash: recorded with
that cause, failed for the searcher, not retried with the same values, and the search goes
on. Ray's memory monitor is tested on a Ray started for the test in a subprocess, with a low
threshold (never the kernel's OOM killer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import raytune_hpt as rth


def exhausting_builder(hp):
    import keras
    import tensorflow as tf

    units = hp.Choice("units", [8, 4096])
    if units == 4096:  # what TensorFlow raises when an allocation fails
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_resource_exhausted_is_recorded_and_never_retried(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(exhausting_builder, objective="val_accuracy", searcher="grid",
                      max_trials=2, max_failures=2, storage_path=str(tmp_path), name="rex",
                      verbose=0)
    results = tuner.search(x[:200], y[:200], validation_data=(xv, yv), epochs=1)
    by_units = {t.hyperparameters["units"]: t for t in results.trials}
    assert by_units[8].status == "finished"
    failed = by_units[4096]
    assert failed.status == "failed"
    assert failed.error.startswith("out of memory: ResourceExhaustedError")
    assert "times in one worker" not in failed.error  # tried once, not max_failures + 1


_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import raytune_hpt as rth
    from sklearn.datasets import load_digits

    def build(hp):
        import keras
        size = hp.Choice("size", ["small", "huge"])
        if size == "huge":  # grows until Ray's memory monitor kills this worker
            with open(sys.argv[2], "a") as attempts:
                attempts.write("attempt\\n")
            held = []
            for _ in range(64):
                held.append(np.ones(2**25))  # 256 MB, touched
                time.sleep(0.05)
            raise RuntimeError("the memory monitor did not stop this trial")
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    data = load_digits()
    x, y = (data.data / 16).astype("float32"), data.target
    tuner = rth.Tuner(build, objective="val_accuracy", searcher="grid", max_trials=2,
                      max_concurrent_trials=1, storage_path=sys.argv[1], name="oom",
                      verbose=0, max_failures=1)
    results = tuner.search(x[:200], y[:200], validation_data=(x[1000:1200], y[1000:1200]),
                           epochs=1)
    print("RESULT " + json.dumps({t.hyperparameters["size"]: [t.status, t.error]
                                  for t in results.trials}))
""")


def _threshold(margin_bytes: float) -> float:
    """A memory-monitor threshold ``margin_bytes`` above what the machine uses now."""
    info = {}
    with open("/proc/meminfo") as file:
        for line in file:
            name, value = line.split(":")
            info[name] = float(value.split()[0]) * 1024
    used = info["MemTotal"] - info["MemAvailable"]
    return min(0.95, (used + margin_bytes) / info["MemTotal"])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="reads /proc/meminfo")
def test_a_worker_killed_by_rays_memory_monitor_fails_its_trial_only(tmp_path):
    env = {**os.environ, "RAY_memory_usage_threshold": f"{_threshold(5 * 2**30):.3f}",
           "RAY_memory_monitor_refresh_ms": "100", "RAY_ADDRESS": ""}
    script = tmp_path / "oom_search.py"
    script.write_text(_SCRIPT)
    attempts = tmp_path / "attempts.txt"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), str(attempts)],
                          env=env,
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, done.stdout[-3000:] + done.stderr[-3000:]
    by_size = json.loads(line.removeprefix("RESULT "))
    assert by_size["small"][0] == "finished"  # the search went on
    status, error = by_size["huge"]
    assert status == "failed"
    assert error.startswith("out of memory"), error
    # max_failures=1, yet not tried again with the same values
    assert attempts.read_text().splitlines() == ["attempt"]
