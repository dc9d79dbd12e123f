"""Issue 33, item 1: a trial whose loss (or any metric) becomes NaN/inf stops at that epoch,
is recorded as diverged, is never ranked, and reaches the searcher as the worst result."""

from __future__ import annotations

import math

import pytest

import raytune_hpt as rth
from raytune_hpt._record import DIVERGED, DIVERGED_ON


def exploding_classifier(hp):
    import keras

    lr = hp.Choice("lr", [1e-2, 1e12])  # 1e12: the loss is NaN within the first epoch
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_a_nan_loss_under_val_accuracy_stops_the_trial(ray_local, digits, tmp_path, capsys):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(exploding_classifier, objective="val_accuracy", searcher="grid",
                      max_trials=2, storage_path=str(tmp_path), name="nan_loss", verbose=1)
    results = tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=4)
    by_lr = {t.hyperparameters["lr"]: t for t in results.trials}
    diverged, fine = by_lr[1e12], by_lr[1e-2]
    assert diverged.status == "diverged" and fine.status == "finished"
    assert diverged.epochs == 1  # stopped at the epoch its loss became NaN: no more compute
    assert "diverged at epoch 1" in diverged.error and "loss=nan" in diverged.error
    assert math.isfinite(diverged.metrics["val_accuracy"])  # the objective stayed finite...
    assert math.isnan(diverged.score(results.objective))  # ...yet it is never ranked
    assert [t.trial_id for t in results.ranked_trials()] == [fine.trial_id]
    assert results.best_trial().trial_id == fine.trial_id
    printed = capsys.readouterr().out
    assert f"{diverged.trial_id} DIVERGED at epoch 1" in printed
    assert "diverged 1" in printed
    summary = tuner.results_summary()
    assert f"Diverged trial {diverged.trial_id} (not ranked): diverged at epoch 1" in summary
    assert "1 diverged" in summary
    # read back from storage, as `raytune-hpt results` and `report` do
    again = rth.load_results(str(tmp_path / "nan_loss"))
    assert {t.trial_id: t.status for t in again.trials}[diverged.trial_id] == "diverged"
    assert again.best_trial().trial_id == fine.trial_id


def test_the_searcher_gets_the_worst_value_for_a_diverged_trial():
    pytest.importorskip("optuna")
    from ray.tune.search.optuna import OptunaSearch

    from raytune_hpt.driver._diverged import worst_for_diverged
    from raytune_hpt.hyperparameters import HyperParameters

    hp = HyperParameters()
    hp.Float("lr", 1e-4, 1.0, sampling="log")
    optuna = OptunaSearch(space=hp.to_ray_space(), metric="val_accuracy", mode="max")
    searcher = worst_for_diverged(optuna)
    for trial_id in ("a", "b", "c", "d"):
        assert isinstance(searcher.suggest(trial_id), dict)
    # the first to end diverged before any value was known: failed, not a good value
    searcher.on_trial_complete("a", {"val_accuracy": 0.99, DIVERGED: 1, DIVERGED_ON: "loss=nan"})
    searcher.on_trial_complete("b", {"val_accuracy": 0.9})
    searcher.on_trial_complete("c", {"val_accuracy": 0.4})
    searcher.on_trial_complete("d", {"val_accuracy": float("nan"), DIVERGED: 2,
                                     DIVERGED_ON: "loss=nan, val_accuracy=nan"})
    told = {t.number: (t.state.name, t.value) for t in optuna._ot_study.trials}
    assert told == {0: ("FAIL", None), 1: ("COMPLETE", 0.9), 2: ("COMPLETE", 0.4),
                    3: ("COMPLETE", 0.4)}
    assert searcher.get_state() == {"worst": 0.4}
