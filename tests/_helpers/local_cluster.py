"""A real Ray cluster of several nodes on this machine, for the tests that need one.

``scripts/cluster_up.sh`` starts it with its own ports and temp dir and token auth on;
``scripts/cluster_down.sh`` always stops it, by the process ids the start-up recorded, so the
session's local Ray (tests/conftest.py) is left alone.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@contextlib.contextmanager
def local_cluster(*options: str, env: dict[str, str], prefix: str = "rthc-",
                  timeout: int = 150) -> Iterator[tuple[Path, dict[str, str]]]:
    """Start a cluster with ``cluster_up.sh OPTIONS``; yield (its temp dir, its exports).

    The exports are what ``eval "$(scripts/cluster_up.sh ...)"`` sets: ``RAY_ADDRESS``,
    ``RAY_AUTH_TOKEN_PATH``, ``RAYTUNE_HPT_GCS_ADDRESS``.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # short: socket paths
    try:
        up = subprocess.run(
            ["bash", str(SCRIPTS / "cluster_up.sh"), *options, "--temp-dir", str(folder),
             "--token-file", str(folder / "auth_token"), "--timeout", str(timeout)],
            env=env, capture_output=True, text=True, timeout=timeout + 250,
        )
        assert up.returncode == 0, f"cluster_up.sh failed:\n{up.stderr[-3000:]}"
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in up.stdout.splitlines()
            if line.startswith("export ")
        )
        yield folder, exports
    finally:
        subprocess.run(["bash", str(SCRIPTS / "cluster_down.sh"), "--temp-dir", str(folder)],
                       env=env, capture_output=True, timeout=120)
        with contextlib.suppress(OSError):  # cluster_down.sh empties a folder it did not make
            folder.rmdir()
