"""A search whose ``run_trial`` never uses TensorFlow does not import it in the driver
either (3-5 s of a small script), and its TensorBoard logs are still written and readable.

A subprocess, because the suite's own process has TensorFlow loaded.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

_SCRIPT = r"""
import json, sys
import raytune_hpt as kt

class AnyFunction(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", min_value=-1.0, max_value=1.0)
        return x * x + 1

tuner = AnyFunction(max_trials=3, overwrite=True, directory=sys.argv[1], project_name="any",
                    seed=1, verbose=0)
tuner.search()
print(json.dumps({"tensorflow": "tensorflow" in sys.modules,
                  "best": tuner.oracle.get_best_trials(1)[0].score}))
"""


def test_no_tensorflow_in_the_driver_of_a_tensorflow_free_search(tmp_path):
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state")}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["tensorflow"] is False
    assert 1 <= seen["best"] <= 2

    # the driver's TensorBoard files are whole records TensorBoard reads
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = glob.glob(str(tmp_path / "any" / "tensorboard" / "**" / "events.out.tfevents.*"),
                      recursive=True)
    assert files, os.listdir(tmp_path / "any")
    tags = set()
    for path in files:
        events = EventAccumulator(path, size_guidance={"tensors": 0})
        events.Reload()
        tags.update(events.Tags()["tensors"])
    assert any("objective" in tag for tag in tags), tags
