"""Warm starts inside the searchers, without Ray trials: points tried first, in order, and
trials run elsewhere (``add_evaluated_point``) never suggested again; bayesopt learns from
them from its first suggestion."""

from __future__ import annotations

import importlib.util
import logging
import random

import pytest

from raytune_hpt.driver import check_points
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers import SEARCHERS, create_searcher, point_key
from raytune_hpt.searchers._basic import sample_active


def _space() -> HyperParameters:
    """Finite (grid works) and conditional."""
    hp = HyperParameters()
    hp.Int("units", 8, 64, step=8)
    hp.Float("lr", 0.001, 0.01, step=0.001)
    hp.Choice("opt", ["adam", "sgd"])
    with hp.conditional_scope("opt", "sgd"):
        hp.Float("momentum", 0.0, 0.9, step=0.3)
    return hp


def _available(name: str) -> bool:
    needs = {"hyperopt": ["hyperopt"], "optuna": ["optuna"], "optuna_gp": ["optuna", "torch"]}
    return all(importlib.util.find_spec(m) for m in needs.get(name, []))


def _make(name: str, space: HyperParameters, **kwargs):
    if not _available(name):
        pytest.skip(f"{name} needs an optional package that is not installed")
    return create_searcher(name, space=space, metric="val_loss", mode="min", seed=0,
                           max_trials=20, **kwargs)


def _earlier(space: HyperParameters, n: int, seed: int = 0) -> list[dict]:
    """``add_evaluated_point`` arguments of ``n`` distinct random trials."""
    rng, points, keys = random.Random(seed), [], set()
    while len(points) < n:
        point = sample_active(space, rng)
        if point_key(point) not in keys:
            keys.add(point_key(point))
            points.append(point)
    full = check_points(points, space)
    return [{"parameters": p, "value": 1.0 / (i + 1), "error": False,
             "intermediate_values": [2.0 / (i + 1), 1.0 / (i + 1)]} for i, p in enumerate(full)]


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_points_to_evaluate_come_first_in_order(name):
    space = _space()
    given = [{"units": 24, "opt": "sgd", "momentum": 0.6}, {"units": 64, "lr": 0.005}]
    searcher = _make(name, space, points_to_evaluate=check_points(given, space))
    first = [space.active_values(searcher.suggest(f"t{i}")) for i in range(3)]
    assert point_key(first[0]) == point_key({"units": 24, "lr": 0.001, "opt": "sgd",
                                             "momentum": 0.6})
    # what a point leaves out takes its default
    assert point_key(first[1]) == point_key({"units": 64, "lr": 0.005, "opt": "adam"})
    assert point_key(first[2]) not in {point_key(first[0]), point_key(first[1])}


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_trials_run_elsewhere_are_not_suggested_again(name):
    space = _space()
    earlier = _earlier(space, 6)
    searcher = _make(name, space, evaluated=earlier)
    done = {point_key(space.active_values(e["parameters"])) for e in earlier}
    suggested = []
    for i in range(6):
        config = searcher.suggest(f"t{i}")
        suggested.append(point_key(space.active_values(config)))
        searcher.on_trial_complete(f"t{i}", {"val_loss": 0.5, "epoch": 2})
    assert not done & set(suggested)


def test_random_with_the_same_seed_skips_the_earlier_run():
    space = _space()
    first = _make("random", space)
    earlier_points = [first.suggest(f"a{i}") for i in range(6)]
    warm = [{"parameters": p, "value": 0.1} for p in check_points(earlier_points, space)]
    again = _make("random", space, evaluated=warm)  # same seed: would repeat them
    later = [point_key(again.suggest(f"b{i}")) for i in range(6)]
    assert not {point_key(p) for p in earlier_points} & set(later)
    assert len(set(later)) == 6


def test_grid_leaves_out_the_evaluated_points_and_counts_them():
    space = HyperParameters()
    space.Int("units", 8, 32, step=8)
    space.Choice("act", ["relu", "tanh"])
    full = _make("grid", space)
    assert len(full) == 8
    warm = [{"parameters": {"units": 8, "act": "relu"}, "value": 0.3},
            {"parameters": {"units": 16, "act": "tanh"}, "value": None, "error": True}]
    searcher = _make("grid", space, evaluated=warm)
    assert len(searcher) == 6
    rest = [searcher.suggest(f"t{i}") for i in range(6)]
    assert {"units": 8, "act": "relu"} not in rest and {"units": 16, "act": "tanh"} not in rest
    assert searcher.suggest("t6") == "FINISHED"


def test_bayesopt_fits_on_the_earlier_trials_from_its_first_suggestion(caplog):
    space = _space()
    earlier = _earlier(space, 6)
    caplog.set_level(logging.DEBUG, logger="raytune_hpt.searchers._bayesopt")
    warm = _make("bayesopt", space, evaluated=earlier)
    warm.suggest("first")
    assert "(Gaussian process on 6 observations)" in caplog.records[-1].getMessage()
    state = warm.get_state()
    assert state["kernel"] is not None  # a GP was fitted for the first suggestion
    observed = [t for t in state["trials"].values() if t.done]
    assert len(observed) == 6
    # the rung-wise model sees every epoch of them: epoch 2 is each one's last value
    assert sorted(t.scores[2] for t in observed) == sorted(-1.0 / (i + 1) for i in range(6))

    caplog.clear()
    cold = _make("bayesopt", space)  # the same searcher without them starts at random
    cold.suggest("first")
    assert "(random)" in caplog.records[-1].getMessage()
    assert cold.get_state()["kernel"] is None


def test_bayesopt_state_keeps_the_queue_for_a_resume():
    space = _space()
    searcher = _make("bayesopt", space,
                     points_to_evaluate=check_points([{"units": 16}, {"units": 32}], space))
    searcher.suggest("t0")
    restored = _make("bayesopt", space)
    restored.set_state(searcher.get_state())
    assert restored.suggest("t1")["units"] == 32


@pytest.mark.parametrize("name", ["hyperopt", "optuna"])
def test_ray_searchers_never_rerun_an_earlier_trial_even_in_a_tiny_space(name, tmp_path):
    space = HyperParameters()
    space.Choice("units", [8, 16, 24])
    space.Boolean("bn")  # 6 configurations, 4 of them run before
    earlier = [{"parameters": {"units": u, "bn": b}, "value": 0.1 * i, "error": False}
               for i, (u, b) in enumerate([(8, False), (8, True), (16, False), (24, True)])]
    searcher = _make(name, space, evaluated=earlier)
    done = {point_key(e["parameters"]) for e in earlier}
    for i in range(2):
        config = searcher.suggest(f"t{i}")
        assert point_key(space.active_values(config)) not in done
        searcher.on_trial_complete(f"t{i}", {"val_loss": 0.5})
    searcher.save(str(tmp_path / "state.pkl"))  # Ray checkpoints it; restore continues
    restored = _make(name, space, evaluated=earlier)
    restored.restore(str(tmp_path / "state.pkl"))
    assert isinstance(restored.suggest("t2"), dict)
