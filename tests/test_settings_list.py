"""The list of settings is written once, as the fields of ``Settings`` (issue 34, seam 2).

The Tuner's keyword arguments and their defaults, the experiment file's settings and their
defaults are derived from those fields; these tests hold each place to the list, so that a
new setting is one field of ``Settings`` (and its line of documentation).
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
from pydantic import BaseModel

import raytune_hpt
from raytune_hpt.experiment import build_tuner, parse_experiment
from raytune_hpt.experiment._schema import Experiment
from raytune_hpt.settings import TUNER_DEFAULTS, Settings, tuner_arguments

#: Settings the experiment file does not write at its top level, and why.
NOT_IN_THE_FILE = {
    "address": "the command line's --address",
    "overwrite": "the command line's --overwrite",
    "verbose": "the command line's --verbose / --quiet",
    "hyperparameters": "the file's space: section",
    "shared_arrays_mb": "the file's data: section",
    "executions_per_trial": "Keras Tuner's argument, for Python code",
    "max_consecutive_failed_trials": "Keras Tuner's argument, for Python code",
    "meta_optimizer": "a Python-only performance switch",
}


def test_the_tuner_takes_each_setting_by_its_field_name_and_default():
    parameters = inspect.signature(raytune_hpt.Tuner).parameters
    keyword = {n: p.default for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert keyword == TUNER_DEFAULTS
    fields = {f.name for f in dataclasses.fields(Settings)}
    # the rest: the objective (positional) and what Keras Tuner's arguments set
    assert fields - set(keyword) == {"objective", "compile_overrides", "max_model_size",
                                     "epochs", "tune_new_entries"}


def test_a_setting_given_to_the_tuner_reaches_its_settings(tmp_path):
    values = {"max_trials": 3, "seed": 7, "keep_models": 2, "max_time": "2h",
              "pending_timeout": 30.0, "max_failures": 1, "verbose": 0}
    tuner = raytune_hpt.Tuner(lambda hp: None, objective="val_accuracy", name="listed",
                              storage_path=str(tmp_path), **values)
    assert {name: getattr(tuner.settings, name) for name in values} == {
        **values, "max_time": 7200.0}
    assert tuner.settings.objective.name == "val_accuracy"


def test_the_tuner_documents_each_argument():
    doc = inspect.getdoc(raytune_hpt.Tuner)
    args = doc.split("Args:", 1)[1].split("\n\n", 1)[0]
    documented = set()
    for line in args.splitlines():
        match = re.match(r"^    ([a-z_]+(?:, [a-z_]+)*):", line)
        if match:
            documented.update(match.group(1).split(", "))
    assert documented == set(tuner_arguments()) | {"hypermodel", "objective"}


def test_the_experiment_file_writes_each_setting_or_says_where_it_comes_from():
    in_the_file = set(Experiment.model_fields)
    assert set(tuner_arguments()) - in_the_file == set(NOT_IN_THE_FILE)


@pytest.mark.parametrize("name", sorted(set(tuner_arguments()) & set(Experiment.model_fields)))
def test_the_file_s_default_is_the_tuner_s(name):
    default = Experiment.model_fields[name].default
    if isinstance(default, BaseModel) or name == "resources":  # a section; None for "auto"
        pytest.skip(f"{name}: the file's own shape")
    assert default == TUNER_DEFAULTS[name]


def test_each_setting_the_file_names_reaches_the_settings(tmp_path):
    from raytune_hpt.examples.digits import build_model

    values = {"max_trials": 4, "max_concurrent_trials": 2, "max_failures": 2,
              "pending_timeout": 45.0, "workers_per_trial": 2, "seed": 5, "keep_models": 3,
              "max_time": 90, "tracking": {"tensorboard": False}, "name": "from_file",
              "points_to_evaluate": [{"units": 32}]}
    experiment = parse_experiment({"model": "raytune_hpt.examples.digits:build_model",
                                   "data": "digits", "storage_path": str(tmp_path), **values})
    settings = build_tuner(experiment, build_model).settings
    assert {name: getattr(settings, name) for name in values} == {**values, "max_time": 90.0}
    assert settings.storage_path == str(tmp_path)
