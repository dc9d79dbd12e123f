"""A Ray cluster as users start it: a head with 0 CPUs whose autoscaler adds worker nodes of
2 CPUs on demand (0 -> 2), the shape cluster/aws.yaml and gcp.yaml start.

One cluster for the module (tests/_helpers/autoscaling.py: Ray's fake multi-node provider,
the head started and stopped by the test, never ``ray stop``). Searches run as real
subprocesses joining it through ``RAY_ADDRESS``, as a user's script would.
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

from raytune_hpt._job_env import NODE_LABEL, build_hash
from tests._helpers.autoscaling import autoscaling_cluster
from tests._helpers.cluster import cli
from tests._helpers.reliability import SLOW_MODEL, checkpoints, progress_rows, trial_dirs, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

HEAD_NODE = "f" * 51 + "00000"  # the fake provider's head node id

KERAS_TUNER_SCRIPT = textwrap.dedent("""\
    import json
    import keras
    from sklearn.datasets import load_digits

    import raytune_hpt as kt  # was: import keras_tuner as kt


    def build_model(hp):
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


    data = load_digits()
    x, y = (data.data[:600] / 16.0).astype("float32"), data.target[:600]
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=4, seed=0,
                            directory="out", project_name="autoscaled")
    tuner.search(x, y, validation_split=0.25, epochs=2, batch_size=64)
    print(json.dumps(tuner.get_best_hyperparameters(1)[0].values))
""")

LOST_NODE_DRIVER = textwrap.dedent("""\
    import json, sys
    from sklearn.datasets import load_digits
    import raytune_hpt as rth
    from model import Model

    data = load_digits()
    x, y = (data.data[:400] / 16).astype("float32"), data.target[:400]
    tuner = rth.Tuner(Model(), objective="val_accuracy", searcher="grid", max_trials=2,
                      storage_path=sys.argv[1], name="lost", verbose=0, seed=0,
                      tracking={"tensorboard": False})
    results = tuner.search(x, y, validation_split=0.25, epochs=6, batch_size=200)
    print(json.dumps({t.trial_id: t.status for t in results.trials}))
""")


NEVER_DRIVER = textwrap.dedent("""\
    import sys
    import ray
    from ray.util.placement_group import placement_group
    from sklearn.datasets import load_digits
    import raytune_hpt as rth
    from raytune_hpt.errors import NodesNeverCameError

    ray.init(log_to_driver=False)
    # Every CPU the autoscaler may ever add, held by other work (it adds both nodes for it).
    held = placement_group([{"CPU": 2}, {"CPU": 2}], strategy="SPREAD")
    assert held.wait(timeout_seconds=300), "the autoscaler did not add two nodes"
    data = load_digits()
    def build_model(hp):
        import keras
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.Int("u", 4, 8)),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    tuner = rth.Tuner(build_model, objective="loss", max_trials=2, verbose=0,
                      storage_path=sys.argv[1], name="never", pending_timeout=10,
                      tracking={"tensorboard": False})
    try:
        tuner.search(data.data[:100], data.target[:100], epochs=1)
    except NodesNeverCameError as error:
        print("NEVER", error)
""")


@pytest.fixture(scope="module")
def cluster():
    types = {"cpu2": {"resources": {"CPU": 2}, "min_workers": 0, "max_workers": 2,
                      "labels": {NODE_LABEL: build_hash()}}}  # nodes of this build
    with autoscaling_cluster(types, labels={NODE_LABEL: build_hash()}) as started:
        yield started


def _nodes(rows: list[dict[str, str]]) -> list[str]:
    """The node of each row (a trial records ``node_id`` in the first report of each start)."""
    nodes, current = [], ""
    for row in rows:
        current = row.get("node_id") or current
        nodes.append(current)
    return nodes


def test_a_keras_tuner_script_without_resources_runs_on_autoscaled_nodes(cluster, tmp_path):
    """`raytune-hpt submit train.py`: the job runs on the 0-CPU head, its trials on nodes the
    autoscaler adds for them."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(KERAS_TUNER_SCRIPT)
    storage = tmp_path / "results"  # one machine: a disk every node shares
    # One machine: the fake nodes share the head's session folder, where an uploaded folder
    # would be unpacked again under the running job (docs/cluster.md, "A multi-node cluster
    # on one machine"); the nodes run this build, as the cluster files' images do.
    submitted = cli("submit", folder / "train.py", "--storage-path", storage,
                    "--working-dir", f"local://{folder}",
                    env=cluster.env(RAY_ADDRESS=cluster.dashboard), timeout=600)
    output = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, output[-5000:]
    first = next(line for line in submitted.stdout.splitlines() if line.startswith("Trials:"))
    assert first.startswith("Trials: 1 CPU each") and "Ray's autoscaler" in first, first
    assert "up to 4 at once" in first, first
    assert "SUCCEEDED" in submitted.stderr, output[-3000:]
    folders = trial_dirs(storage / "autoscaled")
    assert len(folders) == 4, sorted(storage.rglob("*"))[:20]
    nodes = {node for folder in folders.values() for node in _nodes(progress_rows(folder))}
    assert nodes and HEAD_NODE not in nodes and "" not in nodes, nodes


def test_the_wait_for_nodes_that_never_come_is_bounded(cluster, tmp_path):
    """Both nodes the autoscaler may add are held by other work: the trials can never start,
    and the search ends after pending_timeout, naming the node type it waited for."""
    (tmp_path / "driver.py").write_text(NEVER_DRIVER)
    done = subprocess.run([sys.executable, "driver.py", str(tmp_path / "results")],
                          cwd=tmp_path, env=cluster.env(), capture_output=True, text=True,
                          timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("NEVER ")]
    assert done.returncode == 0 and len(lines) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    message = lines[0]
    assert "pending_timeout=10" in message and "CPU: 0 free of 4" in message, message
    assert "of type cpu2" in message, message


def _raylet_of(pid: int) -> int:
    """The raylet that started worker process ``pid`` (its parent): the trial's node."""
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    command = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")
    assert command[0].endswith(b"raylet"), command[:1]
    return parent


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def test_a_worker_node_lost_mid_search_loses_nothing(cluster, tmp_path):
    (tmp_path / "model.py").write_text(SLOW_MODEL)
    (tmp_path / "driver.py").write_text(LOST_NODE_DRIVER)
    storage = tmp_path / "results"
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, "driver.py", str(storage)], cwd=tmp_path,
                                  env=cluster.env(RTH_EPOCH_SECONDS="3"), stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        def mid_trial() -> tuple[str, str, int] | None:
            for tid, folder in trial_dirs(storage / "lost").items():
                rows = progress_rows(folder)
                if rows and checkpoints(folder) and len(rows) == 2:
                    return tid, rows[0]["node_id"], int(rows[0]["pid"])
            return None

        wait_for(lambda: mid_trial() is not None, 400, "a trial mid-run", driver, log)
        victim, node, pid = mid_trial()
        done_before = len(progress_rows(trial_dirs(storage / "lost")[victim]))
        assert node != HEAD_NODE
        raylet = _raylet_of(pid)
        for process in (raylet, *_children(raylet)):  # the node is gone with all it ran
            os.kill(process, signal.SIGKILL)

        driver.wait(timeout=600)
        output = log.read_text()
        assert driver.returncode == 0, output[-3000:]
        statuses = json.loads(output.strip().splitlines()[-1])
        assert statuses == dict.fromkeys(statuses, "finished") and len(statuses) == 2, statuses
        rows = progress_rows(trial_dirs(storage / "lost")[victim])
        epochs = [int(float(r["epoch"])) for r in rows]
        assert epochs == list(range(1, 7)), epochs  # no epoch trained twice, none lost
        restarts = [int(float(r["epoch"])) for r in rows if r["iterations_since_restore"] == "1"]
        assert len(restarts) == 2 and restarts[1] > done_before, (restarts, done_before)
        nodes = _nodes(rows)
        assert nodes[0] == node != nodes[-1] and HEAD_NODE not in nodes, nodes
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=60)
