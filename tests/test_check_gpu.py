"""scripts/check_gpu.py, the check for the first GPU machine: here, without a GPU, it says so
in one line and exits 0 (on a GPU machine it runs two searches; docs/resources.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_gpu.py"


def test_without_a_gpu_the_check_says_so_in_one_line():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("check_gpu: no GPU here"), lines


def test_the_driver_keeps_no_gpu_memory_it_does_not_need():
    import tensorflow as tf

    from raytune_hpt.driver._driver_gpus import keep_gpus_for_trials

    assert keep_gpus_for_trials() == len(tf.config.list_physical_devices("GPU"))
