"""What a small search in a fresh script does not start: TensorFlow in the driver and in the
trial workers when its ``run_trial`` never uses it (3-5 s of such a script each; its
TensorBoard logs are still written and readable), and the head's API server and autoscaler
monitor in the local Ray it starts (``ray.init`` waited about a second for the first).

A subprocess, because the suite's own process has TensorFlow loaded and its own Ray.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from raytune_hpt import _ray_compat

_SCRIPT = r"""
import json, os, sys
import ray
from ray._private import node as ray_node
import raytune_hpt as kt

WORKERS = os.path.join(sys.argv[1], "workers")
os.makedirs(WORKERS)
starts = ray_node.Node.__dict__["start_api_server"], ray_node.Node.__dict__["start_monitor"]

class AnyFunction(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", min_value=-1.0, max_value=1.0)
        with open(os.path.join(WORKERS, str(os.getpid())), "w") as seen:
            seen.write(json.dumps("tensorflow" in sys.modules))
        return x * x + 1

tuner = AnyFunction(max_trials=3, overwrite=True, directory=sys.argv[1], project_name="any",
                    seed=1, verbose=0)
tuner.search()
print(json.dumps({"tensorflow": "tensorflow" in sys.modules,
                  "best": tuner.oracle.get_best_trials(1)[0].score,
                  "processes": sorted(ray._private.worker._global_node.all_processes),
                  "restored": starts == (ray_node.Node.__dict__["start_api_server"],
                                         ray_node.Node.__dict__["start_monitor"])}))
"""


def test_a_small_search_starts_no_tensorflow_no_api_server_no_monitor(tmp_path):
    if _ray_compat.running_ray_start_address() is not None:
        pytest.skip("a `ray start` Ray is running here: the search would join it")
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state")}
    for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["tensorflow"] is False
    # nor did its trial workers (Ray's preload runs in every worker of the local Ray)
    workers = {path.name: json.loads(path.read_text()) for path in (tmp_path / "workers").iterdir()}
    assert workers and not any(workers.values()), workers
    assert 1 <= seen["best"] <= 2

    from ray._private import ray_constants

    assert ray_constants.PROCESS_TYPE_RAYLET in seen["processes"], seen
    assert ray_constants.PROCESS_TYPE_DASHBOARD not in seen["processes"], seen
    assert ray_constants.PROCESS_TYPE_MONITOR not in seen["processes"], seen
    assert seen["restored"], "Node's start methods were not put back after ray.init"

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
