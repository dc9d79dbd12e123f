"""Keras Tuner's storage defaults: a script run twice in one folder reloads its project.

Seed 002's form, ``kt.BayesianOptimization(build_model, objective="val_accuracy",
max_trials=2)`` with no ``directory``, ``project_name`` or ``seed``, is run twice as a real
subprocess in the same folder, once with ``import keras_tuner as kt`` (the reference) and
once with ``import raytune_hpt as kt``. Both write ``./untitled_project``; the second run
prints "Reloading Tuner from ...", trains nothing and prints the same best.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = '''
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import numpy as np
from sklearn.datasets import load_digits
import {module} as kt

digits = load_digits()
x = (digits.data / 16.0).astype("float32")
y = digits.target.astype("int64")
x_train, y_train, x_val, y_val = x[:1000], y[:1000], x[1000:1400], y[1000:1400]


def build_model(hp):
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 8, 64, step=8), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


tuner = kt.BayesianOptimization(build_model, objective="val_accuracy", max_trials=2)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2, verbose=0)
best = tuner.get_best_hyperparameters()[0].values
print("BEST " + json.dumps(best, sort_keys=True))
'''


def _env() -> dict[str, str]:
    drop = ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(TF_CPP_MIN_LOG_LEVEL="2", RAY_USAGE_STATS_ENABLED="0")
    return env


def _run(folder: Path, module: str) -> str:
    script = folder / "search.py"
    script.write_text(SCRIPT.format(module=module))
    done = subprocess.run([sys.executable, str(script)], cwd=folder, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _best(stdout: str) -> dict:
    (line,) = [line for line in stdout.splitlines() if line.startswith("BEST ")]
    return json.loads(line[len("BEST "):])


def _fingerprint(project: Path) -> dict[str, str]:
    """Every file of the project but the ones a reload may rewrite, by content."""
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file()
            and not p.name.startswith(("tuner0", "oracle", "experiment_state", "basic-variant",
                                       "search_gen_state", "tuner.pkl", "."))}


@pytest.mark.slow
@pytest.mark.parametrize("module", ["keras_tuner", "raytune_hpt"])
def test_a_script_run_twice_reloads_its_project_and_answers_the_same_best(tmp_path, module):
    first = _run(tmp_path, module)
    project = tmp_path / "untitled_project"
    assert project.is_dir(), os.listdir(tmp_path)  # Keras Tuner's directory and project name
    assert "Reloading Tuner from" not in first
    files = _fingerprint(project)

    second = _run(tmp_path, module)
    assert "Reloading Tuner from" in second
    assert _best(second) == _best(first)
    assert _fingerprint(project) == files  # nothing trained, nothing written again
    if module == "raytune_hpt":
        assert "Search already done: 2 trials ended" in second
        assert "Trials:" not in second  # no Ray started: no placement line

        # In this process: get_best_hyperparameters() and reload() before any search().
        import raytune_hpt as kt
        from tests.conftest import mlp_builder

        tuner = kt.BayesianOptimization(mlp_builder, objective="val_accuracy", max_trials=2,
                                        directory=str(tmp_path))
        assert tuner.get_best_hyperparameters()[0].values == _best(first)
        assert len(tuner.oracle.trials) == 2
        tuner.reload()
        assert tuner.oracle.get_best_trials(1)[0].hyperparameters.values == _best(first)
        assert "val_accuracy" in tuner.results_summary(1)


def test_reload_without_a_project_says_where_it_looked(tmp_path, build_mlp):
    import raytune_hpt as kt

    tuner = kt.RandomSearch(build_mlp, objective="val_accuracy", directory=str(tmp_path),
                            project_name="none")
    with pytest.raises(RuntimeError, match="no experiment at .*none"):
        tuner.get_best_hyperparameters()
    with pytest.raises(FileNotFoundError, match="none"):
        tuner.reload()


def test_overwrite_true_does_not_reload(tmp_path, build_mlp, capsys):
    import raytune_hpt as kt
    from raytune_hpt._record import METADATA_FILE

    (tmp_path / "untitled_project").mkdir()
    (tmp_path / "untitled_project" / METADATA_FILE).write_text("{}")
    kt.RandomSearch(build_mlp, objective="val_accuracy", directory=str(tmp_path),
                    overwrite=True)
    assert "Reloading" not in capsys.readouterr().out


def test_keras_tuner_classes_default_to_untitled_project_in_the_working_folder(
        tmp_path, build_mlp, monkeypatch):
    import raytune_hpt as kt

    monkeypatch.chdir(tmp_path)
    tuner = kt.BayesianOptimization(build_mlp, objective="val_accuracy", max_trials=2)
    assert tuner.experiment_path == str(tmp_path / "untitled_project")
    plain = kt.Tuner(build_mlp, objective="val_accuracy")  # raytune_hpt's own: ~/ray_results
    assert plain.storage_path.endswith("ray_results") and plain.name != "untitled_project"


def test_a_directory_uri_is_kept_as_it_is():
    from raytune_hpt.keras_tuner import translate

    arguments = {"storage_path": None, "name": None}
    translated, _ = translate(arguments, {"directory": "s3://bucket/hpt"})  # a new dict
    assert {k: translated[k] for k in arguments} == {"storage_path": "s3://bucket/hpt",
                                                    "name": "untitled_project"}
