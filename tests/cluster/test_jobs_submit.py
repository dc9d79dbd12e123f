"""`raytune-hpt submit` and `jobs` against a real two-node Ray cluster on this machine.

The experiment's folder is uploaded as the job's working_dir, the real path for real clusters:
scripts/cluster_up.sh gives each node its own --temp-dir, so the two raylets do not share the
runtime_resources folder where Ray extracts it (sharing it is what breaks uploads on a
one-machine cluster; see docs/cluster.md).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests._helpers.cluster import cli, one_line

pytestmark = pytest.mark.cluster


def test_submit_spreads_trials_over_both_nodes_and_best_finds_them(
    cluster, experiment_dir, tmp_path
):
    storage = tmp_path / "results"  # absolute, outside the uploaded folder, on the shared disk
    env = cluster.env()

    submitted = cli(
        "submit",
        experiment_dir / "tiny.yaml",
        "--storage-path",
        storage,
        "--address",
        cluster.address,
        env=env,
        timeout=420,
    )
    job_id = submitted.stdout.splitlines()[0] if submitted.stdout else ""
    assert submitted.returncode == 0, f"{submitted.stdout[-4000:]}\n{submitted.stderr[-3000:]}"
    assert job_id.startswith("raytune-hpt-tiny-")
    assert f"Job {job_id} SUCCEEDED." in submitted.stderr
    assert "Search done" in submitted.stdout  # the job's own output was followed

    status = cli("jobs", "status", job_id, env=env)
    assert status.returncode == 0 and status.stdout.split("\t")[0] == "SUCCEEDED", status

    logs = cli("jobs", "logs", job_id, env=env)
    assert logs.returncode == 0 and "Search done" in logs.stdout, logs.stderr

    listed = cli("jobs", "list", env=env)
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [job_id, "SUCCEEDED", "tiny", f"{storage}/tiny"] in rows, listed.stdout

    best = cli("best", storage / "tiny", "--json", env=env)
    assert best.returncode == 0, best.stderr
    record = json.loads(best.stdout)
    assert math.isfinite(record["metrics"]["val_accuracy"])
    assert set(record["hyperparameters"]) == {"units", "lr"}

    table = tmp_path / "trials.json"
    results = cli("results", storage / "tiny", "-o", table, env=env)
    assert results.returncode == 0, results.stderr
    trials = json.loads(table.read_text())
    assert [t["status"] for t in trials] == ["finished", "finished"]
    assert len({t["node_id"] for t in trials}) == 2, f"both trials ran on one node: {trials}"


def test_a_refused_token_is_one_line_and_exit_2(cluster):
    wrong = cli("jobs", "list", env=cluster.env(RAY_AUTH_TOKEN="not-the-cluster-token"))
    assert wrong.returncode == 2
    assert "refused the token from RAY_AUTH_TOKEN" in one_line(wrong.stderr)


def test_a_missing_token_is_one_line_and_exit_2(cluster, tmp_path):
    env = cluster.env(HOME=str(tmp_path))  # no ~/.ray/auth_token there
    del env["RAY_AUTH_TOKEN_PATH"]
    missing = cli("jobs", "list", env=env)
    assert missing.returncode == 2
    assert "requires a token and no token" in one_line(missing.stderr)


def test_the_gcs_port_is_a_wrong_address(cluster):
    wrong = cli("jobs", "list", "--address", f"http://{cluster.gcs_address}", env=cluster.env())
    assert wrong.returncode == 2
    assert "answered but not as a Ray dashboard" in one_line(wrong.stderr)


def test_an_unknown_job_is_exit_2(cluster):
    unknown = cli("jobs", "stop", "raytune-hpt-nope", env=cluster.env())
    assert unknown.returncode == 2, unknown
    assert "no job 'raytune-hpt-nope'" in one_line(unknown.stderr)


def test_cluster_down_stops_every_process_it_started(cluster):
    """The pids file lists one `ray start --block` per node, all alive while the cluster is."""
    pids = [int(p) for p in (cluster.folder / "cluster.pids").read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        assert Path(f"/proc/{pid}").exists()
