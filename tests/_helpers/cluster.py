"""Helpers for the cluster tests: the `raytune-hpt` command as a subprocess, a tiny experiment.

Everything that talks to a cluster runs in subprocesses: the pytest process may already be
connected to the session's local Ray (tests/conftest.py), which these tests leave alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/_helpers -> repo
SCRIPTS = ROOT / "scripts"
BIN = Path(sys.executable).parent

EXPERIMENT = """\
name: tiny
model: model.py:build_model
data: {dataset: digits, validation_split: 0.2}
objective: val_accuracy
searcher: random
max_trials: 2
fit: {epochs: 1, batch_size: 64}
resources: {cpu: 1, gpu: 0}
seed: 0
"""

MODEL = """\
import keras


def build_model(hp):
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Ray address or token, with this venv's commands first."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "RAY_ADDRESS",
            "RAY_API_SERVER_ADDRESS",
            "RAY_AUTH_TOKEN",
            "RAY_AUTH_TOKEN_PATH",
            "RAY_AUTH_MODE",
        )
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra)
    return env


def cli(
    *args: str, env: dict[str, str], timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """`raytune-hpt ARGS` as a real subprocess."""
    return subprocess.run(
        [str(BIN / "raytune-hpt"), *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line(stderr: str) -> str:
    """The only non-empty line of stderr; fails when there are more (a traceback, log noise)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    return lines[0]
