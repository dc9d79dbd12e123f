"""Keras Tuner code that used to be silently ignored (issue 34): a custom Oracle, a Tuner
subclass's hooks, ``save_model``/``load_model`` overrides, and Keras Tuner's project methods.

Each hook writes what it saw into a JSON-lines file (the trials run in Ray workers, on the
tuner's copy there), and the tests read the file back.
"""

from __future__ import annotations

import json
import os

import keras
import pytest

import raytune_hpt as kt
from raytune_hpt.errors import ConfigurationError


def small_mlp(hp):
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _read(path):
    with open(path) as file:
        return [json.loads(line) for line in file]


def _write(path, **record):
    with open(path, "a") as file:
        file.write(json.dumps(record) + "\n")


# -- a custom Oracle: refused with one clear error, before anything runs --------------------
class CountingOracle(kt.oracles.Oracle):
    """Keras Tuner's way to write a search algorithm: override populate_space."""

    def populate_space(self, trial_id):
        return {"status": "RUNNING", "values": {"units": 8}}


class GreedyRandom(kt.oracles.RandomSearch):
    def score_trial(self, trial):
        trial.score = 0.0


@pytest.mark.parametrize(("oracle_class", "method"), [(CountingOracle, "populate_space"),
                                                      (GreedyRandom, "score_trial")])
def test_an_oracle_with_its_own_search_algorithm_is_refused(oracle_class, method, tmp_path):
    oracle = oracle_class(objective="val_accuracy", max_trials=2)
    with pytest.raises(ConfigurationError) as raised:
        kt.Tuner(oracle=oracle, hypermodel=small_mlp, directory=str(tmp_path))
    message = str(raised.value)
    assert f"{oracle_class.__name__} overrides Oracle.{method}" in message
    assert "searcher=" in message  # the way out: a Ray Tune Searcher
    assert not os.listdir(tmp_path)


def test_an_oracle_subclass_that_decides_nothing_runs(tmp_path):
    class Named(kt.oracles.BayesianOptimization):
        pass

    tuner = kt.Tuner(oracle=Named(objective="val_accuracy", max_trials=2),
                     hypermodel=small_mlp, directory=str(tmp_path))
    assert tuner.settings.searcher == "bayesopt"


# -- Keras Tuner's project methods --------------------------------------------------------
def test_keras_tuner_project_methods_answer_before_a_search(tmp_path):
    tuner = kt.RandomSearch(small_mlp, objective="val_accuracy", max_trials=3,
                            directory=str(tmp_path), project_name="p")
    assert tuner.project_dir == str(tmp_path / "p")
    assert tuner.get_trial_dir("abc_00001") == str(tmp_path / "p" / "trial_abc_00001")
    assert os.path.isdir(tmp_path / "p" / "trial_abc_00001")
    assert tuner.remaining_trials == 3
    space = tuner.oracle.get_space()
    assert [hp.name for hp in space.space] == ["units"]
    space.Fixed("mine", 1)  # a copy: the tuner's space is not changed
    assert [hp.name for hp in tuner.oracle.get_space().space] == ["units"]

    on_s3 = kt.RandomSearch(small_mlp, objective="val_accuracy", max_trials=3,
                            directory="s3://bucket/runs", project_name="p")
    with pytest.raises(ValueError, match="project_dir is a local folder.*s3://bucket/runs/p"):
        _ = on_s3.project_dir


class OnEpochEndEverywhere(kt.RandomSearch):
    def on_epoch_end(self, trial, model, epoch, logs=None):
        pass


def test_a_hook_on_a_trial_of_several_workers_is_refused_naming_it(digits, tmp_path):
    (x, y), _ = digits
    tuner = OnEpochEndEverywhere(small_mlp, objective="val_accuracy", max_trials=1,
                                 workers_per_trial=2, directory=str(tmp_path), verbose=0)
    with pytest.raises(ConfigurationError, match="overrides on_epoch_end.*workers_per_trial=1"):
        tuner.search(x, y, epochs=1, validation_split=0.2)


# -- hooks of a standard trial, on the worker ---------------------------------------------
class HookedSearch(kt.RandomSearch):
    """Every hook overridden, as a Keras Tuner user writes them."""

    def __init__(self, *args, log, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = log
        self.loaded = []
        self.search_ended = False

    def on_trial_begin(self, trial):
        self.epochs_begun, self.epochs_ended, self.batches = [], [], 0

    def on_epoch_begin(self, trial, model, epoch, logs=None):
        self.epochs_begun.append(epoch)

    def on_batch_end(self, trial, model, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs=logs)  # nothing in a standard trial
        self.epochs_ended.append(epoch)

    def save_model(self, trial_id, model, step=0):
        model.save(os.path.join(self.get_trial_dir(trial_id), f"step{step}.keras"))

    def load_model(self, trial):
        self.loaded.append(trial.trial_id)
        return keras.models.load_model(
            os.path.join(self.get_trial_dir(trial.trial_id), "step1.keras"))

    def on_trial_end(self, trial):
        _write(self.log, trial_id=trial.trial_id, status=trial.status,
               units=trial.hyperparameters.get("units"), begun=self.epochs_begun,
               ended=self.epochs_ended, batches=self.batches)

    def on_search_end(self):
        self.search_ended = True


@pytest.mark.slow
def test_every_hook_of_a_tuner_subclass_is_called_where_keras_tuner_calls_it(
        ray_local, digits, tmp_path):
    (x, y), _ = digits
    log = tmp_path / "hooks.jsonl"
    tuner = HookedSearch(small_mlp, objective="val_accuracy", max_trials=2, seed=1,
                         directory=str(tmp_path), project_name="hooked", log=str(log),
                         verbose=0)
    tuner.search(x[:400], y[:400], epochs=2, validation_split=0.25, batch_size=100)

    records = _read(log)
    assert len(records) == 2
    for record in records:
        # on_trial_begin's state stayed on the worker's tuner for the trial's later hooks
        assert record["status"] == "COMPLETED"
        assert record["begun"] == [0, 1] and record["ended"] == [0, 1]
        assert record["batches"] == 2 * 3  # 300 training rows in batches of 100
        for step in (0, 1):  # save_model at each epoch's end, into get_trial_dir
            assert os.path.isfile(tmp_path / "hooked" / f"trial_{record['trial_id']}"
                                  / f"step{step}.keras")
    assert tuner.search_ended  # on_search_end, in this process
    assert tuner.remaining_trials == 0

    best = tuner.get_best_models(2)  # through the subclass's load_model, best first
    best_ids = [t.trial_id for t in tuner.oracle.get_best_trials(2)]
    assert tuner.loaded == best_ids
    assert sorted(best_ids) == sorted(r["trial_id"] for r in records)
    units = {r["trial_id"]: r["units"] for r in records}
    assert [m.layers[0].units for m in best] == [units[i] for i in best_ids]


# -- hooks around a run_trial override ----------------------------------------------------
class HookedFunction(kt.Tuner):
    """The guides' "tune any function", with hooks around each trial."""

    def __init__(self, *args, log, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = log

    def on_trial_begin(self, trial):
        self.started = trial.trial_id

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Choice("x", [0, 1, 2])
        if x == 1:
            raise kt.errors.FailedTrialError("x=1 fails")
        if x == 2:
            raise ValueError("x=2 is invalid")
        return {"score": float(x * x + 1), "same": float(self.started == trial.trial_id)}

    def on_trial_end(self, trial):
        _write(self.log, status=trial.status, x=trial.hyperparameters.get("x"),
               started=self.started == trial.trial_id)


@pytest.mark.slow
def test_trial_hooks_run_around_a_run_trial_override(ray_local, tmp_path):
    log = tmp_path / "hooks.jsonl"
    hp = kt.HyperParameters()
    hp.Choice("x", [0, 1, 2])
    tuner = HookedFunction(oracle=kt.oracles.GridSearch(objective=kt.Objective("score", "min"),
                                                        hyperparameters=hp, max_trials=3),
                           directory=str(tmp_path), project_name="f", log=str(log), verbose=0)
    tuner.search()
    seen = {r["x"]: r for r in _read(log)}
    assert {x: r["status"] for x, r in seen.items()} == {0: "COMPLETED", 1: "FAILED",
                                                        2: "INVALID"}
    assert all(r["started"] for r in seen.values())  # what on_trial_begin set stayed
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.hyperparameters.values["x"] == 0 and best.metrics["same"] == 1.0
