"""Lost node: on a two-node local cluster (scripts/cluster_up.sh), kill the worker node's
raylet mid-trial; the trial that ran there resumes from its last checkpoint on the surviving
node, with the default settings (a lost node is not the trial's failure, ``max_failures=0``
is enough), and the search completes.

The search runs in a subprocess that connects with ``address=...`` so the session-scoped
``ray_local`` fixture of other tests is not disturbed; the cluster is always torn down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests._helpers.local_cluster import local_cluster
from tests._helpers.reliability import (
    SLOW_MODEL,
    checkpoints,
    env,
    kill_leftovers,
    progress_rows,
    trial_dirs,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

EPOCHS = 5

DRIVER = textwrap.dedent(f"""
    import json, sys
    import numpy as np
    import ray
    from sklearn.datasets import load_digits

    import raytune_hpt as rth
    from model import Model

    address, storage = sys.argv[1], sys.argv[2]
    ray.init(address=address, configure_logging=False, log_to_driver=False)
    with open(storage + "/head_node", "w") as file:
        file.write(ray.get_runtime_context().get_node_id())
    data = load_digits()
    x, y = (data.data[:400] / 16).astype("float32"), data.target[:400]
    tuner = rth.Tuner(Model(), objective="val_accuracy", searcher="grid", max_trials=2,
                      storage_path=storage, name="lost", verbose=0,
                      hyperparameters=None, tracking={{"tensorboard": False}})
    results = tuner.search(x, y, validation_split=0.25, epochs={EPOCHS}, batch_size=200)
    print(json.dumps({{t.trial_id: t.status for t in results.trials}}))
""")


def _nodes(rows: list[dict[str, str]]) -> list[str]:
    """The node of each row: a trial records ``node_id`` only in the first report of each
    (re)start, so a row's node is the last one recorded at or before it."""
    nodes, current = [], ""
    for row in rows:
        current = row.get("node_id") or current
        nodes.append(current)
    return nodes


def _raylets(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                command
                and command[0].endswith(b"raylet")
                and any(marker.encode() in c for c in command)
            ):
                pids.append(int(entry.name))
    return pids


def test_a_lost_worker_node_s_trial_resumes_on_the_surviving_node(tmp_path):
    environment = env(RTH_EPOCH_SECONDS="1.5")
    options = ("--workers", "1", "--head-cpus", "1", "--worker-cpus", "1")
    driver = None
    cluster_dir = None
    try:
        with local_cluster(*options, env=environment, prefix="rthn-",
                           timeout=90) as (cluster_dir, exports):
            cluster_env = {
                **environment,
                "RAY_AUTH_MODE": "token",
                "RAY_AUTH_TOKEN_PATH": exports["RAY_AUTH_TOKEN_PATH"],
            }
            (tmp_path / "model.py").write_text(SLOW_MODEL)
            (tmp_path / "driver.py").write_text(DRIVER)
            storage = tmp_path / "results"
            storage.mkdir()
            log = tmp_path / "driver.log"
            with open(log, "w") as out:
                driver = subprocess.Popen(
                    [sys.executable, "driver.py", exports["RAYTUNE_HPT_GCS_ADDRESS"], str(storage)],
                    cwd=tmp_path,
                    env=cluster_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            experiment = storage / "lost"

            def on_worker_node_mid_trial() -> str | None:
                marker = storage / "head_node"
                head = marker.read_text() if marker.exists() else None
                for tid, folder in trial_dirs(experiment).items():
                    rows = progress_rows(folder)
                    if (
                        head
                        and rows
                        and checkpoints(folder)
                        and _nodes(rows)[-1] not in ("", head)
                        and 1 <= len(rows) < EPOCHS - 1
                    ):
                        return tid
                return None

            wait_for(
                lambda: on_worker_node_mid_trial() is not None,
                400,
                "a trial mid-run on the worker node",
                driver,
                log,
            )
            victim = on_worker_node_mid_trial()
            done_before = len(progress_rows(trial_dirs(experiment)[victim]))
            raylets = _raylets(str(cluster_dir / "worker1"))
            assert len(raylets) == 1, raylets
            os.kill(raylets[0], signal.SIGKILL)  # the worker node is gone

            driver.wait(timeout=600)
            output = log.read_text()
            assert driver.returncode == 0, output[-3000:]
            statuses = json.loads(output.strip().splitlines()[-1])
            assert statuses == dict.fromkeys(statuses, "finished") and len(statuses) == 2

            head = (storage / "head_node").read_text()
            rows = progress_rows(trial_dirs(experiment)[victim])
            epochs = [int(float(r["epoch"])) for r in rows]
            restarts = [int(float(r["epoch"])) for r in rows
                        if r["iterations_since_restore"] == "1"]
            # continued from a checkpoint (no restart at epoch 1), finished on the surviving node
            assert epochs == list(range(1, EPOCHS + 1)), epochs  # no epoch run twice, none skipped
            assert len(restarts) == 2 and restarts[1] > done_before >= 1, (restarts, done_before)
            nodes = _nodes(rows)
            assert nodes[0] not in ("", head) and nodes[-1] == head, nodes
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait(timeout=60)
        if cluster_dir is not None:
            kill_leftovers(str(cluster_dir))
