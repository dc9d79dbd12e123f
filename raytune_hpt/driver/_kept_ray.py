"""A local Ray kept up between scripts: ``raytune-hpt up`` starts it, ``raytune-hpt down``
stops it, and every ``search()`` on this machine with no address joins it.

Starting a local Ray costs every script a few seconds (docs/performance.md). This
keeps one up for the scripts that follow, in the spirit of ``ray start --head``, with three
differences that make it safe to leave to a user:

* it is a Ray started by ``ray.init`` in a process of its own (:func:`serve`), not ``ray
  start``: it writes no ``/tmp/ray/ray_current_cluster``, so no other program's
  ``ray.init()`` joins it by surprise, and ``down`` stops this Ray only (``ray stop`` kills
  every Ray of the user);
* its address and process id are in one file (:func:`state_file`), which ``search()`` reads;
  a file whose process is gone is ignored and removed;
* each search that joins it says so in one line, with the command that stops it.

Ray gives every script (every Ray job) its own worker processes, so a kept Ray saves the
start of Ray, not the workers' import of TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["KeptRay", "find", "main", "serve", "start", "state_file", "stop"]

logger = logging.getLogger(__name__)

#: Seconds ``up`` waits for the new Ray to write its address, and ``down`` for it to end.
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KeptRay:
    """The kept Ray: its GCS address, the process that holds it, and what it offers."""

    address: str
    pid: int
    cpus: float
    gpus: float
    started: float

    def describe(self) -> str:
        return (f"the local Ray kept up by `raytune-hpt up` at {self.address} "
                f"({self.cpus:g} CPUs, {self.gpus:g} GPUs; stop it with `raytune-hpt down`)")


def state_file() -> str:
    """Where the kept Ray's address is written: one per user of this machine."""
    folder = os.environ.get("RAYTUNE_HPT_STATE_DIR") or os.path.join(
        tempfile.gettempdir(), f"raytune_hpt-{os.getuid()}")
    return os.path.join(folder, "kept_ray.json")


def _private_folder(folder: str) -> bool:
    """The state folder is a real folder of this user that no one else can write to: a
    folder someone else made in the shared temporary directory could point searches (and
    the Ray token they send) at their own Ray."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & 0o022)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the number
        return False
    return True


def find() -> KeptRay | None:
    """The kept Ray, if one is up (a stale file, whose process is gone, is removed)."""
    path = state_file()
    if not _private_folder(os.path.dirname(path)):
        return None
    try:
        with open(path) as file:
            state = json.load(file)
        kept = KeptRay(address=str(state["address"]), pid=int(state["pid"]),
                       cpus=float(state["cpus"]), gpus=float(state["gpus"]),
                       started=float(state["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(kept.pid):
        try:
            os.remove(path)
        except OSError:
            pass
        return None
    return kept


def start(num_cpus: int | None = None, num_gpus: int | None = None) -> KeptRay:
    """Start the kept Ray in a detached process and wait (bounded) for its address.

    Raises:
        RuntimeError: one is up already, or the new one did not come up in time (its log
            file is named).
    """
    running = find()
    if running is not None:
        raise RuntimeError(f"A local Ray is already kept up: {running.describe()}.")
    path = state_file()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if not _private_folder(os.path.dirname(path)):
        raise RuntimeError(f"{os.path.dirname(path)} must be a folder of this user that no "
                           "one else can write to; it is not (remove it, or set "
                           "RAYTUNE_HPT_STATE_DIR to another folder).")
    log_path = os.path.join(os.path.dirname(path), "kept_ray.log")
    command = [sys.executable, "-c", "import sys; from raytune_hpt.driver._kept_ray import main; "
               "main(sys.argv[1:])"]
    if num_cpus is not None:
        command += ["--num-cpus", str(num_cpus)]
    if num_gpus is not None:
        command += ["--num-gpus", str(num_gpus)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        kept = find()
        if kept is not None and kept.pid == process.pid:
            return kept
        if process.poll() is not None:
            raise RuntimeError(f"The local Ray did not start (exit code {process.returncode}); "
                               f"see {log_path}.")
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"The local Ray did not start within {START_TIMEOUT_S:.0f} s; "
                       f"see {log_path}.")


def stop() -> KeptRay | None:
    """Stop the kept Ray (bounded wait); None when none was up."""
    kept = find()
    if kept is None:
        return None
    os.kill(kept.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(kept.pid):
        time.sleep(0.2)
    if _alive(kept.pid):
        os.kill(kept.pid, signal.SIGKILL)
    try:
        os.remove(state_file())
    except OSError:
        pass
    return kept


def serve(num_cpus: int | None, num_gpus: int | None) -> None:
    """The kept Ray's own process: start Ray, write the state file, wait for SIGTERM."""
    import ray

    from raytune_hpt import _ray_compat

    ended = False

    def end(signum: int, frame: Any) -> None:
        nonlocal ended
        ended = True

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)
    options: dict[str, Any] = {}
    if num_cpus is not None:
        options["num_cpus"] = num_cpus
    if num_gpus is not None:
        options["num_gpus"] = num_gpus
    context = ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False,
                       **_ray_compat.no_worker_prestart(), **options)
    resources = ray.cluster_resources()
    path = state_file()
    partial = path + ".partial"
    with open(partial, "w") as file:
        json.dump({"address": context.address_info["gcs_address"], "pid": os.getpid(),
                   "cpus": resources.get("CPU", 0), "gpus": resources.get("GPU", 0),
                   "started": time.time()}, file)
    os.replace(partial, path)
    try:
        while not ended:
            time.sleep(0.5)
    finally:
        try:
            with open(path) as file:
                if json.load(file).get("pid") == os.getpid():
                    os.remove(path)
        except (OSError, ValueError):
            pass
        ray.shutdown()


def main(argv: list[str]) -> None:
    """The kept Ray process's command line (what :func:`start` runs)."""
    import argparse

    parser = argparse.ArgumentParser(description="the local Ray of `raytune-hpt up`")
    parser.add_argument("--num-cpus", type=int, default=None)
    parser.add_argument("--num-gpus", type=int, default=None)
    arguments = parser.parse_args(argv)
    serve(arguments.num_cpus, arguments.num_gpus)
