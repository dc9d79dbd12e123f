"""What a person sees: the console of `raytune-hpt run --example digits` (issue 16).

The digits example (10 trials) runs through the real command in a subprocess, its output
piped (as in a log file or CI, not a terminal), with a shortened epoch budget.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from raytune_hpt.examples import example_path

CUDA_NOISE = re.compile(r"cuda|cuInit|oneDNN|absl::InitializeLog|Token authentication", re.I)


@pytest.mark.slow
def test_digits_console_is_short_plain_and_complete(tmp_path):
    ray_tmp = tempfile.mkdtemp(prefix="rth-", dir="/tmp")  # Ray's socket paths must be short
    result = subprocess.run(
        [sys.executable, "-m", "raytune_hpt", "run", example_path("digits"),
         "--set", "fit.epochs=2", "--storage-path", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "RAY_TMPDIR": ray_tmp},
    )
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) < 60, result.stdout
    finished = [line for line in lines if re.match(r"Trial \d+/10 \w+ finished", line)]
    assert len(finished) == 10, result.stdout
    assert all(re.search(r"val_accuracy=0\.\d+ \(epoch [12]\)", line) for line in finished)
    assert any(line.startswith("[10/10]") for line in lines), result.stdout
    assert not CUDA_NOISE.search(result.stdout + result.stderr), result.stdout + result.stderr
    assert "\x1b" not in result.stdout  # plain text when not a terminal
    assert "at most 2 ran at once" in result.stdout  # 2 CPUs, 1 CPU per trial


def test_trials_at_once_counts_two_slots_as_two(ray_local, digits, build_mlp, tmp_path):
    import raytune_hpt as rth

    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build_mlp, objective="val_accuracy", max_trials=4, seed=0,
                      storage_path=str(tmp_path), name="slots", verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=(xv[:100], yv[:100]), epochs=2)
    assert ray_local.cluster_resources()["CPU"] == 2
    assert results.trials_at_once() == 2
