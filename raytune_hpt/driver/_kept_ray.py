"""A local Ray kept up between scripts: ``raytune-hpt up`` starts it, ``raytune-hpt down``
stops it, and every ``search()`` on this machine with no address joins it.

Starting a local Ray costs every script a few seconds (docs/performance.md). This
keeps one up for the scripts that follow, in the spirit of ``ray start --head``, with three
differences that make it safe to leave to a user:

* it is a Ray started by ``ray.init`` in a process of its own (:func:`serve`), not ``ray
  start``: it writes no ``/tmp/ray/ray_current_cluster``, so no other program's
  ``ray.init()`` joins it by surprise, and ``down`` stops this Ray only (``ray stop`` kills
  every Ray of the user);
* its address, process id, the process's start time and command line are in one file
  (:func:`state_file`), which ``search()`` reads; a file whose process is gone, or whose
  process id now names another process (the number reused after a kill), is ignored and
  removed, and ``down`` never signals a process that is not the kept one;
* each search that joins it says so in one line, with the command that stops it.

Kept for a long time, it is kept safe: it runs only with Ray's token authentication
(``up`` refuses ``RAY_AUTH_MODE`` set to anything else), every port it opens listens on
the loopback interface only (:func:`_ray_compat.loopback_only`), and the token file is
made private to its user (0600).

Ray gives every script (every Ray job) its own worker processes, so a kept Ray saves the
start of Ray, not the workers' import of TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from raytune_hpt.worker import READY_VARIABLE, ready_workers

__all__ = ["KeptRay", "check_token_auth", "find", "main", "process_identity", "serve", "start",
           "state_file", "stop"]

logger = logging.getLogger(__name__)

#: Seconds ``up`` waits for the new Ray to write its address, and ``down`` for it to end.
START_TIMEOUT_S = 150.0
#: Of those, seconds the new Ray waits for its warm workers to import TensorFlow (2 cores:
#: 8 workers take about 20 s); then it says how many are ready and serves anyway.
WARM_READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KeptRay:
    """The kept Ray: its GCS address, the process that holds it, and what it offers."""

    address: str
    pid: int
    cpus: float
    gpus: float
    started: float
    process_start: str = ""
    command: str = ""
    warm: int = 0

    def describe(self) -> str:
        warm = f", {self.warm} warm workers" if self.warm else ""
        return (f"the local Ray kept up by `raytune-hpt up` at {self.address} "
                f"({self.cpus:g} CPUs, {self.gpus:g} GPUs{warm}; stop it with "
                "`raytune-hpt down`)")


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


def process_identity(pid: int) -> tuple[str, str] | None:
    """When process ``pid`` started and its command line, or None when there is no such
    process of this user. A process id is reused once its process has ended; the pair is
    not (the start time is the kernel's, to the clock tick)."""
    proc = f"/proc/{pid}"
    if os.path.isdir("/proc/self"):
        try:
            if os.stat(proc).st_uid != os.getuid():
                return None
            with open(f"{proc}/stat", "rb") as file:
                # the fields after the command name, which may hold spaces and parentheses
                fields = file.read().rsplit(b")", 1)[1].split()
            with open(f"{proc}/cmdline", "rb") as file:
                command = file.read().rstrip(b"\0").replace(b"\0", b" ")
        except (OSError, IndexError):
            return None
        if fields[0] == b"Z":  # ended, not yet reaped
            return None
        return f"{_boot_time()}+{int(fields[19])}", command.decode("utf-8", "replace")
    try:  # no /proc (macOS): ps says the same
        out = subprocess.run(["ps", "-ww", "-p", str(pid), "-o", "uid=,lstart=,command="],
                             capture_output=True, text=True, timeout=10).stdout.split(None, 6)
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 7 or out[0] != str(os.getuid()):
        return None
    return " ".join(out[1:6]), out[6].strip()


def _boot_time() -> str:
    with open("/proc/stat") as file:
        return next((line.split()[1] for line in file if line.startswith("btime")), "")


def _is_kept_process(kept: KeptRay) -> bool:
    """``kept.pid`` is still the process that wrote the state file."""
    return bool(kept.process_start) and process_identity(kept.pid) == (
        kept.process_start, kept.command)


def _still_running(kept: KeptRay) -> bool:
    """The kept process has not ended yet (its start time identifies it; its command line
    reads empty while it exits)."""
    identity = process_identity(kept.pid)
    return identity is not None and identity[0] == kept.process_start


def find() -> KeptRay | None:
    """The kept Ray, if one is up. A stale file (its process gone, or its process id now
    another process's) is removed and its process id never used."""
    path = state_file()
    if not _private_folder(os.path.dirname(path)):
        return None
    try:
        with open(path) as file:
            state = json.load(file)
        kept = KeptRay(address=str(state["address"]), pid=int(state["pid"]),
                       cpus=float(state["cpus"]), gpus=float(state["gpus"]),
                       started=float(state["started"]),
                       process_start=str(state.get("process_start", "")),
                       command=str(state.get("command", "")),
                       warm=int(state.get("warm", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _is_kept_process(kept):
        logger.info("Ignoring %s: process %d is no longer the Ray `raytune-hpt up` kept.",
                    path, kept.pid)
        try:
            os.remove(path)
        except OSError:
            pass
        return None
    return kept


def check_token_auth() -> None:
    """A Ray kept for hours must require Ray's token: without it, anyone who reaches one of
    its ports can run code as this user.

    Raises:
        ValueError: ``RAY_AUTH_MODE`` is set to anything but ``token``.
    """
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None and mode.strip().lower() != "token":
        raise ValueError(
            "raytune-hpt up keeps a Ray only with Ray's token authentication: RAY_AUTH_MODE "
            f"must be unset or 'token', but it is {mode!r} in this environment (unset it).")


def start(num_cpus: int | None = None, num_gpus: int | None = None,
          warm_workers: int | None = None) -> KeptRay:
    """Start the kept Ray in a detached process and wait (bounded) for its address.

    Raises:
        ValueError: token authentication would be off (:func:`check_token_auth`), or
            ``RAYTUNE_HPT_WARM_WORKERS`` is not a number.
        RuntimeError: one is up already, or the new one did not come up in time (its log
            file is named).
    """
    check_token_auth()
    from raytune_hpt.driver._warm import warm_worker_count

    warm_worker_count(0)  # a bad RAYTUNE_HPT_WARM_WORKERS fails here, not in the new process
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
    if warm_workers is not None:
        command += ["--warm-workers", str(warm_workers)]
    from raytune_hpt._ray_compat import LOOPBACK_ENV, TUNE_ACTOR_DEFAULTS

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
           "RAY_AUTH_MODE": "token", **LOOPBACK_ENV, **TUNE_ACTOR_DEFAULTS,
           READY_VARIABLE: os.path.join(os.path.dirname(path), "warm_ready")}
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
    _signal(kept, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _still_running(kept):
        time.sleep(0.2)
    _signal(kept, signal.SIGKILL)
    try:
        os.remove(state_file())
    except OSError:
        pass
    return kept


def private_token_file() -> str | None:
    """Make the Ray token file this process uses private to its user (0600; Ray 2.60 writes
    ``~/.ray/auth_token`` with the default umask, 0644) and return its path (None: the token
    is in ``RAY_AUTH_TOKEN``, or no regular file of this user holds it). Ray reads the path
    from ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(
        os.path.expanduser("~"), ".ray", "auth_token")
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return None
        if info.st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        return None
    return path


def _signal(kept: KeptRay, signum: int) -> None:
    """Signal the kept process, only if its process id still names it."""
    if _is_kept_process(kept):
        try:
            os.kill(kept.pid, signum)
        except ProcessLookupError:
            pass


#: Warm workers ``up`` keeps by default: its CPUs, at most this many (a search of short
#: trials runs about as many at once as there are warm workers: docs/benchmarks.md).
DEFAULT_WARM_WORKERS = 8


def serve(num_cpus: int | None, num_gpus: int | None, warm_workers: int | None = None) -> None:
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
    check_token_auth()
    from raytune_hpt.driver._warm import WARM_MODULES, warm_worker_count

    cpus = num_cpus if num_cpus is not None else int(_ray_compat.local_cpu_count())
    warm = warm_worker_count(min(cpus, DEFAULT_WARM_WORKERS) if warm_workers is None
                             else min(cpus, warm_workers))
    ready_folder = _fresh_folder(os.environ.get(READY_VARIABLE, "") if warm else "")
    with _ray_compat.loopback_node(), \
            _ray_compat.warm_workers(warm, WARM_MODULES, idle_limit=cpus + warm) as warm_options:
        context = ray.init(include_dashboard=False, configure_logging=False,
                           log_to_driver=False, **warm_options, **options)
    private_token_file()
    if ready_folder:
        warm = _wait_for_warm_workers(ready_folder, warm)
    resources = ray.cluster_resources()
    path = state_file()
    partial = path + ".partial"
    process_start, command = process_identity(os.getpid()) or ("", "")
    with open(partial, "w") as file:
        json.dump({"address": context.address_info["gcs_address"], "pid": os.getpid(),
                   "cpus": resources.get("CPU", 0), "gpus": resources.get("GPU", 0),
                   "started": time.time(), "process_start": process_start,
                   "command": command, "warm": warm}, file)
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


def _fresh_folder(folder: str) -> str:
    """``folder`` emptied and made (private), or "" when there is none to make."""
    if not folder:
        return ""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, mode=0o700)
    return folder


def _wait_for_warm_workers(folder: str, count: int) -> int:
    """Wait (at most :data:`WARM_READY_TIMEOUT_S`) until ``count`` warm workers have
    imported TensorFlow (``worker._warm_ready``), then stop counting; how many are ready.
    A script that came sooner would not get them (Ray ends them as surplus)."""
    deadline = time.monotonic() + WARM_READY_TIMEOUT_S
    while (ready := ready_workers(folder)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    shutil.rmtree(folder, ignore_errors=True)
    if ready < count:
        logger.warning("%d of %d warm workers imported TensorFlow within %.0f s; serving "
                       "with them (the others start with the first trials).", ready, count,
                       WARM_READY_TIMEOUT_S)
    return ready


def main(argv: list[str]) -> None:
    """The kept Ray process's command line (what :func:`start` runs)."""
    import argparse

    parser = argparse.ArgumentParser(description="the local Ray of `raytune-hpt up`")
    parser.add_argument("--num-cpus", type=int, default=None)
    parser.add_argument("--num-gpus", type=int, default=None)
    parser.add_argument("--warm-workers", type=int, default=None)
    arguments = parser.parse_args(argv)
    serve(arguments.num_cpus, arguments.num_gpus, arguments.warm_workers)
