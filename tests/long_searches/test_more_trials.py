"""Issue 33, item 3: re-running a finished search with a larger ``max_trials`` continues it
(the searcher's state kept, nothing trained again, new trials after the old ones); a
smaller number says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

import raytune_hpt as kt


def tiny_mlp(hp):
    import keras

    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-1, sampling="log")),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _search(tmp_path, digits, max_trials, **kwargs):
    (x, y), (xv, yv) = digits
    tuner = kt.RandomSearch(tiny_mlp, objective="val_accuracy", max_trials=max_trials, seed=3,
                            directory=str(tmp_path), project_name="grow", verbose=0, **kwargs)
    tuner.search(x[:200], y[:200], validation_data=(xv, yv), epochs=2)
    return tuner


@pytest.mark.slow
def test_a_larger_max_trials_continues_the_search(ray_local, digits, tmp_path, caplog):
    first = _search(tmp_path, digits, 2).last_results
    before = {t.trial_id: (t.hyperparameters["lr"], len(t.history)) for t in first.trials}
    assert len(before) == 2
    # as Keras Tuner's reload path: the same script with max_trials=4 trains 2 more
    grown = _search(tmp_path, digits, 4).last_results
    after = {t.trial_id: (t.hyperparameters["lr"], len(t.history)) for t in grown.trials}
    assert len(after) == 4
    assert {k: after[k] for k in before} == before  # nothing trained again
    new_lrs = {lr for k, (lr, _) in after.items() if k not in before}
    # the searcher went on from its state: a fresh one with the same seed would propose
    # the first two values again
    assert new_lrs and not new_lrs & {lr for lr, _ in before.values()}
    assert all(t.status == "finished" and t.epochs == 2 for t in grown.trials)
    # one folder, one table
    assert kt.load_results(str(tmp_path / "grow")).counts() == {"finished": 4}
    # a smaller number is a clear message (a warning at verbose=0), not a silent no-op
    fewer = _search(tmp_path, digits, 3)
    assert len(fewer.last_results.trials) == 4
    assert "max_trials=3 is fewer than the 4 trials" in caplog.text


def test_resume_refuses_fewer_trials_than_it_has(tmp_path):
    experiment = tmp_path / "exp"
    experiment.mkdir()
    (experiment / "raytune_hpt.json").write_text(
        '{"objective": {"name": "val_loss", "direction": "min"}, "space": {"space": []}}')
    done = subprocess.run(
        [sys.executable, "-m", "raytune_hpt", "resume", str(experiment), "--max-trials", "0"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--max-trials" in done.stderr
