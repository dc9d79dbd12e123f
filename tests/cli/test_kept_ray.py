"""``raytune-hpt up`` keeps a local Ray for the next scripts, a script's search joins it and
says so, ``raytune-hpt down`` stops it and only it (issue 25).

Each command and the script run as real subprocesses. The kept Ray's address file lives in
the test's own folder (``RAYTUNE_HPT_STATE_DIR``), so no other process on the machine finds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import raytune_hpt as rth

    class Square(rth.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            x = trial.hyperparameters.Float("x", -1.0, 1.0)
            return x * x + 1

    tuner = Square(max_trials=2, seed=1, objective=rth.Objective("score", "min"),
                   directory=".", project_name="square")
    tuner.search()
    print("BEST", tuner.oracle.get_best_trials(1)[0].score)
''')


def _run(args, env, cwd, timeout=180):
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_up_keeps_a_ray_that_scripts_join_and_down_stops_it(tmp_path):
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state")}
    env.pop("RAY_ADDRESS", None)
    cli = [sys.executable, "-m", "raytune_hpt"]
    state = tmp_path / "state" / "kept_ray.json"
    try:
        up = _run([*cli, "up", "--num-cpus", "1"], env, tmp_path)
        assert up.returncode == 0, up.stderr
        assert "raytune-hpt down" in up.stdout
        kept = json.loads(state.read_text())
        assert kept["cpus"] == 1 and _alive(kept["pid"])

        again = _run([*cli, "up"], env, tmp_path)
        assert again.returncode == 1 and "already kept up" in again.stderr

        (tmp_path / "script.py").write_text(SCRIPT)
        script = _run([sys.executable, "script.py"], env, tmp_path, timeout=300)
        assert script.returncode == 0, script.stderr[-3000:]
        lines = script.stdout.splitlines()
        assert any(line.startswith("Using the local Ray kept up by `raytune-hpt up` at "
                                   f"{kept['address']}") for line in lines), script.stdout
        # the kept Ray's single CPU, not a new Ray sized to this machine
        assert any("on a Ray of 1 CPU" in line for line in lines), script.stdout
        assert any(line.startswith("BEST ") for line in lines)
        assert _alive(kept["pid"])  # the script's end leaves the kept Ray up
    finally:
        down = _run([*cli, "down"], env, tmp_path)
    assert down.returncode == 0 and "Stopped the local Ray" in down.stdout
    assert not state.exists() and not _alive(kept["pid"])
    assert "No local Ray was kept up." in _run([*cli, "down"], env, tmp_path).stdout


def test_a_state_folder_others_can_write_is_never_trusted(tmp_path, monkeypatch):
    """A folder someone else could write to might hold an address file that points searches
    (and the Ray token they send) at another Ray: it is ignored, and ``up`` refuses it."""
    from raytune_hpt.driver import _kept_ray

    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "kept_ray.json").write_text(json.dumps(
        {"address": "203.0.113.9:6379", "pid": os.getpid(), "cpus": 2, "gpus": 0,
         "started": 0}))
    monkeypatch.setenv("RAYTUNE_HPT_STATE_DIR", str(folder))
    folder.chmod(0o700)
    assert _kept_ray.find().address == "203.0.113.9:6379"  # a private folder is read
    folder.chmod(0o777)
    assert _kept_ray.find() is None
    with pytest.raises(RuntimeError, match="no one else can write to"):
        _kept_ray.start()
