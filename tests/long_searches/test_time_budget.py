"""Issue 33, item 2: ``max_time`` ends a search: no trial starts after it, running trials
end at their next epoch with that epoch kept, and the results say the budget ended it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError


def slow_mlp(hp):
    import keras

    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Int("units", 8, 64), activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("value", [0, -5, "soon", "5d", True, float("inf")])
def test_a_bad_max_time_is_one_error_before_any_trial(value, tmp_path):
    with pytest.raises(ConfigurationError, match="max_time must be a positive duration"):
        rth.Tuner(slow_mlp, objective="val_accuracy", max_time=value,
                  storage_path=str(tmp_path), name="bad")
    assert not (tmp_path / "bad").exists()


def test_durations_are_read_as_people_write_them(tmp_path):
    tuner = rth.Tuner(slow_mlp, objective="val_accuracy", max_time="1h30m",
                      storage_path=str(tmp_path), name="t")
    assert tuner.settings.max_time == 5400.0
    assert rth.RandomSearch(slow_mlp, objective="val_accuracy", max_time="90m",
                            directory=str(tmp_path)).settings.max_time == 5400.0


@pytest.mark.slow
def test_the_budget_ends_the_search_at_an_epoch_boundary(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(slow_mlp, objective="val_accuracy", max_trials=20, max_time=20,
                      storage_path=str(tmp_path), name="budget", verbose=0, seed=1)
    # batch_size=1: each epoch is hundreds of steps, 100 epochs far more than the budget
    results = tuner.search(x[:400], y[:400], validation_data=(xv, yv), epochs=100,
                           batch_size=1)
    assert results.trials and len(results.trials) < 20
    started = [t for t in results.trials if t.status != "not started"]
    assert started and len(started) <= 4  # two at a time, each far from its 100 epochs
    for trial in started:  # each ended at an epoch boundary with its epochs kept
        assert 1 <= trial.epochs < 100, (trial.trial_id, trial.epochs, trial.status)
        assert trial.status == "stopped"
        assert len(trial.history) == trial.epochs
    # trials Ray had queued (pending) never trained an epoch
    assert all(t.epochs == 0 and not t.history for t in results.trials if t not in started)
    assert results.best_trial() is not None
    recorded = json.loads((tmp_path / "budget" / "raytune_hpt.json").read_text())
    assert recorded["ended_by"] == "max_time" and recorded["max_time"] == 20
    assert recorded["wall_time_s"] >= 20
    assert "time budget" in results.summary()
    first_total = recorded["wall_time_s"]
    first = {t.trial_id: t.epochs for t in started}
    # resuming gets a new budget: the search goes on (new trials), nothing trained again,
    # and the recorded total counts both runs
    again = rth.Tuner(slow_mlp, objective="val_accuracy", max_trials=20, max_time=25,
                      storage_path=str(tmp_path), name="budget", verbose=0, seed=1)
    more = again.search(x[:400], y[:400], validation_data=(xv, yv), epochs=100, batch_size=1)
    epochs = {t.trial_id: t.epochs for t in more.trials}
    assert {k: epochs[k] for k in first} == first
    assert any(n >= 1 for k, n in epochs.items() if k not in first)
    recorded = json.loads((tmp_path / "budget" / "raytune_hpt.json").read_text())
    assert recorded["wall_time_s"] >= first_total + 25
    assert recorded["ended_by"] == "max_time"


def test_the_cli_refuses_a_bad_max_time(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "raytune_hpt", "run", "--example", "digits", "--max-time",
         "soon", "--storage-path", str(tmp_path), "--dry-run"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "max_time" in done.stderr and "'soon'" in done.stderr
    assert list(tmp_path.iterdir()) == []
