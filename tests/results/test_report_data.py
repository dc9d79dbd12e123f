"""What the report's plots are drawn from, without a browser: best so far, the Pareto front,
hyperparameter axes with an "absent" position, importance, and the missing-plotly error."""

from __future__ import annotations

import math
import sys

import pytest

from raytune_hpt.results._importance import hyperparameter_importance
from raytune_hpt.results._plot_data import (
    ABSENT,
    HpAxis,
    best_so_far,
    parallel_dimension,
    pareto_front,
)
from raytune_hpt.results._report import write_report

NAN = math.nan


def test_best_so_far_follows_the_direction_and_skips_nan():
    assert best_so_far([NAN, 0.3, 0.1, NAN, 0.2], "min")[1:] == [0.3, 0.1, 0.1, 0.1]
    assert math.isnan(best_so_far([NAN, 0.3], "min")[0])
    assert best_so_far([0.3, 0.1, 0.5], "max") == [0.3, 0.3, 0.5]


def test_pareto_front_keeps_the_non_dominated_points():
    points = [(0.9, 0.5), (0.8, 0.2), (0.7, 0.3), (0.9, 0.6), (NAN, 0.0), (0.95, 0.7)]
    # maximize the first, minimize the second: (0.7, 0.3) is dominated by (0.8, 0.2),
    # (0.9, 0.6) by (0.9, 0.5); NaN is never on the front
    assert pareto_front(points, ["max", "min"]) == [0, 1, 5]
    assert pareto_front([(1, 1), (1, 1)], ["max", "max"]) == [0, 1]  # ties dominate nothing


def test_an_inactive_value_gets_its_own_position_below_the_axis():
    axis = HpAxis("units2", numeric=False, categories=(8, 16))
    dimension = parallel_dimension(axis, [8, None, 16, None])
    assert dimension["ticktext"] == [ABSENT, "8", "16"]
    absent = dimension["tickvals"][0]
    assert dimension["values"] == [0.0, absent, 1.0, absent] and absent < 0
    assert dimension["range"][0] == absent

    log_axis = HpAxis("lr", numeric=True, log=True)
    dimension = parallel_dimension(log_axis, [1e-4, 1e-2, None])
    assert dimension["values"][:2] == [-4.0, -2.0]
    assert dimension["values"][2] < -4.0 and dimension["ticktext"][0] == ABSENT
    assert dimension["ticktext"][1:] == ["0.0001", "0.01"]
    # all values present: no absent tick at all
    assert ABSENT not in parallel_dimension(log_axis, [1e-4, 1e-3])["ticktext"]


def test_importance_finds_the_hyperparameter_that_matters():
    rows, scores = [], []
    for a in range(4):
        for b in range(4):
            c = None if a < 2 else float(b % 2)  # a conditional, irrelevant one
            rows.append([float(a), float(b), c])
            scores.append(float(a) ** 2)
    shares = hyperparameter_importance(rows, scores, ["a", "b", "c"])
    # c is inactive exactly when a < 2, so it carries a little of a's effect
    assert shares["a"] > 0.7 and shares["b"] < 0.01 and shares["c"] < 0.1
    assert hyperparameter_importance([r[:2] for r in rows], scores, ["a", "b"])["a"] > 0.95
    assert hyperparameter_importance(rows[:3], scores[:3], ["a", "b", "c"]) == {}  # too few
    assert hyperparameter_importance(rows, [1.0] * len(rows), ["a", "b", "c"]) == {}


def test_a_missing_plotly_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'raytune-hpt\[report\]'"):
        write_report(object(), tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()
