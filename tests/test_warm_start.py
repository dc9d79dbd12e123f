"""Warm starts end to end on a real local Ray with real Keras training on digits:
``points_to_evaluate`` run first, ``warm_start`` seeds the searcher without re-running, and
every bad input is one ConfigurationError before any trial starts."""

from __future__ import annotations

import logging
import os

import pytest

import raytune_hpt as rth
from raytune_hpt.driver import check_points, compare_spaces
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers import point_key


def _builder(wide: bool = False):
    """A tiny digits model; ``wide`` is another space: units up to 64, an activation choice
    and no learning rate."""

    def build(hp):
        import keras

        units = hp.Int("units", 8, 64 if wide else 32, step=8)
        activation = hp.Choice("act", ["relu", "tanh"]) if wide else "relu"
        lr = 1e-3 if wide else hp.Float("lr", 1e-3, 3e-2, sampling="log")
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    return build


def _search(digits, tmp, name, **options):
    (x, y), (xv, yv) = digits
    options = {"objective": "val_accuracy", "max_trials": 6, "seed": 0, "verbose": 0,
               **options}
    tuner = rth.Tuner(options.pop("builder", _builder()), storage_path=str(tmp), name=name,
                      **options)
    return tuner.search(x[:400], y[:400], validation_data=(xv, yv), epochs=2, batch_size=64)


def _keys(results) -> list[tuple]:
    return [point_key(t.hyperparameters) for t in results.trials]


@pytest.fixture(scope="module")
def earlier(ray_local, digits, tmp_path_factory):
    """6 finished random trials (seed 0): the experiment the others start from."""
    tmp = tmp_path_factory.mktemp("warm")
    results = _search(digits, tmp, "earlier", searcher="random")
    assert [t.status for t in results.trials] == ["finished"] * 6
    return tmp, results


# -- the acceptance test --------------------------------------------------------------------
@pytest.mark.slow
def test_bayesopt_warm_started_reruns_nothing_and_fits_on_the_earlier_trials(
        earlier, digits, caplog):
    tmp, first = earlier
    caplog.set_level(logging.DEBUG, logger="raytune_hpt.searchers._bayesopt")
    warm = _search(digits, tmp, "warm_bayesopt", searcher="bayesopt",
                   warm_start=str(tmp / "earlier"))

    assert len(warm.trials) == 6 and all(t.status == "finished" for t in warm.trials)
    assert not set(_keys(first)) & set(_keys(warm))  # no configuration of the first run again
    suggestions = [r.getMessage() for r in caplog.records
                   if r.getMessage().startswith("bayesopt suggestion")]
    assert len(suggestions) == 6
    # Without the warm start the first 5 suggestions are random (random_initial=5); with it
    # the very first one comes from a GP fitted on the 6 earlier trials.
    assert "(Gaussian process on 6 observations)" in suggestions[0]


@pytest.mark.slow
def test_random_with_the_same_seed_warm_started_reruns_nothing(earlier, digits):
    tmp, first = earlier
    again = _search(digits, tmp, "warm_random", searcher="random",
                    warm_start=str(tmp / "earlier"))
    assert len(again.trials) == 6
    assert not set(_keys(first)) & set(_keys(again))


@pytest.mark.slow
@pytest.mark.parametrize("searcher", ["hyperopt", "optuna"])
def test_rays_searchers_warm_started_rerun_nothing(earlier, digits, searcher):
    tmp, first = earlier
    again = _search(digits, tmp, f"warm_{searcher}", searcher=searcher, max_trials=2,
                    warm_start=str(tmp / "earlier"))
    assert [t.status for t in again.trials] == ["finished"] * 2
    assert not set(_keys(first)) & set(_keys(again))


@pytest.mark.slow
def test_points_to_evaluate_run_first_in_order(ray_local, digits, tmp_path):
    points = [{"units": 24, "lr": 0.005}, {"units": 8}]  # the second takes lr's default
    results = _search(digits, tmp_path, "points", searcher="bayesopt", max_trials=3,
                      points_to_evaluate=points)
    ordered = results.trials  # in the order the searcher made them (Ray's experiment state)
    assert point_key(ordered[0].hyperparameters) == point_key({"units": 24, "lr": 0.005})
    assert point_key(ordered[1].hyperparameters) == point_key({"units": 8, "lr": 1e-3})
    assert point_key(ordered[2].hyperparameters) not in {point_key(t.hyperparameters)
                                                         for t in ordered[:2]}


# -- refused before any trial starts -----------------------------------------------------------
@pytest.mark.slow  # the earlier experiment is a real search
def test_incompatible_space_names_every_mismatched_hyperparameter(earlier, digits, tmp_path):
    tmp, _ = earlier
    with pytest.raises(ConfigurationError) as error:
        _search(digits, tmp_path, "mismatch", builder=_builder(wide=True),
                warm_start=str(tmp / "earlier"))
    message = str(error.value)
    assert "another search space" in message
    assert "'act' is only in this search" in message
    assert "'lr' is only in the earlier experiment" in message
    assert "'units' is Int(" in message and "max_value=64" in message
    assert not os.path.exists(tmp_path / "mismatch")  # nothing started


@pytest.mark.slow  # the earlier experiment is a real search
def test_another_objective_is_refused(earlier, digits, tmp_path):
    tmp, _ = earlier
    with pytest.raises(ConfigurationError, match=r"optimized 'val_accuracy' \(max\), this "
                                                 r"search optimizes 'val_loss' \(min\)"):
        _search(digits, tmp_path, "other_objective", objective="val_loss",
                warm_start=str(tmp / "earlier"))
    assert not os.path.exists(tmp_path / "other_objective")


@pytest.mark.slow  # the earlier experiment is a real search
def test_a_resumed_experiment_keeps_its_searcher_and_does_not_read_the_warm_start(earlier):
    from raytune_hpt.driver import prepare_warm_start as prepare

    tmp, first = earlier
    resumed = str(tmp / "earlier")  # exists and Ray can restore it: resumed, not re-seeded
    warm = prepare(first.space, first.objective, "random", [{"units": 8}],
                   str(tmp / "gone"), resumed)
    assert warm.evaluated == [] and warm.points == [{"units": 8, "lr": 1e-3}]
    with pytest.raises(ConfigurationError, match="is not a raytune_hpt experiment"):
        prepare(first.space, first.objective, "random", None, str(tmp / "gone"), resumed,
                overwrite=True)


def test_a_folder_that_is_no_experiment_is_refused(digits, tmp_path):
    with pytest.raises(ConfigurationError, match="raytune_hpt.json is missing"):
        _search(digits, tmp_path, "nothing", warm_start=str(tmp_path / "nowhere"))


def test_bad_points_are_one_error_naming_each_problem(digits, tmp_path):
    with pytest.raises(ConfigurationError) as error:
        _search(digits, tmp_path, "bad_points",
                points_to_evaluate=[{"units": 12}, {"unit": 8, "lr": 1.0}])
    message = str(error.value)
    assert "points_to_evaluate[0]: 'units' must be one of its steps [8, 16, 24, 32], but got 12"\
        in message
    assert "points_to_evaluate[1]: 'unit' is not a hyperparameter of the space" in message
    assert "points_to_evaluate[1]: 'lr' must lie in [0.001, 0.03], but got 1.0" in message
    assert not os.path.exists(tmp_path / "bad_points")


@pytest.mark.parametrize("points, warm_start, expected", [
    ({"units": 8}, None, "points_to_evaluate must be a list"),
    ([{"units": 8}, ["units", 8]], None, r"points_to_evaluate\[1\] must be a dict"),
    (None, 3, "warm_start must be the path"),
])
def test_argument_shapes_are_checked_at_construction(points, warm_start, expected):
    with pytest.raises(ConfigurationError, match=expected):
        rth.Tuner(_builder(), objective="val_accuracy", points_to_evaluate=points,
                  warm_start=warm_start)


# -- the checks themselves (no Ray) -------------------------------------------------------------
def _conditional_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Choice("opt", ["adam", "sgd"])
    with hp.conditional_scope("opt", "sgd"):
        hp.Float("momentum", 0.0, 0.9)
    hp.Boolean("bn")
    hp.Fixed("width", 3)
    return hp


def test_points_fill_defaults_and_refuse_inactive_values_and_wrong_types():
    space = _conditional_space()
    assert check_points([{"opt": "sgd", "momentum": 0.5}, {}], space) == [
        {"opt": "sgd", "momentum": 0.5, "bn": False},
        {"opt": "adam", "momentum": 0.0, "bn": False}]  # Fixed ones are the searchers' job
    with pytest.raises(ConfigurationError) as error:
        check_points([{"momentum": 0.5}, {"bn": 1, "width": 4}], space)
    message = str(error.value)
    assert "points_to_evaluate[0]: 'momentum' is inactive with this point's value of 'opt'" \
        in message
    assert "points_to_evaluate[1]: 'bn' must be one of [False, True], but got 1" in message
    assert "points_to_evaluate[1]: 'width' must be one of [3], but got 4" in message


def test_compare_spaces_sees_domains_and_conditions_but_not_defaults():
    a, b = _conditional_space(), _conditional_space()
    assert compare_spaces(a, b) == []
    c = HyperParameters()
    c.Choice("opt", ["adam", "sgd"], default="sgd")  # another default: still compatible
    c.Float("momentum", 0.0, 0.9)  # no longer conditional
    c.Boolean("bn")
    c.Fixed("width", 3)
    assert compare_spaces(a, c) == [
        "'momentum' is active when opt in ['sgd'] here and always in the earlier experiment"]
