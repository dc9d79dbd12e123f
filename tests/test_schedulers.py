"""Schedulers really stop (ASHA) and really pause and resume (HyperBand) trials."""

from __future__ import annotations

import pytest

import raytune_hpt as rth
from raytune_hpt.schedulers import SCHEDULERS, TIME_ATTR, create_scheduler


def lr_builder(hp):
    import keras

    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    # Good learning rates first, useless ones last (grid order): ASHA cuts a trial that
    # reaches a rung behind better ones, never the first trials to get there.
    lr = hp.Choice("lr", [1e-2, 3e-2, 1e-3, 1e-1, 1e-4, 1e-5])
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_hyperband_pauses_and_resumes_trials_from_checkpoints(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(lr_builder, objective="val_accuracy", searcher="grid",
                      scheduler={"type": "hyperband", "reduction_factor": 2}, max_trials=6,
                      storage_path=str(tmp_path), name="hb", seed=0, verbose=0)
    results = tuner.search(x[:400], y[:400], validation_data=(xv, yv), epochs=4, batch_size=64)

    assert len(results.trials) == 6
    epochs = sorted(t.epochs for t in results.trials)
    assert epochs[0] < 4, "HyperBand stopped no trial early"
    assert epochs[-1] == 4
    resumed = []
    for trial in results.trials:
        assert [r["epoch"] for r in trial.history] == list(range(1, trial.epochs + 1)), (
            trial.history
        )
        # A trial restored from its checkpoint restarts Ray's counter but not its epochs.
        resumed += [r for r in trial.history
                    if r["iterations_since_restore"] == 1 and r["epoch"] > 1]
    assert resumed, "no trial was paused and resumed from a checkpoint"
    best = results.best_trial()
    assert best.hyperparameters["lr"] in (1e-3, 1e-2, 3e-2, 1e-1)


def _epochs_trainable(config):
    """Reports ``loss = x`` for 9 epochs; resumes from its checkpoint when HyperBand pauses it."""
    from tests._helpers.epochs import report_epoch, resumed_epoch

    for epoch in range(resumed_epoch() + 1, 10):
        report_epoch(config["x"], epoch)


@pytest.mark.slow
def test_hyperband_starts_with_its_most_aggressive_bracket(ray_local, tmp_path):
    """max_t=9, factor 3: HyperBand's first bracket is 9 trials from 1 epoch (6 stop there, 2
    at epoch 3, 1 trains all 9), as in the paper and Keras Tuner. Ray's own order starts with
    3 trials of 9 epochs each."""
    from ray import tune

    tuner = tune.Tuner(
        _epochs_trainable,
        param_space={"x": tune.grid_search(list(range(9)))},
        # reuse_actors as raytune_hpt's own searches run (driver/_tune_run.py)
        tune_config=tune.TuneConfig(metric="loss", mode="min", reuse_actors=True,
                                    scheduler=create_scheduler("hyperband", epochs=9)),
        run_config=tune.RunConfig(name="order", storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    epochs = sorted((r.metrics[TIME_ATTR], r.config["x"]) for r in grid)
    assert [e for e, _ in epochs] == [1] * 6 + [3] * 2 + [9], epochs
    assert epochs[-1][1] == 0, "the trial trained to the end is not the best one"


@pytest.mark.slow
def test_asha_stops_the_worst_trials_early(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(lr_builder, objective="val_accuracy", searcher="grid",
                      scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
                      max_trials=6, storage_path=str(tmp_path), name="asha", seed=0, verbose=0)
    results = tuner.search(x[:400], y[:400], validation_data=(xv, yv), epochs=4, batch_size=64)
    by_lr = {t.hyperparameters["lr"]: t for t in results.trials}
    assert len(by_lr) == 6
    assert by_lr[1e-5].epochs < 4 or by_lr[1e-4].epochs < 4
    assert sum(t.epochs for t in results.trials) < 6 * 4
    assert any(t.status == "stopped" for t in results.trials)


@pytest.mark.parametrize("spec, message", [
    ({"type": "asha", "grace_period": 0}, "grace_period must be an integer > 0"),
    ({"type": "asha", "grace_period": 5}, "`grace_period <= max_t` must hold"),
    ({"type": "asha", "reduction_factor": 1}, "reduction_factor must be a number > 1"),
    ({"type": "hyperband", "max_t": -1}, "max_t must be an integer > 0"),
    ({"type": "median", "min_samples": 2}, "takes the options"),
    ("hyper_band", f"scheduler must be one of {sorted(SCHEDULERS)}"),
])
def test_bad_scheduler_specs_say_what_must_hold(spec, message):
    with pytest.raises(ValueError) as error:
        create_scheduler(spec, epochs=3)
    assert message in str(error.value)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_counts_time_in_epochs(name):
    from ray.tune.schedulers import FIFOScheduler

    scheduler = create_scheduler(name, epochs=5)
    if name == "fifo":  # the one that never stops a trial has no clock
        assert type(scheduler) is FIFOScheduler
        return
    # Ray keeps the attribute it reads the time from in `_time_attr` (Ray 2.60).
    assert scheduler._time_attr == TIME_ATTR == "epoch"


def test_the_budget_of_a_trial_is_the_search_s_epochs():
    assert create_scheduler("asha", epochs=7)._max_t == 7
    assert create_scheduler("hyperband", epochs=7)._max_t_attr == 7


def test_options_checked_against_epochs_wait_for_the_search_s_epochs():
    """Tuner(...) does not know the epochs yet: grace_period=2 is fine until search(epochs=1)."""
    from raytune_hpt.schedulers import validate_scheduler

    validate_scheduler({"type": "asha", "grace_period": 2})
    validate_scheduler({"type": "pbt", "perturbation_interval": 3})
    rth.Tuner(lambda hp: None, scheduler={"type": "asha", "grace_period": 2})
    with pytest.raises(ValueError, match="`grace_period <= max_t` must hold"):
        validate_scheduler({"type": "asha", "grace_period": 2}, epochs=1)
