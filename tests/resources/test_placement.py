"""Where trials really run: logical GPUs, a two-node cluster, distributed trials.

Ray of other shapes than the session's (tests/conftest.py) runs in a subprocess
(scenarios.py), which writes each trial's placement keys and run interval to a JSON file.
There is no GPU here: Ray's logical GPUs are booked and put in CUDA_VISIBLE_DEVICES for
real; what TensorFlow was asked for is the plan each trial recorded (``tf_*`` keys).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from raytune_hpt.worker import CUDA_CONTEXT_RESERVE_MB
from tests._helpers.local_cluster import local_cluster

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _env(**extra: str) -> dict[str, str]:
    drop = ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(TF_CPP_MIN_LOG_LEVEL="2", RAY_USAGE_STATS_ENABLED="0", **extra)
    return env


def run_scenario(tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None) -> dict:
    out = tmp_path / f"{name}.json"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / "scenarios.py"), name, str(out), *args],
        env=env or _env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"scenario {name}: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def logical_gpus(tmp_path_factory):
    """8 logical CPUs and 4 logical GPUs: 8 trials with gpu 0.5, 2 trials with gpu 2, then
    1 trial with workers_per_trial=2 (CPUs only)."""
    return run_scenario(tmp_path_factory.mktemp("gpus"), "logical_gpus")


def test_half_a_gpu_runs_eight_trials_at_once_two_per_gpu(logical_gpus):
    half = logical_gpus["half"]
    trials = half["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 8
    assert half["max_at_once"] == 8
    # Each trial saw one GPU, the one Ray booked for it, and shares it with one other trial.
    assert all(t["tf_cuda_visible_devices"] == t["gpu_ids"] for t in trials)
    assert Counter(t["tf_cuda_visible_devices"] for t in trials) == {"0": 2, "1": 2, "2": 2, "3": 2}
    for t in trials:
        assert t["tf_gpu_memory_limit_mb"] == 16000 // 2 - CUDA_CONTEXT_RESERVE_MB
        assert t["tf_gpu_memory_growth"] is False
        assert t["tf_visible_gpus"] == "GPU:0"
        assert t["tf_strategy"] == "default"
        assert t["tf_gpu_applied"] is False  # no real GPU: planned, trained on the CPU
        assert t["tf_threads"] == 1


def test_two_gpus_per_trial_mirror_over_exactly_those(logical_gpus):
    two = logical_gpus["two"]
    trials = two["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 2
    assert two["max_at_once"] == 2
    assert sorted(t["tf_cuda_visible_devices"] for t in trials) == ["0,1", "2,3"]
    for t in trials:
        assert t["tf_strategy"] == "mirrored"
        assert t["tf_strategy_devices"] == "/gpu:0,/gpu:1"
        assert t["tf_visible_gpus"] == "GPU:0,GPU:1"
        assert t["tf_gpu_memory_limit_mb"] == 0  # whole GPUs: no cap


def test_keras_tuner_code_without_resources_gets_one_gpu_per_trial_four_at_once(logical_gpus):
    default = logical_gpus["default"]
    trials = default["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 4
    assert default["max_at_once"] == 4
    assert default["summary_resources"] == "cpu=2, gpu=1"  # 8 CPUs split between 4 GPUs
    # Each trial got one GPU of its own, and TensorFlow was told exactly that one.
    assert sorted(t["tf_cuda_visible_devices"] for t in trials) == ["0", "1", "2", "3"]
    assert all(t["tf_cuda_visible_devices"] == t["gpu_ids"] for t in trials)
    for t in trials:
        assert t["tf_visible_gpus"] == "GPU:0" and t["tf_threads"] == 2
        assert t["tf_gpu_memory_limit_mb"] == 0  # a whole GPU: no cap
    assert default["log"] == [
        "INFO Trials: 1 GPU and 2 CPUs each (one GPU per trial, the CPUs split between the "
        "GPUs); up to 4 at once on a Ray of 8 CPUs and 4 GPUs."
    ]


def test_an_explicit_cpu_only_request_on_a_gpu_machine_says_the_gpus_stay_unused(logical_gpus):
    cpu_only = logical_gpus["cpu_only"]
    assert [t["status"] for t in cpu_only["trials"]] == ["finished"] * 2
    for t in cpu_only["trials"]:
        # Every GPU hidden from TensorFlow ("" may come back from progress.csv as missing).
        assert t.get("tf_cuda_visible_devices", "") == ""
        assert t.get("tf_visible_gpus", "") == "" and str(t.get("gpu_ids", "")) in ("[]", "")
    warnings = [line for line in cpu_only["log"] if line.startswith("WARNING")]
    assert len(warnings) == 1  # once per search, not once per trial
    assert "the 4 GPUs of this Ray stay unused" in warnings[0]
    assert "as asked" in cpu_only["log"][0]


def test_a_distributed_trial_trains_on_two_workers_and_reports_each_epoch(logical_gpus):
    report = logical_gpus["dist"]
    (trial,) = report["trials"]
    assert trial["status"] == "finished"
    assert trial["reports"] == 2 and trial["epochs"] == 2  # one Tune report per epoch
    assert "val_loss" in trial["metrics"]
    assert trial["tf_strategy_used"] == "MultiWorkerMirroredStrategy"
    assert trial["tf_workers"] == 2
    assert len(trial["tf_worker_addresses"].split(",")) == 2


@pytest.mark.parametrize("code", ["tuner_auto", "keras_tuner_default"])
def test_auto_resources_on_the_session_ray(ray_local, digits, build_mlp, tmp_path, caplog,
                                           code):
    """A CPU-only Ray: one CPU per trial, whether asked ("auto") or left out (Keras Tuner)."""
    import logging

    import raytune_hpt as kt

    (x, y), val = digits
    if code == "tuner_auto":
        tuner = kt.Tuner(build_mlp, objective="val_accuracy", max_trials=2, resources="auto",
                         storage_path=str(tmp_path), name="auto", verbose=0, seed=0)
    else:
        tuner = kt.RandomSearch(build_mlp, objective="val_accuracy", max_trials=2,
                                directory=str(tmp_path), verbose=0, seed=0)
    with caplog.at_level(logging.INFO, logger="raytune_hpt"):
        results = tuner.search(x[:200], y[:200], validation_data=val, epochs=1, batch_size=64)
    assert tuner.resources.cpu == 1 and tuner.resources.gpu == 0
    assert {t.status for t in results.trials} == {"finished"}
    assert ("Trials: 1 CPU each (no GPU here: one CPU per trial); up to 2 at once on a Ray "
            "of 2 CPUs.") in caplog.text
    assert "2 trials (cpu=1 each); at most" in caplog.text
    row = results.trials[0].history[0]  # the placement is in the first report
    assert row["tf_threads"] == 1 and row["tf_strategy"] == "default"
    assert not any(k.startswith("tf_") for k in results.trials[0].metrics)  # not user metrics


@pytest.fixture(scope="module")
def two_nodes():
    """A real two-node Ray cluster (scripts/cluster_up.sh): head 1 CPU + 2 GPUs, worker
    1 CPU + 1 GPU, own ports and temp dir, token auth; always stopped, by its process ids."""
    options = ("--workers", "1", "--head-cpus", "1", "--head-gpus", "2", "--worker-cpus", "1",
               "--worker-gpus", "1")
    with local_cluster(*options, env=_env(), prefix="rthr-") as (_, exports):
        yield exports


@pytest.mark.cluster
def test_trials_land_on_both_nodes_and_say_so(two_nodes, tmp_path):
    env = _env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=two_nodes["RAY_AUTH_TOKEN_PATH"])
    report = run_scenario(tmp_path, "two_nodes", two_nodes["RAYTUNE_HPT_GCS_ADDRESS"], env=env)
    nodes = report["nodes"]
    assert len(nodes) == 2
    trials = report["spread"]["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 2
    assert {t["node_id"] for t in trials} == set(nodes)  # one trial on each node
    assert report["spread"]["max_at_once"] == 2
    for t in trials:
        assert t["gpu_ids"] == t["tf_cuda_visible_devices"] != ""
        assert nodes[t["node_id"]]["GPU"] >= 1
