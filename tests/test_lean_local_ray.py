"""A local Ray the package starts leaves out the head daemons a local search does not use.

Run in a subprocess: the suite's own Ray (``ray_local``) is started by ``ray.init`` directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from raytune_hpt import _ray_compat

_SCRIPT = r"""
import json
import ray
from ray._private import node as ray_node
from raytune_hpt.driver import start_ray

before = ray_node.Node.__dict__["start_api_server"], ray_node.Node.__dict__["start_monitor"]
start_ray(None, log_to_driver=False, verbose=0)
node = ray._private.worker._global_node
after = ray_node.Node.__dict__["start_api_server"], ray_node.Node.__dict__["start_monitor"]

@ray.remote
def square(x):
    return x * x

print(json.dumps({"processes": sorted(node.all_processes),
                  "restored": before == after,
                  "task": ray.get(square.remote(7)),
                  "cpus": ray.cluster_resources().get("CPU")}))
ray.shutdown()
"""


def test_a_new_local_ray_has_no_api_server_and_no_monitor(tmp_path):
    if _ray_compat.running_ray_start_address() is not None:
        pytest.skip("a `ray start` Ray is running here: start_ray would join it")
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state")}
    for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    from ray._private import ray_constants

    assert ray_constants.PROCESS_TYPE_DASHBOARD not in seen["processes"], seen
    assert ray_constants.PROCESS_TYPE_MONITOR not in seen["processes"], seen
    assert ray_constants.PROCESS_TYPE_RAYLET in seen["processes"], seen
    assert seen["restored"], "Node's start methods were not put back"
    assert seen["task"] == 49 and seen["cpus"] >= 1
