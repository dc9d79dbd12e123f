"""Safe to misuse (issue 23): names that never escape the storage path, ``overwrite`` that
deletes only an experiment, secrets that are never written or printed, cluster scripts that
delete only what they made, and one clear error for each silently accepted input.

Everything here runs without Ray except the two searches marked slow.
"""

from __future__ import annotations

import json
import math
import subprocess

import pytest
import yaml

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError
from tests._helpers.cluster import ROOT, clean_env, cli


def _build(hp):
    import keras

    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Choice("units", [4, 8])),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# -- names that become paths (finding 2) ---------------------------------------------------
@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "a\x00b", "tab\there", "  "])
def test_a_name_that_is_not_one_folder_is_refused(name, tmp_path):
    with pytest.raises(ValueError, match="name must be a folder name"):
        rth.Tuner(_build, objective="val_accuracy", storage_path=str(tmp_path), name=name)


@pytest.mark.parametrize("name", ["..", "a\x01b", "my/run"])
def test_the_experiment_file_uses_the_same_rule(name):
    from raytune_hpt.experiment import ExperimentError, parse_experiment

    with pytest.raises(ExperimentError, match="folder name"):
        parse_experiment({"model": "m.py:build", "data": {"dataset": "digits"},
                          "objective": "val_accuracy", "name": name})


@pytest.mark.parametrize("value", ["no", 1, None])
def test_overwrite_takes_only_a_bool(value, tmp_path):
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        rth.Tuner(_build, objective="val_accuracy", storage_path=str(tmp_path), name="x",
                  overwrite=value)


@pytest.mark.slow
def test_overwrite_never_deletes_a_folder_that_is_not_an_experiment(ray_local, digits,
                                                                     tmp_path):
    (x, y), (xv, yv) = digits
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("three years of work")
    tuner = rth.Tuner(_build, objective="val_accuracy", storage_path=str(tmp_path),
                      name="mine", overwrite=True, max_trials=1, verbose=0)
    with pytest.raises(ConfigurationError, match="deletes only a raytune_hpt experiment"):
        tuner.search(x[:100], y[:100], validation_data=(xv, yv), epochs=1)
    assert (mine / "thesis.tex").read_text() == "three years of work"


# -- resume: only a folder the package wrote (finding 1) --------------------------------
def test_resume_refuses_a_folder_the_package_did_not_write(tmp_path):
    folder = tmp_path / "downloaded"
    folder.mkdir()
    (folder / "raytune_hpt_experiment.yaml").write_text(
        "model: evil.py:build\ndata: {dataset: digits}\nobjective: val_accuracy\n")
    (folder / "evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w')\n")
    (folder / "tuner.pkl").write_bytes(b"not yours")
    done = cli("resume", folder, env=clean_env(), timeout=120)
    assert done.returncode == 2
    assert "not written by raytune_hpt" in done.stderr
    assert not (tmp_path / "ran").exists()


# -- secrets (finding 5) -----------------------------------------------------------------
EXPERIMENT = """\
name: keys
model: model.py:build
data:
  parquet: s3://bucket/train.parquet
  label: y
  s3: {endpoint_override: "http://127.0.0.1:9000", access_key: AKIAEXAMPLE,
       secret_key: wJalrXUtnFEMIexampleSECRET}
objective: val_accuracy
"""


def test_dry_run_prints_no_secret(tmp_path):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    (tmp_path / "model.py").write_text("def build(hp):\n    pass\n")
    done = cli("run", tmp_path / "exp.yaml", "--dry-run", env=clean_env())
    assert done.returncode == 0, done.stderr
    assert "wJalrXUtnFEMIexampleSECRET" not in done.stdout + done.stderr
    assert "AKIAEXAMPLE" not in done.stdout
    shown = yaml.safe_load(done.stdout.split("# valid")[0])
    assert shown["data"]["s3"]["secret_key"] == "<redacted>"
    assert shown["data"]["s3"]["endpoint_override"] == "http://127.0.0.1:9000"


def test_the_saved_experiment_holds_no_secret(tmp_path):
    from raytune_hpt.experiment import load_experiment, load_saved_experiment, save_experiment

    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    experiment = load_experiment(tmp_path / "exp.yaml")
    target = save_experiment(experiment, str(tmp_path / "results"))
    text = open(target).read()
    assert "wJalrXUtnFEMIexampleSECRET" not in text and "AKIAEXAMPLE" not in text
    again = load_saved_experiment(str(tmp_path / "results"))  # resume: keys from AWS_*
    assert again.data.s3 == {"endpoint_override": "http://127.0.0.1:9000"}


def test_submit_refuses_keys_it_would_upload(tmp_path, monkeypatch):
    from raytune_hpt.cli import main

    for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    (tmp_path / "model.py").write_text("def build(hp):\n    pass\n")
    code = main(["submit", str(tmp_path / "exp.yaml"), "--storage-path", "s3://b/hpt",
                 "--address", "http://127.0.0.1:9"])
    assert code == 2  # before any contact with the (absent) cluster


# -- cluster scripts (finding 6) ---------------------------------------------------------
def test_cluster_down_leaves_a_folder_cluster_up_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "cluster.pids").write_text("")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "cluster_down.sh"), "--temp-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert (tmp_path / "notes.txt").read_text() == "keep me", done.stderr
    assert "not made by cluster_up.sh" in done.stderr


def test_cluster_up_refuses_a_folder_with_files_in_it(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "cluster_up.sh"), "--temp-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=60,
                          env=clean_env())
    assert done.returncode == 2 and "not empty" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# -- silent acceptance (finding 8) -------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"resources": {"cpu": math.nan}}, ValueError, "resources.cpu must be a number >= 0"),
    ({"resources": {"cpu": 1, "gpu": math.inf}}, ValueError, "resources.gpu"),
    ({"tracking": {"mlflow": 5}}, ValueError, "tracking.mlflow must be"),
    ({"tracking": {"tensorboard": 3}}, ValueError, "tracking.tensorboard must be"),
    ({"verbose": 7}, ValueError, r"verbose must be one of \[0, 1, 2\]"),
    ({"storage_path": 5}, TypeError, "storage_path must be a folder or a URI"),
    ({"storage_path": "s3://bucket/../../x"}, ValueError, "'..' segments"),
])
def test_bad_input_is_one_clear_error(kwargs, error, message):
    with pytest.raises(error, match=message):
        rth.Tuner(_build, objective="val_accuracy", **{"name": "x", **kwargs})


def test_a_corrupt_experiment_state_is_one_clear_error(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "raytune_hpt.json").write_text(json.dumps({"objective": "val_accuracy"}))
    (folder / "experiment_state-2026-01-01_00-00-00.json").write_text('{"trial_data": [')
    with pytest.raises(ValueError, match="experiment_state-2026-01-01_00-00-00.json is not "
                                         "valid JSON"):
        rth.load_results(str(folder))
    done = cli("results", folder, env=clean_env())
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not valid JSON" in lines[0], done.stderr


def test_report_hover_text_shows_values_as_text(tmp_path):
    """A value a results folder holds is shown, never rendered: plotly draws tags in hover
    text (<b>, <a href>)."""
    pytest.importorskip("plotly")
    from raytune_hpt import HyperParameters
    from raytune_hpt.results import ExperimentResults
    from raytune_hpt.results._files import TrialSource

    hp = HyperParameters()
    hp.Choice("act", ["<b>bold</b>", "<a href='http://x'>link</a>"])
    rows = [{"epoch": 1, "val_accuracy": 0.5, "time_total_s": 1.0, "timestamp": 1}]
    trials = [TrialSource(trial_id=f"t{i}", status="TERMINATED", config={"act": act},
                          rows=rows) for i, act in enumerate(hp.space[0].values)]
    results = ExperimentResults(trials, {"objective": "val_accuracy", "space": hp.get_config(),
                                         "epochs": 1, "ended": True}, path=str(tmp_path))
    page = open(results.report(str(tmp_path / "r.html"))).read()
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "&lt;a href=" in page
