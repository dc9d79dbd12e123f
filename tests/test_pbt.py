"""Population-based training: which hyperparameters it may change, the refusals, and a real
exploit that continues from the donor's weights."""

from __future__ import annotations

import random

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hypermodel import as_hypermodel, discover_space
from raytune_hpt.schedulers import create_scheduler
from raytune_hpt.schedulers._pbt import _IntoSpace, _Resample, explorable


def mixed_builder(hp):
    """Two architecture hyperparameters (units, optimizer) and two that can change (lr,
    dropout), a Fixed one and a conditional one."""
    import keras

    units = hp.Int("units", 16, 64, step=16)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5)),
                              keras.layers.Dense(10, activation="softmax")])
    lr = hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Fixed("decay_steps", 100)
    if hp.Choice("optimizer", ["adam", "sgd"]) == "sgd":
        with hp.conditional_scope("optimizer", "sgd"):
            momentum = hp.Float("momentum", 0.0, 0.9)
        optimizer = keras.optimizers.SGD(lr, momentum=momentum)
    else:
        optimizer = keras.optimizers.Adam(lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def mixed():
    hypermodel = as_hypermodel(mixed_builder)
    return hypermodel, discover_space(hypermodel)


def test_only_hyperparameters_that_keep_the_weights_shapes_are_explored(mixed):
    hypermodel, space = mixed
    assert explorable(hypermodel, space, None) == ["dropout", "lr"]
    assert explorable(hypermodel, space, ("lr",)) == ["lr"]


@pytest.mark.parametrize("name, why", [
    ("units", "other weight shapes in a Dense layer"),
    ("optimizer", "another optimizer state (Adam"),
    ("decay_steps", "Fixed: it has one value"),
    ("momentum", "conditional (active only for some values of ['optimizer'])"),
    ("unknown", "not a hyperparameter of the model"),
])
def test_a_named_hyperparameter_pbt_cannot_change_is_refused_with_why(mixed, name, why):
    hypermodel, space = mixed
    with pytest.raises(ConfigurationError) as error:
        explorable(hypermodel, space, ("lr", name))
    message = str(error.value)
    assert f"'{name}': " in message and why in message
    assert "'lr':" not in message  # only the offending names are listed


def test_pb2_explores_numeric_ranges_only(mixed):
    hypermodel, space = mixed
    assert explorable(hypermodel, space, None, numeric_only=True) == ["dropout", "lr"]
    with pytest.raises(ConfigurationError, match="'optimizer': .*not numeric"):
        explorable(hypermodel, space, ("optimizer",), numeric_only=True)


def test_explored_values_stay_in_the_space(mixed):
    _, space = mixed
    lr = next(hp for hp in space.space if hp.name == "lr")
    units = next(hp for hp in space.space if hp.name == "units")
    snap = _IntoSpace({"lr": lr, "units": units})
    # Ray multiplies by 0.8 / 1.2: the top of a range goes over it, an Int leaves its steps
    assert snap({"lr": 0.1 * 1.2, "units": 38, "other": "kept"}) == {
        "lr": 0.1, "units": 32, "other": "kept"}
    resample = _Resample(lr, random.Random(0))
    assert all(1e-4 <= resample() <= 1e-1 for _ in range(200))


@pytest.mark.parametrize("spec, message", [
    ({"type": "pbt", "perturbation_interval": 4}, "`1 <= perturbation_interval < epochs`"),
    ({"type": "pbt", "quantile_fraction": 0.7}, "`0 < quantile_fraction <= 0.5`"),
    ({"type": "pbt", "resample_probability": 2}, "`0 <= resample_probability <= 1`"),
    ({"type": "pbt", "hyperparam_mutations": "lr"}, "a non-empty list of hyperparameter"),
    ({"type": "pb2", "resample_probability": 0.5}, "takes the options"),
    ({"type": "pbt", "synchronous": "yes"}, "synchronous must be true or false"),
])
def test_bad_pbt_options_say_what_must_hold(spec, message):
    with pytest.raises(ValueError) as error:
        create_scheduler(spec, epochs=4)
    assert message in str(error.value)


def test_pbt_defaults_to_a_fifth_of_the_epochs_between_exploits():
    from ray.tune.schedulers import PopulationBasedTraining

    scheduler = create_scheduler("pbt", epochs=10)
    assert isinstance(scheduler, PopulationBasedTraining)
    assert scheduler.options.perturbation_interval == 2
    assert not scheduler._synch
    assert create_scheduler({"type": "pbt", "synchronous": True}, epochs=10)._synch


def test_an_architecture_hyperparameter_is_refused_before_any_trial(digits, tmp_path):
    import ray

    (x, y), (xv, yv) = digits
    started = ray.is_initialized()
    tuner = rth.Tuner(mixed_builder, objective="val_loss", max_trials=2, verbose=0,
                      scheduler={"type": "pbt", "hyperparam_mutations": ["units"]},
                      storage_path=str(tmp_path), name="refused")
    with pytest.raises(ConfigurationError, match="'units': building with units=16 and"):
        tuner.search(x[:64], y[:64], validation_data=(xv[:32], yv[:32]), epochs=3)
    assert ray.is_initialized() == started  # refused before Ray was even started
    assert not (tmp_path / "refused").exists()


def test_pbt_takes_no_search_algorithm_but_random_or_grid(digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(mixed_builder, objective="val_loss", max_trials=2, verbose=0,
                      searcher="bayesopt", scheduler="pbt", storage_path=str(tmp_path))
    with pytest.raises(ConfigurationError, match="searcher 'bayesopt': Ray's PBT takes no"):
        tuner.search(x[:64], y[:64], validation_data=(xv[:32], yv[:32]), epochs=3)


def test_pbt_refuses_a_cap_below_its_population(digits, tmp_path):
    # a cap below the population starts the late trials only as early ones end: measured,
    # the cap of 1 with 2 trials ran them one after the other and never exploited
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(mixed_builder, objective="val_loss", max_trials=4, verbose=0,
                      max_concurrent_trials=2, scheduler="pbt", storage_path=str(tmp_path),
                      name="capped")
    with pytest.raises(ConfigurationError) as error:
        tuner.search(x[:64], y[:64], validation_data=(xv[:32], yv[:32]), epochs=3)
    assert "max_concurrent_trials=2 below the population (max_trials=4)" in str(error.value)
    assert not (tmp_path / "capped").exists()


def donor_builder(hp):
    import keras

    rate = hp.Choice("dropout", [0.0, 0.2])
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(rate),
                              keras.layers.Dense(10, activation="softmax")])
    # the grid's first two trials: a good rate and a useless one, which PBT replaces
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [3e-2, 1e-5])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_an_exploited_trial_continues_from_the_donor_s_weights(ray_local, digits, tmp_path,
                                                                caplog):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(donor_builder, objective="val_loss", searcher="grid", max_trials=2,
                      max_concurrent_trials=2,  # the population's size: allowed, and quiet
                      # synchronous: an exploit whichever trial's worker starts first (CI
                      # once saw one trial end its 8 epochs before the other's first)
                      scheduler={"type": "pbt", "perturbation_interval": 1, "burn_in_period": 2,
                                 "quantile_fraction": 0.5, "synchronous": True},
                      storage_path=str(tmp_path), name="pbt", seed=0, verbose=0)
    results = tuner.search(x[:600], y[:600], validation_data=(xv, yv), epochs=8,
                           batch_size=32)

    assert "will be ignored" not in caplog.text  # Ray's warning on a cap it cannot apply
    policy = (tmp_path / "pbt" / "pbt_global.txt").read_text().splitlines()
    assert policy, "PBT never exploited a trial"
    # the useless trial (lr 1e-5) is the one exploited; its first epoch is a fresh model's
    target, donor = sorted(results.trials, key=lambda t: t.history[0]["loss"], reverse=True)
    fresh_losses = [target.history[0]["loss"], donor.history[0]["loss"]]
    # a restart (from a checkpoint: the donor's, or its own after a pause) reports
    # iterations_since_restore == 1; after the exploit it continues where the donor was
    restarts = [row for row in target.history[1:] if row["iterations_since_restore"] == 1]
    assert restarts, target.history

    def continues_from_donor(row):
        donor_loss = next(r["loss"] for r in donor.history if r["epoch"] == row["epoch"] - 1)
        return all(abs(row["loss"] - donor_loss) < abs(row["loss"] - fresh)
                   for fresh in fresh_losses)

    assert any(continues_from_donor(row) for row in restarts), (
        restarts, donor.history, fresh_losses)


def test_pb2_is_ray_s_pb2_over_the_numeric_ranges(mixed):
    from ray.tune.schedulers.pb2 import PB2

    from raytune_hpt.schedulers._pbt import PBTOptions, _bind

    _, space = mixed
    hps = {hp.name: hp for hp in space.space if hp.name in ("lr", "dropout")}
    scheduler = _bind(PBTOptions(kind="pb2", perturbation_interval=2), hps, seed=0)
    assert isinstance(scheduler, PB2) and scheduler.keeps_every_checkpoint
    assert scheduler._time_attr == "epoch"
    assert scheduler._hyperparam_bounds == {"dropout": [0.0, 0.5], "lr": [1e-4, 1e-1]}
