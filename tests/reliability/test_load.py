"""Load: 500 short trials through one driver finish with every trial recorded and the driver's
memory flat (scripts/bench_load.py; the figures are in docs/reliability.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from rel_helpers import ROOT, env, kill_leftovers, ray_tmpdir

pytestmark = pytest.mark.slow

TRIALS = 500
RSS_GROWTH_MB = 150  # allowed driver growth from trial ~100 to trial 500


def test_500_short_trials_all_recorded_with_flat_driver_memory(tmp_path):
    ray_tmp = ray_tmpdir()
    out = tmp_path / "load.json"
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "bench_load.py"), "--trials", str(TRIALS),
             "--out", str(out), "--storage", str(tmp_path / "results")],
            env=env(ray_tmp), capture_output=True, text=True, timeout=1500)
    finally:
        kill_leftovers(str(ray_tmp))
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["trials"] == TRIALS and report["statuses"] == {"finished": TRIALS}
    assert report["distinct_configs"] == TRIALS
    assert len(list((tmp_path / "results" / "load").glob("run_trial_*/result.json"))) == TRIALS
    growth = report["rss_mb_at_end"] - report["rss_mb_at_20pct"]
    assert growth < RSS_GROWTH_MB, (report["rss_mb_at_20pct"], report["rss_mb_at_end"])
