"""The experiment file: schema, field-path errors, overrides, refs, saving, Tuner arguments."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from raytune_hpt.examples import EXAMPLES, example_path
from raytune_hpt.experiment import (
    EXPERIMENT_FILE,
    ExperimentError,
    apply_overrides,
    load_experiment,
    load_saved_experiment,
    parse_experiment,
    resolve,
    save_experiment,
)
from raytune_hpt.experiment import import_object as import_ref
from raytune_hpt.schedulers import SCHEDULERS
from raytune_hpt.searchers import SEARCHERS

MINIMAL = {"model": "raytune_hpt.examples.digits:build_model", "data": "digits"}


def test_minimal_file_gets_documented_defaults():
    experiment = parse_experiment(dict(MINIMAL))
    assert experiment.data.dataset == "digits"
    assert experiment.objective.to_objective().direction == "min"  # val_loss
    assert experiment.searcher.spec() == {"type": "random"}
    assert experiment.scheduler.spec() == {"type": "fifo"}
    assert (experiment.max_trials, experiment.fit.epochs, experiment.fit.batch_size) == (10, 10, 32)
    assert experiment.resources is None  # the Tuner's default: what the machine has
    assert experiment.workers_per_trial == 1 and experiment.tracking is None


@pytest.mark.parametrize(("data", "expected"), [
    ("digits", 32),
    ({"dataset": "digits", "shared_arrays_mb": 0}, 0),
    ({"dataset": "digits", "shared_arrays_mb": 64}, 64),
    ({"dataset": "digits", "shared_arrays_mb": None}, None),  # never: Keras's array adapter
])
def test_data_shared_arrays_mb_becomes_the_tuner_s(data, expected):
    from raytune_hpt.examples.digits import build_model
    from raytune_hpt.experiment import build_tuner

    experiment = parse_experiment({**MINIMAL, "data": data})
    assert experiment.data.shared_arrays_mb == expected
    assert build_tuner(experiment, build_model).shared_arrays_mb == expected


def test_component_options_pass_through():
    experiment = parse_experiment(
        {
            **MINIMAL,
            "searcher": {"type": "bayesopt", "random_initial": 3},
            "scheduler": {"type": "asha", "grace_period": 2},
            "objective": {"name": "val_auc", "direction": "max"},
        }
    )
    assert experiment.searcher.spec() == {"type": "bayesopt", "random_initial": 3}
    assert experiment.scheduler.spec() == {"type": "asha", "grace_period": 2}
    assert experiment.objective.to_objective().direction == "max"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_bundled_example_validates(name):
    experiment = load_experiment(example_path(name))
    assert experiment.name == name
    assert experiment.description


# (changes to MINIMAL, the field path the error must start with, a fragment of the message)
INVALID = [
    (
        {"searcher": "bayes"},
        "searcher.type",
        f"must be one of {', '.join(sorted(SEARCHERS))}; got 'bayes'",
    ),
    (
        {"scheduler": {"type": "bohb"}},
        "scheduler.type",
        f"must be one of {', '.join(sorted(SCHEDULERS))}",
    ),
    ({"max_trials": 0}, "max_trials", "must be >= 1; got 0"),
    ({"max_trials": "ten"}, "max_trials", "must be an integer; got 'ten'"),
    ({"max_trials": 2.5}, "max_trials", "must be an integer"),
    ({"fit": {"epoch": 3}}, "fit.epoch", "did you mean 'epochs'?"),
    ({"fit": {"epochs": 0}}, "fit.epochs", "must be >= 1"),
    ({"fit": "ten"}, "fit", "must be a mapping"),
    ({"objective": "val_top3"}, "objective", "Cannot infer whether to minimize or maximize"),
    (
        {"objective": {"name": "val_loss", "direction": "down"}},
        "objective.direction",
        "must be one of",
    ),
    ({"model": "build_model"}, "model", "must be 'module:function' or 'path/to/file.py:function'"),
    ({"model": "my-models:build"}, "model", "must be 'module:function'"),
    ({"data": "cifar10"}, "data.dataset", "must be one of breast_cancer, digits, mnist, wine"),
    (
        {"data": {"dataset": "digits", "validation_split": 1.5}},
        "data.validation_split",
        "must be < 1",
    ),
    ({"data": {"dataset": "digits", "cv": 1}}, "data.cv", "must be >= 2"),
    (
        {"data": {"dataset": "digits", "cv": 3, "validation_split": 0.2}},
        "data.cv",
        "choose one way to validate",
    ),
    (
        {"data": {"dataset": "digits", "parquet": "x.parquet", "label": "y"}},
        "data",
        "give exactly one of dataset, loader, parquet",
    ),
    ({"data": {"parquet": "x.parquet"}}, "data.label", "needs the name of its label column"),
    ({"data": {"dataset": "digits", "label": "y"}}, "data.label", "only Parquet data takes"),
    ({"data": {"loader": "nope"}}, "data.loader", "must be 'module:function'"),
    (
        {"space": {"units": {"type": "integer"}}},
        "space.units.type",
        "must be one of boolean, choice",
    ),
    (
        {"space": {"units": {"type": "int", "min_value": 5, "max_value": 1}}},
        "space.units",
        "min_value <= max_value",
    ),
    (
        {"space": {"bs": {"type": "choice", "values": [32], "min_value": 1}}},
        "space.bs.min_value",
        "a choice hyperparameter takes",
    ),
    ({"resources": {"cpu": 0}}, "resources.cpu", "must be > 0"),
    (
        {"data": {"dataset": "digits", "shared_arrays_mb": -1}},
        "data.shared_arrays_mb",
        "must be >= 0",
    ),
    ({"resources": {"gpus": 1}}, "resources.gpus", "did you mean 'gpu'?"),
    ({"name": "my/run"}, "name", "a folder name"),
    ({"seed": "zero"}, "seed", "must be an integer"),
    ({"colour": "blue"}, "colour", "unknown field"),
]


@pytest.mark.parametrize(("change", "field", "fragment"), INVALID, ids=[c[1] for c in INVALID])
def test_invalid_fields_are_named_with_what_is_allowed(change, field, fragment):
    with pytest.raises(ExperimentError) as info:
        parse_experiment({**MINIMAL, **change})
    assert info.value.field == field
    assert fragment in info.value.message
    assert "\n" not in str(info.value)


def test_missing_required_fields():
    with pytest.raises(ExperimentError, match="^model: is required$"):
        parse_experiment({"data": "digits"})
    with pytest.raises(ExperimentError, match="^experiment: "):
        parse_experiment(["model"])


def test_overrides_parse_yaml_values_and_expand_shorthands():
    raw = {"searcher": "random", "fit": {"epochs": 10}, "data": "mnist"}
    result = apply_overrides(
        raw,
        [
            "fit.epochs=1",
            "searcher.seed_hint=[1, 2]",
            "data.cv=3",
            "space.bs={type: choice, values: [8, 16]}",
            "name=x",
        ],
    )
    assert result["fit"] == {"epochs": 1}
    assert result["searcher"] == {"type": "random", "seed_hint": [1, 2]}
    assert result["data"] == {"dataset": "mnist", "cv": 3}
    assert result["space"] == {"bs": {"type": "choice", "values": [8, 16]}}
    assert raw["fit"] == {"epochs": 10}  # the input is not modified


@pytest.mark.parametrize("item", ["fit.epochs", "=3", "fit..epochs=2"])
def test_malformed_overrides(item):
    with pytest.raises(ExperimentError, match=r"^--set: must be key=value"):
        apply_overrides({}, [item])


def test_override_through_a_scalar_names_the_key():
    with pytest.raises(
        ExperimentError, match=r"^max_trials\.x: cannot set a key inside max_trials"
    ):
        apply_overrides({"max_trials": 3}, ["max_trials.x=1"])


def test_load_experiment_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: a:b\ndata: [unclosed\n")
    with pytest.raises(ExperimentError, match=r"bad\.yaml: line \d+: invalid YAML"):
        load_experiment(bad)
    bad.write_text("")
    with pytest.raises(ExperimentError, match="the file is empty"):
        load_experiment(bad)
    bad.write_text("- model\n")
    with pytest.raises(ExperimentError, match="must be a mapping"):
        load_experiment(bad)
    bad.write_text("model: !!python/object/apply:os.system ['echo hacked']\ndata: digits\n")
    with pytest.raises(ExperimentError, match="invalid YAML"):  # safe_load only
        load_experiment(bad)


def test_load_experiment_names_after_the_file_and_applies_fields(tmp_path):
    path = tmp_path / "my run.yaml"
    path.write_text("model: raytune_hpt.examples.digits:build_model\ndata: digits\nmax_trials: 5\n")
    experiment = load_experiment(path, ["max_trials=7"], storage_path="s3://b/p", max_trials=None)
    assert experiment.name == "my-run"
    assert experiment.max_trials == 7
    assert experiment.storage_path == "s3://b/p"
    assert experiment.base_dir == str(tmp_path.resolve())


def test_saved_experiment_round_trips(tmp_path):
    experiment = load_experiment(example_path("mnist-cnn"), ["max_trials=3"])
    target = save_experiment(experiment, str(tmp_path / "exp"))
    assert target.endswith(EXPERIMENT_FILE)
    again = load_saved_experiment(str(tmp_path / "exp"))
    assert again.model_dump(exclude={"storage_path"}) == experiment.model_dump(
        exclude={"storage_path"}
    )
    with pytest.raises(ExperimentError, match=r"^DIR: .* holds no raytune_hpt_experiment.yaml"):
        load_saved_experiment(str(tmp_path))


def test_file_refs_resolve_against_the_experiment_folder_and_travel_by_value(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny.py").write_text(
        "SCALE = 3\n\ndef build(hp):\n    return SCALE * hp\n"
    )
    function = import_ref("models/tiny.py:build", base_dir=str(tmp_path))
    assert function(2) == 6
    from ray import cloudpickle

    payload = cloudpickle.dumps(function)
    # Another interpreter, where models/tiny.py is not importable, can call it.
    script = (
        "import sys; from ray import cloudpickle; "
        "print(cloudpickle.loads(sys.stdin.buffer.read())(5))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=payload,
        capture_output=True,
        check=True,
        cwd="/",
        timeout=60,
    )
    assert out.stdout.decode().strip() == "15"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("models/none.py:build", "no such file"),
        ("no_such_module_xyz:build", "no module named 'no_such_module_xyz'"),
        ("raytune_hpt.examples.digits:nope", "has no attribute 'nope'"),
        ("broken.py:build", "importing"),
    ],
)
def test_bad_refs_are_configuration_errors(tmp_path, ref, message):
    (tmp_path / "broken.py").write_text("def build(hp):\n    return (\n")
    with pytest.raises(ExperimentError) as info:
        import_ref(ref, base_dir=str(tmp_path), field="model")
    assert info.value.field == "model" and message in info.value.message


def test_resolve_loads_data_and_passes_fit_hyperparameters(tmp_path):
    """A space entry named batch_size reaches model.fit in the trial."""
    experiment = parse_experiment(
        {
            **MINIMAL,
            "data": {"dataset": "digits", "validation_split": 0.5},
            "fit": {"epochs": 1, "batch_size": 32, "shuffle": False},
            "space": {"batch_size": {"type": "choice", "values": [100, 200], "default": 100}},
        }
    )
    resolved = resolve(experiment)
    kwargs = resolved.search_kwargs
    assert kwargs["epochs"] == 1 and kwargs["shuffle"] is False
    assert len(kwargs["y"]) == 899 and len(kwargs["validation_data"][1]) == 898
    hp = experiment.hyperparameters()
    assert hp.get("batch_size") == 100
    model = resolved.hypermodel.build(hp)
    history = resolved.hypermodel.fit(
        hp, model, kwargs["x"], kwargs["y"], epochs=1, batch_size=kwargs["batch_size"], verbose=0
    )
    assert history.params["steps"] == 9  # ceil(899 / 100): the space's batch size won


def test_resolve_names_the_data_field_on_failure(tmp_path):
    experiment = parse_experiment(
        {**MINIMAL, "data": {"parquet": "missing.parquet", "label": "y"}}, base_dir=str(tmp_path)
    )
    with pytest.raises(ExperimentError, match=r"^data\.parquet: cannot read Parquet"):
        resolve(experiment)


def test_validation_imports_neither_tensorflow_nor_ray():
    script = textwrap.dedent(f"""
        import sys
        from raytune_hpt.experiment import load_experiment
        from raytune_hpt.examples import example_path
        for name in {sorted(EXAMPLES)!r}:
            load_experiment(example_path(name), ["max_trials=2"])
        print("tensorflow" in sys.modules, "keras" in sys.modules, "ray" in sys.modules)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, timeout=60
    )
    assert out.stdout.decode().split() == ["False", "False", "False"]
