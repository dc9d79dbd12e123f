"""An experiment whose storage_path is s3://bucket/prefix, on a real S3-compatible server (moto)
on 127.0.0.1: the run writes there, and `best`, `results` and `resume` read it back.

The endpoint and credentials come from the usual variables (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, ...), which pyarrow's S3 filesystem (Ray Tune's storage) honours. Each
command is a subprocess with its own local Ray in its own RAY_TMPDIR, so the Ray workers that
upload checkpoints inherit those variables and no other Ray on the machine is touched.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile

import pytest

from tests._helpers.cluster import cli


@pytest.fixture
def ray_tmpdir():
    """A short RAY_TMPDIR of its own (Unix socket paths must stay under 107 bytes)."""
    folder = tempfile.mkdtemp(prefix="rths-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_run_best_results_resume_through_s3(s3_server, experiment_dir, tmp_path, ray_tmpdir):
    env = s3_server.env(RAY_TMPDIR=ray_tmpdir)
    uri = f"s3://{s3_server.bucket}/experiments/tiny"

    run = cli(
        "run",
        experiment_dir / "tiny.yaml",
        "--storage-path",
        f"s3://{s3_server.bucket}/experiments",
        "--set",
        "keep_models=1",
        "-v",
        "0",
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert f"Results: {uri}" in run.stdout
    keys = s3_server.keys("experiments/tiny/")
    assert "experiments/tiny/raytune_hpt.json" in keys
    assert sum(k.endswith("/progress.csv") for k in keys) == 2
    # keep_models=1: the worse trial's checkpoints were deleted from S3, its logs kept
    assert len({k.split("/")[2] for k in keys if "/checkpoint_" in k}) == 1
    assert "experiments/tiny/pruned_models.jsonl" in keys

    model = tmp_path / "best.keras"
    best = cli("best", uri, "--json", "--export-model", model, env=env, timeout=180)
    assert best.returncode == 0, best.stderr
    record = json.loads(best.stdout)
    assert math.isfinite(record["metrics"]["val_accuracy"])
    assert record["checkpoint"].startswith(f"s3://{s3_server.bucket}/experiments/tiny/")
    assert model.stat().st_size > 0  # the best epoch's checkpoint came back from S3

    # `resume` rebuilds the run from the experiment file and what is saved in S3; the search
    # already ended its trials, so it reloads them and trains nothing (Keras Tuner's rule).
    resumed = cli("resume", uri, "-v", "0", env=env, timeout=300)
    assert resumed.returncode == 0, f"{resumed.stdout[-3000:]}\n{resumed.stderr[-3000:]}"
    assert f"Reloading Tuner from {uri}" in resumed.stdout
    assert "Interrupted" not in resumed.stdout + resumed.stderr
    assert f"Results: {uri}" in resumed.stdout and "2 trials (2 finished)" in resumed.stdout

    table = tmp_path / "trials.json"
    results = cli("results", uri, "-o", table, env=env, timeout=180)
    assert results.returncode == 0, results.stderr
    trials = json.loads(table.read_text())
    assert [t["status"] for t in trials] == ["finished", "finished"]
    assert sorted(t["model"] for t in trials) == ["kept", "pruned"]
    assert next(t for t in trials if t["model"] == "kept")["trial_id"] == record["trial_id"]
    assert record["trial_id"] in {t["trial_id"] for t in trials}
