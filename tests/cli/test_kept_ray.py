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
import time

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
    """A running process (one that ended but is not yet reaped is not)."""
    from raytune_hpt.driver import _kept_ray

    return _kept_ray.process_identity(pid) is not None


def _non_loopback_listeners(pid: int) -> list[str]:
    """Addresses the process tree of ``pid`` listens on beyond the loopback interface."""
    import ray  # noqa: F401  (puts Ray's bundled psutil on the path)
    # isort: split
    import psutil

    root = psutil.Process(pid)
    found = []
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.Error:
            continue
        for connection in connections:
            host = connection.laddr.ip.removeprefix("::ffff:")
            if connection.status == psutil.CONN_LISTEN and host not in ("127.0.0.1", "::1"):
                found.append(f"{process.name()} {connection.laddr.ip}:{connection.laddr.port}")
    return found


@pytest.mark.slow
def test_up_keeps_a_ray_that_scripts_join_and_down_stops_it(tmp_path):
    # a home of its own: the token file Ray writes there is this test's
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state"),
           "HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_MODE", None)
    cli = [sys.executable, "-m", "raytune_hpt"]
    state = tmp_path / "state" / "kept_ray.json"
    try:
        up = _run([*cli, "up", "--num-cpus", "1"], env, tmp_path)
        assert up.returncode == 0, up.stderr
        assert "raytune-hpt down" in up.stdout
        kept = json.loads(state.read_text())
        assert kept["cpus"] == 1 and _alive(kept["pid"])
        # safe to keep: loopback only, a private token, the process recorded
        assert kept["address"].startswith("127.0.0.1:"), kept
        assert _non_loopback_listeners(kept["pid"]) == []
        token = tmp_path / "home" / ".ray" / "auth_token"
        assert token.stat().st_mode & 0o777 == 0o600
        assert kept["process_start"] and "raytune_hpt.driver._kept_ray" in kept["command"]

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
    start, command = _kept_ray.process_identity(os.getpid())
    (folder / "kept_ray.json").write_text(json.dumps(
        {"address": "203.0.113.9:6379", "pid": os.getpid(), "cpus": 2, "gpus": 0,
         "started": 0, "process_start": start, "command": command}))
    monkeypatch.setenv("RAYTUNE_HPT_STATE_DIR", str(folder))
    folder.chmod(0o700)
    assert _kept_ray.find().address == "203.0.113.9:6379"  # a private folder is read
    folder.chmod(0o777)
    assert _kept_ray.find() is None
    with pytest.raises(RuntimeError, match="no one else can write to"):
        _kept_ray.start()


def test_up_refuses_to_keep_a_ray_without_token_authentication(tmp_path):
    """``RAY_AUTH_MODE=disabled`` (Ray's own start-up notice suggests it) would leave a
    long-lived Ray that anyone who reaches it can run code on: ``up`` refuses, starting
    nothing."""
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state"),
           "RAY_AUTH_MODE": "disabled"}
    cli = [sys.executable, "-m", "raytune_hpt"]
    try:
        up = _run([*cli, "up", "--num-cpus", "1"], env, tmp_path)
        assert up.returncode == 2, up.stdout + up.stderr
        assert "RAY_AUTH_MODE must be unset or 'token'" in up.stderr
        assert "'disabled'" in up.stderr
        assert not (tmp_path / "state" / "kept_ray.json").exists()
    finally:  # on a version that started one anyway
        _run([*cli, "down"], {**env, "RAY_AUTH_MODE": "token"}, tmp_path)


@pytest.mark.parametrize("recorded", ["another process", "nothing (an older file)"])
def test_a_stale_state_file_whose_process_id_was_reused_is_never_trusted(tmp_path, recorded):
    """The kept Ray was killed (kill -9, out of memory) and its process id now belongs to an
    unrelated process: ``down`` leaves that process alone, and no search joins the dead
    address (the file is dropped)."""
    from raytune_hpt.driver import _kept_ray

    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        folder = tmp_path / "state"
        folder.mkdir(mode=0o700)
        state = {"address": "127.0.0.1:9", "pid": unrelated.pid, "cpus": 2, "gpus": 0,
                 "started": 0}
        if recorded == "another process":
            start, command = _kept_ray.process_identity(os.getpid())
            state.update(process_start=start, command=command)
        (folder / "kept_ray.json").write_text(json.dumps(state))
        env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(folder)}
        down = _run([sys.executable, "-m", "raytune_hpt", "down"], env, tmp_path)
        assert down.returncode == 0, down.stderr
        assert "No local Ray was kept up." in down.stdout
        assert unrelated.poll() is None, "down signalled a process that is not the kept Ray"
        assert not (folder / "kept_ray.json").exists()
    finally:
        unrelated.kill()
        unrelated.wait()


def test_the_recorded_process_is_trusted_while_it_is_the_same(tmp_path, monkeypatch):
    from raytune_hpt.driver import _kept_ray

    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    start, command = _kept_ray.process_identity(os.getpid())
    (folder / "kept_ray.json").write_text(json.dumps(
        {"address": "127.0.0.1:9", "pid": os.getpid(), "cpus": 2, "gpus": 0, "started": 0,
         "process_start": start, "command": command}))
    monkeypatch.setenv("RAYTUNE_HPT_STATE_DIR", str(folder))
    assert _kept_ray.find().pid == os.getpid()


def _fake_raylet(gcs_address: str, as_user: list[str]) -> subprocess.Popen:
    """A process that Ray's own discovery takes for a raylet serving ``gcs_address``."""
    # bash named raylet, its argument the raylet's flag (``sleep; :`` keeps bash itself)
    return subprocess.Popen([*as_user, "bash", "-c", 'exec -a /opt/ray/raylet bash -c '
                             f'"sleep 120; :" bash --gcs-address={gcs_address}'],
                            cwd="/")


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0
                    or not os.path.exists("/usr/bin/setpriv"),
                    reason="runs a process as another user (root and setpriv)")
def test_a_ray_start_left_by_another_user_is_not_joined(tmp_path, monkeypatch):
    """``ray_current_cluster`` in the shared temporary folder names a Ray whose raylet runs
    as another user: a search would run this user's code there (and send it the token). It
    is not taken for a running local Ray; the same Ray of this user is."""
    from ray._private.services import find_gcs_addresses

    from raytune_hpt.driver import _ray_session

    address = "127.0.0.1:6"
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(address)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    for as_user, expected in ((nobody, None), ([], address)):
        raylet = _fake_raylet(address, as_user)
        try:
            deadline = time.monotonic() + 30
            while address not in find_gcs_addresses() and time.monotonic() < deadline:
                find_gcs_addresses.cache_clear()
                time.sleep(0.1)
            assert address in find_gcs_addresses()  # Ray itself would join it
            assert _ray_session.ray_start_address_of_this_user() == expected
        finally:
            raylet.kill()
            raylet.wait()
            find_gcs_addresses.cache_clear()


def test_up_refuses_a_warm_worker_count_that_is_not_a_number(tmp_path):
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state"),
           "RAYTUNE_HPT_WARM_WORKERS": "some"}
    up = _run([sys.executable, "-m", "raytune_hpt", "up"], env, tmp_path)
    assert up.returncode == 2, up.stdout + up.stderr
    assert "RAYTUNE_HPT_WARM_WORKERS must be a whole number of workers" in up.stderr
    assert not (tmp_path / "state" / "kept_ray.json").exists()


TOGETHER = textwrap.dedent('''
    import os, sys, time
    import raytune_hpt as rth

    FOLDER = sys.argv[1]

    class Together(rth.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            x = trial.hyperparameters.Float("x", -1.0, 1.0)
            open(os.path.join(FOLDER, f"trial-{os.getpid()}"), "w").close()
            deadline = time.monotonic() + 120  # every trial waits for the others
            while (sum(n.startswith("trial-") for n in os.listdir(FOLDER)) < 4
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            return x * x

    hp = rth.HyperParameters()
    hp.Float("x", -1.0, 1.0)  # declared up front: no first trial alone to find the space
    tuner = Together(max_trials=4, seed=1, objective=rth.Objective("score", "min"),
                     hyperparameters=hp, directory=".", project_name="together")
    tuner.search()
    print("DONE")
''')


def _ray_workers(pid: int) -> set[int]:
    """The Python workers of the kept Ray whose process is ``pid``."""
    import ray  # noqa: F401  (puts Ray's bundled psutil on the path)
    # isort: split
    import psutil

    found = set()
    for process in psutil.Process(pid).children(recursive=True):
        title = " ".join(process.cmdline())  # Ray names its workers ray::IDLE, ray::<actor>
        if title.startswith("ray::") and "Agent" not in title:
            found.add(process.pid)
    return found


@pytest.mark.slow
def test_the_first_script_after_up_runs_every_trial_on_a_warm_worker(tmp_path):
    """``up`` returns once its warm workers have imported TensorFlow, and a script's trials
    take them, all at once: before, a script that came while they were still importing got
    none, and with as many warm workers as CPUs Ray ended them as surplus idle workers when
    the script started its own (the trials then paid a new process and TensorFlow's import).
    """
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state"),
           "HOME": str(tmp_path / "home")}
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAYTUNE_HPT_WARM_WORKERS"):
        env.pop(name, None)
    cli = [sys.executable, "-m", "raytune_hpt"]
    pids = tmp_path / "pids"
    pids.mkdir()
    try:
        up = _run([*cli, "up", "--num-cpus", "4"], env, tmp_path)
        assert up.returncode == 0, up.stderr
        assert "4 warm workers" in up.stdout, up.stdout
        kept = json.loads((tmp_path / "state" / "kept_ray.json").read_text())
        assert kept["warm"] == 4, kept
        warm = _ray_workers(kept["pid"])
        assert len(warm) == 4, warm
        (tmp_path / "script.py").write_text(TOGETHER)
        script = _run([sys.executable, "script.py", str(pids)], env, tmp_path, timeout=300)
        assert script.returncode == 0 and "DONE" in script.stdout, script.stderr[-3000:]
        trials = {int(name.split("-")[1]) for name in os.listdir(pids)}
        assert len(trials) == 4 and trials <= warm, (trials, warm)
    finally:
        down = _run([*cli, "down"], env, tmp_path)
    assert down.returncode == 0, down.stderr
