"""Multi-objective searchers (a Pareto objective): bayesopt's ParEGO rule and Optuna's
NSGA-II and TPE samplers, driven in-process through Ray's ``Searcher`` interface."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.results import pareto_ranks
from raytune_hpt.searchers import create_searcher
from raytune_hpt.searchers._parego import chebyshev_scores
from tests.searchers.test_bayesopt import mixed_space  # every type, a conditional scope

METRICS, MODES = ["error", "cost"], ["min", "min"]


def check_valid(space: HyperParameters, config: dict) -> None:
    by_name = {hp.name: hp for hp in space.space}
    assert set(config) == set(space.active_values(config)), config
    assert ("momentum" in config) == (config["optimizer"] == "sgd")
    for name, value in config.items():
        assert by_name[name].snap(value) == value, (name, value)


def two_objectives(config: dict) -> dict[str, float]:
    """Error falls and cost rises with units and learning rate: a real trade-off."""
    size = config["units"] / 128 + config.get("momentum", 0.5)
    error = 1.0 / (1.0 + size) + abs(math.log10(config["lr"]) + 2) / 3 + config["dropout"]
    return {"error": error, "cost": size + 0.1 * config["bn"]}


def drive(searcher, space, n: int) -> list[dict]:
    configs = []
    for i in range(n):
        config = space.active_values(searcher.suggest(f"t{i}"))
        check_valid(space, config)
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {**two_objectives(config), "epoch": 1})
    return configs


@pytest.mark.parametrize("spec", ["bayesopt", {"type": "bayesopt", "fidelity": "last"},
                                  "optuna", {"type": "optuna", "sampler": "nsga2"}])
def test_multi_objective_searchers_suggest_valid_points(spec):
    space = mixed_space()
    searcher = create_searcher(spec, space=space, metric=METRICS, mode=MODES, seed=0,
                               max_trials=16)
    configs = drive(searcher, space, 16)  # past the random start: the model is used
    if "bayesopt" in str(spec):  # it never repeats a configuration (Optuna's samplers may)
        assert len({tuple(sorted(c.items())) for c in configs}) == len(configs)
    assert len({c["units"] for c in configs}) > 3


def test_bayesopt_restores_its_vectors_and_continues_the_same_way(tmp_path):
    space = mixed_space()
    first = create_searcher("bayesopt", space=space, metric=METRICS, mode=MODES, seed=2)
    drive(first, space, 7)
    first.save(str(tmp_path / "state"))
    second = create_searcher("bayesopt", space=space, metric=METRICS, mode=MODES, seed=99)
    second.restore(str(tmp_path / "state"))
    assert first.suggest("next") == second.suggest("next")


def _hypervolume(points: list[tuple[float, float]], reference: tuple[float, float]) -> float:
    front = sorted(p for p, r in zip(points, pareto_ranks(points, MODES), strict=True) if r == 0)
    area, previous = 0.0, reference[1]
    for error, cost in front:  # both minimized: the staircase under the reference point
        area += (reference[0] - error) * (previous - cost)
        previous = cost
    return area


def test_bayesopt_covers_more_of_the_front_than_random_search():
    """ParEGO's scalarisations steer towards the front: a larger dominated hypervolume
    after 20 trials than random search's, on average over five seeds."""
    space = mixed_space()
    volumes = {}
    for name in ("bayesopt", "random"):
        volumes[name] = np.mean([_hypervolume(
            [tuple(two_objectives(c).values()) for c in drive(create_searcher(
                name, space=space, metric=METRICS, mode=MODES, seed=seed), space, 20)],
            (2.5, 2.5)) for seed in range(5)])
    assert volumes["bayesopt"] > volumes["random"]


def test_chebyshev_scalarisation_prefers_the_dominating_point_for_any_weights():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(30, 3))
    y[0] = y.max(axis=0)  # the ideal point: dominates all
    y[1] = y[2] + 0.1  # 1 dominates 2
    for _ in range(20):
        scores = chebyshev_scores(y, rng)
        assert scores[0] == pytest.approx(0.0) and scores.max() == pytest.approx(0.0)
        assert scores[1] > scores[2]


def test_mismatched_metric_and_mode_lists_are_refused():
    space = mixed_space()
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        create_searcher("bayesopt", space=space, metric=METRICS, mode=["min", "down"])


def test_an_unknown_optuna_sampler_is_refused():
    space = mixed_space()
    with pytest.raises(ValueError, match="sampler must be 'tpe' or 'nsga2'"):
        create_searcher({"type": "optuna", "sampler": "cmaes"}, space=space, metric=METRICS,
                        mode=MODES)
