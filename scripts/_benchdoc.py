"""Helpers shared by the benchmark scripts: load averages and docs/benchmarks.md sections.

Every figure a benchmark prints carries the 1-minute load average read just before and just
after it was measured, so a table taken on a busy machine says so.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"  # the lab record; docs/performance.md sums it up for users
IMG = ROOT / "docs" / "img"

# The order of the sections in docs/benchmarks.md; a missing one is created in this order.
SECTIONS = ["Overhead", "Search quality", "Early stopping (multi-fidelity)", "Scale", "Memory"]

HEADER = """# Benchmarks

Each section gives the exact command that produced it (run from the repository root after
`pip install -e .[bench]`), its table, a plot and what limits the figures. Every figure
carries the machine's 1-minute load average read just before and after it was taken
(`load a->b`): on the 2-core development machine a load above ~2 means other processes were
competing for the CPUs and the wall times are inflated.
"""


def keras_tuner_seed(seed: int) -> int:
    """The seed a Keras Tuner oracle gets for benchmark seed ``seed``.

    Keras Tuner draws the n-th random value of a search with ``random.Random(seed + n)``
    (``Oracle._seed_state``, incremented per value), so seeds 200 and 201 draw the same
    values shifted by one: five consecutive seeds were nearly one run (Hyperband reached the
    target after the same 81 epochs on all five). Spread far apart, the runs are independent.
    """
    return seed * 100_003


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def wait_for_ray_to_exit(timeout: float = 60.0) -> None:
    """Wait until no Ray process (raylet, GCS, workers, agents) is left from a finished run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as file:
                    command = file.read()
            except OSError:
                continue
            if command.startswith(b"ray::") or b"/ray/core/src/ray/" in command \
                    or b"/site-packages/ray/" in command:
                left.append(pid)
        if not left:
            return
        time.sleep(0.5)


def load_note(before: float, after: float) -> str:
    return f"load {before:.1f}->{after:.1f}"


def machine() -> str:
    return (f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
            f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M')}")


def command_line(script: str) -> str:
    """The command that reproduces this run, without ``--write``."""
    args = [a for a in sys.argv[1:] if a != "--write"]
    return " ".join(["python", f"scripts/{script}", *args])


def _skeleton() -> str:
    parts = [HEADER]
    for title in SECTIONS:
        parts.append(f"## {title}\n\n_Not measured yet._\n")
    return "\n".join(parts)


def write_section(title: str, body: str) -> Path:
    """Replace (or add) the ``## title`` section of docs/benchmarks.md with ``body``
    (its ``img/...`` links point at docs/img, beside it)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else _skeleton()
    block = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block
    DOC.write_text(text.rstrip() + "\n")
    return DOC


def pyplot() -> object | None:
    """matplotlib's pyplot without a display, or None (with a note) when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return None
    return plt


def plot_path(name: str) -> Path:
    IMG.mkdir(parents=True, exist_ok=True)
    return IMG / name


def parse_variant(spec: str) -> tuple[str, str | None, dict[str, str], bool]:
    """``NAME=PATH[+up][+KEY=VALUE...]`` -> (name, path or None for the installed package,
    extra environment, whether a kept Ray (``raytune-hpt up``) serves it).

    ``before=/work/wt-old`` runs an older checkout (put first on ``PYTHONPATH``);
    ``nowarm=+RAYTUNE_HPT_WARM_WORKERS=0`` the installed package with one variable set.
    """
    name, _, rest = spec.partition("=")
    path, *extras = rest.split("+")
    env = dict(extra.split("=", 1) for extra in extras if "=" in extra)
    return name, path or None, env, "up" in extras
