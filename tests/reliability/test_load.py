"""Load: many short trials through one driver finish with every trial recorded and the driver's
memory flat.

CI-sized: 60 trials of the cheapest trial the package allows (a HyperModel whose ``fit``
returns a float without training, one epoch; each trial still builds a model, reports once
and saves a checkpoint). The 500-trial run is ``scripts/bench_load.py --trials 500``; its
figures are in docs/reliability.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from rel_helpers import ROOT, env, kill_leftovers, ray_tmpdir

pytestmark = pytest.mark.slow

TRIALS = 60
# Allowed driver growth from the 20 % mark to the end (48 trials): under 1 MB a trial, so a
# leak of one model, one result history or one searcher copy per trial would fail.
RSS_GROWTH_MB = 40


def test_short_trials_all_recorded_with_flat_driver_memory(tmp_path):
    ray_tmp = ray_tmpdir()
    out = tmp_path / "load.json"
    try:
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "bench_load.py"),
                "--trials",
                str(TRIALS),
                "--out",
                str(out),
                "--storage",
                str(tmp_path / "results"),
            ],
            env=env(ray_tmp),
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:
        kill_leftovers(str(ray_tmp))
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["trials"] == TRIALS and report["statuses"] == {"finished": TRIALS}
    assert report["distinct_configs"] == TRIALS
    written = list((tmp_path / "results" / "load").glob("run_trial_*/result.json"))
    assert len(written) == TRIALS and all(p.stat().st_size for p in written)
    growth = report["rss_mb_at_end"] - report["rss_mb_at_20pct"]
    assert growth < RSS_GROWTH_MB, (report["rss_mb_at_20pct"], report["rss_mb_at_end"])
