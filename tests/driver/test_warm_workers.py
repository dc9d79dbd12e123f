"""Ray's own warm workers (issue 32): a local Ray the package starts prestarts no more
workers than trials can run at once, each with TensorFlow and Keras already imported, and
Ray Tune's trial actors take them; on logical GPUs each trial still sees only its own.

Each check runs in a subprocess of its own: it starts a Ray with prestart, unlike the
session's shared Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from raytune_hpt.driver._warm import WARM_WORKERS_VARIABLE, warm_worker_count
from raytune_hpt.errors import ConfigurationError

PRELUDE = textwrap.dedent('''
    import json, os, sys, time
    import ray
    import psutil
    from ray import tune

    def session_workers():
        """The raylet's Python workers (named ray::IDLE and the like; not its agents)."""
        node = ray._private.worker._global_node
        raylet = psutil.Process(node.all_processes["raylet"][0].process.pid)
        return {p.pid for p in raylet.children()
                if "Agent" not in " ".join(p.cmdline()) and p.pid != os.getpid()}

    def wait_until_imported(pids, deadline_s=240):
        """Until each worker has TensorFlow's library mapped (its preload is done)."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            try:
                if all(any("libtensorflow" in m.path for m in psutil.Process(p).memory_maps())
                       for p in pids):
                    time.sleep(1)
                    return
            except psutil.Error:
                pass
            time.sleep(0.5)
        raise SystemExit("the warm workers did not import TensorFlow in time")

    def trainable(config):
        from raytune_hpt.worker._tf_setup import _configured
        if config.get("together"):  # every trial waits for the others: they run at once
            open(os.path.join(config["folder"], f"started-{os.getpid()}"), "w").close()
            deadline = time.monotonic() + 300
            while (sum(n.startswith("started-") for n in os.listdir(config["folder"]))
                   < config["together"] and time.monotonic() < deadline):
                time.sleep(0.2)
        tune.report({"pid": os.getpid(), "keras_preloaded": "keras" in sys.modules,
                     "tf_set_up": _configured is not None,
                     "cuda": os.environ.get("CUDA_VISIBLE_DEVICES", "")})

    def run(name, resources, samples, together=0):
        tuner = tune.Tuner(tune.with_resources(trainable, resources),
                           param_space={"together": together, "folder": sys.argv[1]},
                           tune_config=tune.TuneConfig(num_samples=samples, reuse_actors=True),
                           run_config=tune.RunConfig(name=name, storage_path=sys.argv[1],
                                                     verbose=0))
        return [r.metrics for r in tuner.fit()]
''')

TAKES_WARM_WORKERS = PRELUDE + textwrap.dedent('''
    from raytune_hpt.driver._ray_session import start_ray, trial_actors_on_warm_workers

    start_ray(None, log_to_driver=False, verbose=0, warm_workers=1)
    prestarted = session_workers()
    wait_until_imported(prestarted)
    plain = run("plain", {"cpu": 1}, 1)  # as Ray Tune makes its actors
    with trial_actors_on_warm_workers():
        warm = run("warm", {"cpu": 1}, 1)
    print("RESULT", json.dumps({"cpus": ray.cluster_resources()["CPU"],
                                "prestarted": sorted(prestarted),
                                "plain": plain, "warm": warm,
                                "env_left": os.environ.get("PL_DISABLE_FORK")}))
''')

GPUS = PRELUDE + textwrap.dedent('''
    from raytune_hpt import _ray_compat
    from raytune_hpt.driver._warm import WARM_MODULES

    with _ray_compat.warm_workers(2, WARM_MODULES) as options:
        ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False,
                 **options)
    wait_until_imported(session_workers())
    with _ray_compat.tune_actors_inherit(_ray_compat.TUNE_ACTOR_DEFAULTS):
        trials = run("gpus", {"cpu": 1, "gpu": 1}, 2, together=2)
    print("RESULT", json.dumps({"trials": trials}))
''')


def _result(script: str, tmp_path) -> dict:
    env = {**os.environ}
    for name in ("RAY_ADDRESS", WARM_WORKERS_VARIABLE, "PL_DISABLE_FORK"):
        env.pop(name, None)
    env["RAYTUNE_HPT_STATE_DIR"] = str(tmp_path / "no-kept-ray")  # never join one
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.slow
def test_trial_actors_take_the_warm_workers_and_no_more_start_than_trials(tmp_path):
    result = _result(TAKES_WARM_WORKERS, tmp_path)
    # one warm worker for one trial at once, not one per CPU
    assert len(result["prestarted"]) == 1, result
    [plain], [warm] = result["plain"], result["warm"]
    # Ray Tune's own actor (PL_DISABLE_FORK in its runtime_env) never takes it ...
    assert plain["pid"] not in result["prestarted"], result
    # ... the same actor without what the workers already have does, TensorFlow loaded
    assert warm["pid"] in result["prestarted"], result
    assert warm["keras_preloaded"] and not warm["tf_set_up"], warm
    assert result["env_left"] is None  # the driver's environment is as it was


@pytest.mark.slow
def test_warm_workers_leave_each_gpu_trial_its_own_gpu(tmp_path):
    """The preload imports only: CUDA_VISIBLE_DEVICES, which Ray sets per trial on logical
    GPUs, is still each trial's own."""
    trials = _result(GPUS, tmp_path)["trials"]
    assert len({t["pid"] for t in trials}) == 2, trials  # at once, in two workers
    assert sorted(t["cuda"] for t in trials) == ["0", "1"], trials
    assert all(t["keras_preloaded"] for t in trials), trials


def test_no_more_warm_workers_than_trials_at_once_or_the_users_limit(monkeypatch):
    monkeypatch.delenv(WARM_WORKERS_VARIABLE, raising=False)
    assert warm_worker_count(4) == 4
    monkeypatch.setenv(WARM_WORKERS_VARIABLE, "0")
    assert warm_worker_count(4) == 0
    monkeypatch.setenv(WARM_WORKERS_VARIABLE, "2")
    assert warm_worker_count(4) == 2 and warm_worker_count(1) == 1
    monkeypatch.setenv(WARM_WORKERS_VARIABLE, "many")
    with pytest.raises(ConfigurationError, match="whole number of workers.*'many'"):
        warm_worker_count(4)
