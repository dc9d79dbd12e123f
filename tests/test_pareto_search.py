"""What a Pareto objective may run with: refused before anything starts, or accepted."""

from __future__ import annotations

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError

PARETO = ["val_accuracy", ("params", "min")]


def _build(hp):  # never called: the checks run in Tuner()
    raise AssertionError("no model is built by a refused configuration")


@pytest.mark.parametrize("scheduler", ["asha", "hyperband", "median", "async_hyperband",
                                       {"type": "asha", "grace_period": 1}])
def test_early_stopping_schedulers_are_refused_with_one_clear_error(scheduler):
    with pytest.raises(ConfigurationError, match="needs scheduler 'fifo'") as caught:
        rth.Tuner(_build, objective=rth.Pareto(PARETO), scheduler=scheduler)
    assert "val_accuracy, params" in str(caught.value) and repr(scheduler) in str(caught.value)


def test_a_searcher_without_a_multi_objective_rule_is_refused():
    with pytest.raises(ConfigurationError, match="needs a searcher among"):
        rth.Tuner(_build, objective=rth.Pareto(PARETO), searcher="hyperopt")


def test_keras_tuners_hyperband_is_refused_too():
    with pytest.raises(ConfigurationError, match="needs scheduler 'fifo'"):
        rth.Hyperband(_build, objective=rth.Pareto(PARETO), max_epochs=3)


@pytest.mark.parametrize("searcher", ["random", "grid", "bayesopt", "optuna",
                                      {"type": "optuna", "sampler": "nsga2"}])
def test_searchers_with_a_rule_are_accepted(searcher, tmp_path):
    tuner = rth.Tuner(_build, objective=rth.Pareto(PARETO), searcher=searcher,
                      storage_path=str(tmp_path))
    assert tuner.objective.ray_metric(several=True) == {"metric": ["val_accuracy", "params"],
                                                         "mode": ["max", "min"]}


def test_ray_gets_no_single_metric_for_a_pareto_objective():
    assert rth.Pareto(PARETO).ray_metric() == {"metric": None, "mode": None}
    assert rth.Objective("val_loss").ray_metric() == {"metric": "val_loss", "mode": "min"}


def test_the_experiment_file_spells_a_pareto_objective(tmp_path):
    from raytune_hpt.experiment import ExperimentError, parse_experiment

    base = {"model": "raytune_hpt.examples.mnist:build_cnn", "data": "mnist"}
    experiment = parse_experiment({**base, "objective": {
        "pareto": ["val_accuracy", {"name": "model_bytes", "direction": "min"}]}})
    assert experiment.objective.to_objective() == rth.Pareto(
        ["val_accuracy", ("model_bytes", "min")])
    with pytest.raises(ExperimentError, match="at least two objectives"):
        parse_experiment({**base, "objective": {"pareto": ["val_accuracy"]}})
