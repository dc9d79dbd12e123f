"""`raytune-hpt submit train.py`: a Keras Tuner script (one import changed) as a Ray job, on a
real two-node Ray cluster on this machine whose nodes run this build of the package and say
so (the node label raytune-hpt-build, as the configs in cluster/ set it); a machine with
another build ships its own; a copy of the package ahead of the shipped one is refused.

The bad-input checks and the build hash need no cluster (nothing is contacted: the address
given is one where nothing answers); the three jobs do.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from raytune_hpt._job_env import NODE_LABEL, STORAGE_ENV, build_hash, package_folder
from raytune_hpt.cli import main
from tests._helpers.cluster import clean_env, cli, free_port
from tests._helpers.local_cluster import local_cluster
from tests.cluster.conftest import Cluster

KERAS_TUNER_SCRIPT = """\
import sys

import keras
from sklearn.datasets import load_digits

import raytune_hpt as kt  # was: import keras_tuner as kt

print("PACKAGE", kt.__file__, flush=True)

def build_model(hp):
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=2, seed=0,
                        directory="out", project_name=sys.argv[1])
tuner.search(x, y, epochs=1, validation_split=0.2, batch_size=64)
print("BEST", tuner.get_best_hyperparameters()[0].values)
"""

NO_TENSORFLOW_SCRIPT = """\
import raytune_hpt as kt

print("PACKAGE", kt.__file__, flush=True)

class AnyFunction(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        return trial.hyperparameters.Float("x", -1.0, 1.0) ** 2

AnyFunction(max_trials=1, directory="out", project_name="shadowed").search()
print("SEARCHED")
"""


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return code, lines[0]


# -- no cluster needed ----------------------------------------------------------------------
def test_bad_input_is_one_line_and_exit_2_before_contacting_the_cluster(capsys, tmp_path):
    nobody = f"http://127.0.0.1:{free_port()}"  # a contact would be exit 1, "cannot reach"
    script = tmp_path / "train.py"
    script.write_text(KERAS_TUNER_SCRIPT)
    (tmp_path / "train.txt").write_text("")
    storage = tmp_path / "results"

    code, line = run(capsys, "submit", tmp_path / "train.txt", "--address", nobody)
    assert code == 2 and "a Python script (.py) or an experiment file (.yaml, .yml)" in line
    assert "train.txt" in line

    code, line = run(capsys, "submit", tmp_path / "missing.py", "--address", nobody,
                     "--storage-path", storage)
    assert code == 2 and f"{tmp_path / 'missing.py'} does not exist" in line

    code, line = run(capsys, "submit", script, "--address", nobody)
    assert code == 2 and line.startswith("raytune-hpt: error: --storage-path:")
    assert "absolute path on a disk every node shares" in line and "'none" in line

    code, line = run(capsys, "submit", script, "--address", nobody, "--storage-path", "rel")
    assert code == 2 and "got 'rel'" in line

    code, line = run(capsys, "submit", script, "--address", nobody, "--storage-path", storage,
                     "--set", "max_trials=3")
    assert code == 2 and "--set change an experiment file" in line

    # Checked, then the (unreachable) cluster is contacted: exit 1.
    code, line = run(capsys, "submit", script, "--address", nobody, "--storage-path", storage,
                     "--", "digits")
    assert code == 1 and "cannot reach" in line


def test_the_build_hash_counts_the_package_files_only(tmp_path):
    copy = tmp_path / "raytune_hpt"
    shutil.copytree(package_folder(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (copy / "notes.txt").write_text("not in a wheel")
    assert build_hash(str(copy)) == build_hash()
    with (copy / "_format.py").open("a") as file:
        file.write("# changed\n")
    assert build_hash(str(copy)) != build_hash()
    assert len(build_hash()) == 32  # a Ray node label value holds at most 63 characters


def test_the_build_hash_reads_what_a_wheel_holds():
    """A wheel holds the modules and pyproject's package-data: the hash reads the same files,
    so a cluster's install from this tree has this tree's build."""
    import tomllib

    from raytune_hpt import _job_env
    from tests._helpers.cluster import ROOT

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert tuple(pyproject["tool"]["setuptools"]["package-data"]["raytune_hpt"]) == \
        _job_env._PACKAGE_DATA


def test_a_jobs_storage_path_wins_over_the_scripts(monkeypatch, tmp_path):
    import raytune_hpt as kt

    monkeypatch.delenv(STORAGE_ENV, raising=False)
    here = kt.RandomSearch(lambda hp: None, objective="val_loss", directory=tmp_path / "out",
                           project_name="p")
    assert here.experiment_path == str(tmp_path / "out" / "p")
    monkeypatch.setenv(STORAGE_ENV, str(tmp_path / "shared"))
    in_a_job = kt.RandomSearch(lambda hp: None, objective="val_loss",
                               directory=tmp_path / "out", project_name="p")
    assert in_a_job.experiment_path == str(tmp_path / "shared" / "p")


# -- on the two-node cluster ----------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled_cluster():
    """The `cluster` fixture's two nodes, labelled with the build they import (this one)."""
    labels = json.dumps({NODE_LABEL: build_hash()})
    options = ("--workers", "1", "--head-cpus", "1", "--worker-cpus", "1")
    with local_cluster(*options, env=clean_env(RAY_OVERRIDE_LABELS=labels)) as (folder, exports):
        yield Cluster(address=exports["RAY_ADDRESS"],
                      gcs_address=exports["RAYTUNE_HPT_GCS_ADDRESS"],
                      token_path=Path(exports["RAY_AUTH_TOKEN_PATH"]), folder=folder)


def _package_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("PACKAGE ")]
    assert len(lines) == 1, stdout[-3000:]
    return lines[0]


@pytest.mark.cluster
@pytest.mark.slow
def test_a_keras_tuner_script_runs_as_a_job_and_its_results_reach_the_storage(
    labelled_cluster, tmp_path
):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(KERAS_TUNER_SCRIPT)
    storage = tmp_path / "results"  # absolute, outside the uploaded folder, on the shared disk
    env = labelled_cluster.env()

    submitted = cli("submit", folder / "train.py", "--storage-path", storage, "--", "digits_kt",
                    env=env, timeout=420)
    assert submitted.returncode == 0, f"{submitted.stdout[-4000:]}\n{submitted.stderr[-3000:]}"
    job_id = submitted.stdout.splitlines()[0]
    assert job_id.startswith("raytune-hpt-train-py-")
    assert f"Job {job_id} SUCCEEDED." in submitted.stderr
    assert f"the cluster runs this build of raytune_hpt ({build_hash()})" in submitted.stderr
    assert "py_modules_files" not in _package_line(submitted.stdout)  # the nodes' own install
    assert "BEST {" in submitted.stdout  # the script's own output, followed

    listed = cli("jobs", "list", env=env)
    assert [job_id, "SUCCEEDED", "train.py", str(storage)] in [
        line.split("\t") for line in listed.stdout.splitlines()], listed.stdout

    best = cli("best", storage / "digits_kt", "--json", env=env)
    assert best.returncode == 0, best.stderr
    record = json.loads(best.stdout)
    assert math.isfinite(record["metrics"]["val_accuracy"])
    assert set(record["hyperparameters"]) == {"units", "lr"}
    assert not (folder / "out").exists()


@pytest.mark.cluster
@pytest.mark.slow
def test_a_machine_with_another_build_ships_it_and_the_job_runs_it(labelled_cluster, tmp_path):
    """The cluster's install (this build) differs from the submitting machine's (a changed
    copy): the copy goes with the job as py_modules, ahead of the cluster's own."""
    laptop = tmp_path / "laptop"
    shutil.copytree(package_folder(), laptop / "raytune_hpt",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (laptop / "raytune_hpt" / "_format.py").open("a") as file:
        file.write("# a newer build\n")
    other = build_hash(laptop / "raytune_hpt")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(NO_TENSORFLOW_SCRIPT)
    env = labelled_cluster.env(PYTHONPATH=str(laptop))

    submitted = cli("submit", folder / "train.py", "--storage-path", tmp_path / "results",
                    env=env, timeout=300)
    assert submitted.returncode == 0, f"{submitted.stdout[-4000:]}\n{submitted.stderr[-3000:]}"
    assert f"this machine's raytune_hpt (build {other}), shipped with the job" in submitted.stderr
    assert "/py_modules_files/" in _package_line(submitted.stdout)
    assert "SEARCHED" in submitted.stdout


@pytest.mark.cluster
@pytest.mark.slow
def test_a_job_importing_another_build_fails_before_any_trial(labelled_cluster, tmp_path):
    """A raytune_hpt folder beside the script comes first on the job's sys.path, ahead of
    the shipped package: one clear error, and no trial runs."""
    folder = tmp_path / "project"
    shutil.copytree(package_folder(), folder / "raytune_hpt",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (folder / "raytune_hpt" / "_format.py").open("a") as file:
        file.write("# an older copy\n")
    (folder / "train.py").write_text(NO_TENSORFLOW_SCRIPT)
    storage = tmp_path / "results"
    env = labelled_cluster.env()

    submitted = cli("submit", folder / "train.py", "--storage-path", storage, env=env,
                    timeout=300)
    assert submitted.returncode == 1, f"{submitted.stdout[-4000:]}\n{submitted.stderr[-3000:]}"
    errors = [line for line in submitted.stdout.splitlines()
              if line.startswith("raytune_hpt.errors.ConfigurationError: ")]
    assert len(errors) == 1, submitted.stdout[-4000:]
    assert f"sent build {build_hash()}" in errors[0]
    assert "raytune_hpt folder in the job's working directory" in errors[0]
    assert "SEARCHED" not in submitted.stdout
    assert not storage.exists() or not list(storage.rglob("result.json"))
