"""Helpers for the reliability tests: the command as a real subprocess, a tiny slow model,
reading an experiment folder as a crash left it, and cleaning up what a test started.

Every test that starts Ray does it in a subprocess with its own short ``RAY_TMPDIR`` (Unix
socket paths must stay under 107 bytes), so the session-scoped ``ray_local`` fixture of the
other tests is never disturbed, and "did Ray start?" is "does that folder exist?".
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/_helpers -> repo
BIN = Path(sys.executable).parent

# A HyperModel whose epochs take a known time (so a test can catch trials mid-run) and whose
# one hyperparameter is a Choice of six values (a grid of six trials).
SLOW_MODEL = """\
import os
import time

import keras

from raytune_hpt import HyperModel

EPOCH_SECONDS = float(os.environ.get("RTH_EPOCH_SECONDS", "1.0"))


class _Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(EPOCH_SECONDS)


class Model(HyperModel):
    def build(self, hp):
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(hp.Choice("units", [4, 8, 12, 16, 20, 24]), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        return model.fit(*args, callbacks=[_Slow(), *(callbacks or [])], **kwargs)
"""


def experiment_yaml(
    name: str, *, searcher: str = "grid", epochs: int = 4, max_trials: int = 6, extra: str = ""
) -> str:
    return (
        f"name: {name}\n"
        "model: model.py:Model\n"
        "data: {dataset: digits, validation_split: 0.2}\n"
        "objective: val_accuracy\n"
        f"searcher: {searcher}\n"
        f"max_trials: {max_trials}\n"
        f"fit: {{epochs: {epochs}, batch_size: 256}}\n"
        "resources: {cpu: 1}\n"
        "seed: 0\n" + extra
    )


def ray_tmpdir() -> Path:
    """A short, fresh folder for Ray's session files (socket paths must stay short)."""
    return Path(tempfile.mkdtemp(prefix="rthr-", dir="/tmp"))


def env(ray_tmp: Path | None = None, **extra: str) -> dict[str, str]:
    """This environment without any Ray address or token, with this venv's commands first."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")
    }
    environment["PATH"] = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    environment["RAY_USAGE_STATS_ENABLED"] = "0"
    environment["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"] = "0"
    if ray_tmp is not None:
        environment["RAY_TMPDIR"] = str(ray_tmp)
    environment.update(extra)
    return environment


def cli(
    *args: str, cwd: Path, environment: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess:
    """``raytune-hpt ARGS`` as a real subprocess, waited for."""
    return subprocess.run(
        [sys.executable, "-m", "raytune_hpt", *map(str, args)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(*args: str, cwd: Path, environment: dict[str, str], log: Path) -> subprocess.Popen:
    """``raytune-hpt ARGS`` in its own process group (so the whole group can be killed)."""
    out = open(log, "w")  # noqa: SIM115 - closed by the child's exit
    return subprocess.Popen(
        [sys.executable, "-m", "raytune_hpt", *map(str, args)],
        cwd=cwd,
        env=environment,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> None:
    """``kill -9`` the process and everything in its process group (the Ray it started)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=60)


def kill_leftovers(marker: str) -> list[int]:
    """SIGKILL the processes whose command line mentions ``marker`` (a folder a test made).

    Returns the pids that were still alive: Ray's processes should die with their driver.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in command:
            found.append(int(entry.name))
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
    return found


def progress_rows(trial_dir: Path) -> list[dict[str, str]]:
    path = trial_dir / "progress.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def trial_dirs(experiment: Path) -> dict[str, Path]:
    """Trial folders by trial id (``run_trial_<id>_<n>_...``)."""
    return {p.name.split("_")[2]: p for p in experiment.glob("run_trial_*") if p.is_dir()}


def checkpoints(trial_dir: Path) -> list[str]:
    return sorted(p.name for p in trial_dir.glob("checkpoint_*"))


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            text = log.read_text()[-3000:] if log is not None else ""
            raise AssertionError(
                f"the process ended (rc {process.returncode}) before {what}:\n{text}"
            )
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
