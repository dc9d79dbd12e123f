"""The experiment file's ``points_to_evaluate:`` and ``warm_start:`` keys: checked by the
schema, passed to the Tuner (no Ray, no trials)."""

from __future__ import annotations

import pytest

from raytune_hpt.experiment import ExperimentError, build_tuner, parse_experiment

BASE = {"model": "raytune_hpt.examples.digits:build_model", "data": "digits"}


def _builder(hp):  # never built here
    raise AssertionError("not built")


def test_both_keys_reach_the_tuner_and_a_relative_path_starts_at_the_working_dir(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = parse_experiment({
        **BASE, "points_to_evaluate": [{"units": 64, "learning_rate": 0.001}, {"units": 32}],
        "warm_start": "results/earlier"})
    tuner = build_tuner(experiment, _builder)
    assert tuner.points_to_evaluate == [{"units": 64, "learning_rate": 0.001}, {"units": 32}]
    assert tuner.warm_start == str(tmp_path / "results" / "earlier")
    uri = build_tuner(parse_experiment({**BASE, "warm_start": "s3://bucket/runs/earlier"}),
                      _builder)
    assert uri.warm_start == "s3://bucket/runs/earlier"
    assert "warm_start: results/earlier" in experiment.to_yaml()  # the saved copy keeps it


def test_without_the_keys_nothing_changes():
    tuner = build_tuner(parse_experiment(dict(BASE)), _builder)
    assert tuner.points_to_evaluate is None and tuner.warm_start is None


@pytest.mark.parametrize("extra, field, says", [
    ({"points_to_evaluate": []}, "points_to_evaluate", "at least 1 item"),
    ({"points_to_evaluate": {"units": 64}}, "points_to_evaluate", "must be a list of mappings"),
    ({"points_to_evaluate": [{"units": [64]}]}, "points_to_evaluate", "int, float, string"),
    ({"points_to_evaluate": [64]}, "points_to_evaluate", "must be a list of mappings"),
    ({"warm_start": ""}, "warm_start", "at least 1 character"),
    ({"warm_start": 3}, "warm_start", "must be a string"),
    ({"warm_strat": "x"}, "warm_strat", "did you mean 'warm_start'"),
])
def test_bad_values_name_their_field(extra, field, says):
    with pytest.raises(ExperimentError) as error:
        parse_experiment({**BASE, **extra})
    assert str(error.value).startswith(field), str(error.value)
    assert says in str(error.value)
