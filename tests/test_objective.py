"""The objective and its direction, inferred as Keras Tuner users expect."""

from __future__ import annotations

import keras_tuner as kt
import pytest

from raytune_hpt.objective import Objective, infer_direction

MAXIMIZED = [
    "accuracy",
    "val_accuracy",
    "acc",
    "val_acc",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "val_sparse_categorical_accuracy",
    "val_top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "val_auc",
    "val_auc_1",
    "precision",
    "val_precision_1",
    "recall",
    "val_recall",
    "f1_score",
    "val_f1_score",
    "val_iou",
    "val_mean_io_u",
    "val_mean_io_u_2",
    "r2_score",
    "true_positives",
    "val_true_negatives",
    "val_recall_at_precision",
]
MINIMIZED = [
    "loss",
    "val_loss",
    "mse",
    "val_mse",
    "mae",
    "val_mae",
    "mape",
    "rmse",
    "msle",
    "mean_squared_error",
    "val_mean_absolute_error",
    "val_root_mean_squared_error",
    "val_mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "categorical_crossentropy",
    "val_binary_crossentropy",
    "val_sparse_categorical_crossentropy",
    "hinge",
    "val_squared_hinge",
    "val_kl_divergence",
    "val_poisson",
    "val_log_cosh",
    "false_positives",
    "val_false_negatives",
    "val_accuracy_loss",
]


@pytest.mark.parametrize("name", MAXIMIZED)
def test_usual_scores_are_maximized(name):
    assert infer_direction(name) == "max"
    assert Objective(name).direction == "max" and Objective(name).ray_metric()["mode"] == "max"


@pytest.mark.parametrize("name", MINIMIZED)
def test_usual_losses_and_errors_are_minimized(name):
    assert infer_direction(name) == "min"
    assert Objective(name).direction == "min"


@pytest.mark.parametrize(
    "name",
    [
        "accuracy",
        "val_accuracy",
        "acc",
        "val_acc",
        "binary_accuracy",
        "val_auc",
        "precision",
        "val_recall",
        "loss",
        "val_loss",
        "mse",
        "val_mean_absolute_error",
        "hinge",
        "val_kl_divergence",
        "poisson",
        "log_cosh",
    ],
)
def test_same_direction_as_keras_tuner(name):
    from keras_tuner.src.engine.metrics_tracking import infer_metric_direction

    assert infer_direction(name) == infer_metric_direction(name)


@pytest.mark.parametrize("name", ["val_top3", "my_metric", "reward", "val_cosine_similarity"])
def test_unknown_name_without_direction_raises(name):
    assert infer_direction(name) is None
    with pytest.raises(
        ValueError,
        match=rf"Cannot infer whether to minimize or maximize '{name}'; "
        rf"give the direction: Objective\('{name}', 'min'\)",
    ):
        Objective(name)


def test_explicit_direction_wins():
    assert Objective("val_top3", "max").direction == "max"
    assert Objective("val_accuracy", "min").direction == "min"


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        (("val_loss", "down"), ValueError, r"direction must be 'min' or 'max', but got 'down'"),
        (("val_loss", "minimize"), ValueError, r"but got 'minimize' for 'val_loss'"),
        (("",), ValueError, r"non-empty string, but got ''"),
        ((None,), ValueError, r"non-empty string, but got None"),
    ],
)
def test_bad_objective(args, error, pattern):
    with pytest.raises(error, match=pattern):
        Objective(*args)


def test_better_follows_direction():
    assert Objective("val_accuracy").better(0.9, 0.8)
    assert not Objective("val_accuracy").better(0.8, 0.8)
    assert Objective("val_loss").better(0.1, 0.2)
    assert not Objective("val_loss").better(0.3, 0.2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("val_accuracy", Objective("val_accuracy", "max")),
        (("val_top3", "max"), Objective("val_top3", "max")),
        ({"name": "val_loss"}, Objective("val_loss", "min")),
        ({"name": "score", "direction": "min"}, Objective("score", "min")),
        (Objective("val_auc"), Objective("val_auc", "max")),
        (kt.Objective("val_auc", "max"), Objective("val_auc", "max")),
        (kt.Objective("val_top3", direction="min"), Objective("val_top3", "min")),
    ],
    ids=["str", "tuple", "dict", "dict-direction", "ours", "kt", "kt-unknown-name"],
)
def test_coerce(value, expected):
    assert Objective.coerce(value) == expected


def test_coerce_rejects_other_types():
    with pytest.raises(TypeError, match=r"objective must be a metric name.*but got 3"):
        Objective.coerce(3)
    with pytest.raises(ValueError, match=r"at least one objective"):
        Objective.coerce([])


def test_a_list_is_keras_tuners_signed_sum_minimized():
    objective = Objective.coerce(["val_loss", Objective("val_accuracy", "max")])
    assert (objective.name, objective.direction) == ("multi_objective", "min")
    metrics = objective.add_to({"val_loss": 0.5, "val_accuracy": 0.75})
    assert metrics["multi_objective"] == pytest.approx(0.5 - 0.75)
    assert objective.add_to({"val_loss": 0.5}) == {"val_loss": 0.5}  # a term missing: no sum
    assert Objective.coerce(objective.to_dict()) == objective


def test_objective_is_frozen_and_hashable():
    objective = Objective("val_loss")
    with pytest.raises(AttributeError):
        objective.name = "loss"
    assert len({objective, Objective("val_loss", "min")}) == 1


# -- Pareto: several objectives, no sum ------------------------------------------------------
def test_pareto_keeps_each_term_and_reads_back_from_its_plain_form():
    from raytune_hpt.objective import Pareto

    pareto = Pareto(["val_accuracy", Objective("params", "min"), ("inference_ms", "min")])
    assert pareto.is_pareto and not Objective("val_loss").is_pareto
    assert pareto.ray_metric(several=True) == {"metric": ["val_accuracy", "params",
                                                          "inference_ms"],
                                               "mode": ["max", "min", "min"]}
    assert pareto.metric_names() == ["val_accuracy", "params", "inference_ms"]
    assert (pareto.name, pareto.direction) == ("val_accuracy", "max")  # the first term's
    assert Objective.coerce(pareto.to_dict()) == pareto
    assert pareto.add_to({"val_accuracy": 0.9, "params": 10.0}) == {
        "val_accuracy": 0.9, "params": 10.0}  # nothing summed


def test_a_plain_list_stays_keras_tuners_signed_sum():
    summed = Objective.coerce(["val_accuracy", "val_loss"])
    assert not summed.is_pareto and summed.name == "multi_objective"


def test_the_measured_costs_are_minimized_without_a_direction():
    assert [Objective(n).direction for n in ("params", "model_bytes", "inference_ms")] == [
        "min"] * 3


@pytest.mark.parametrize("terms, message", [
    (["val_accuracy"], "at least two objectives"),
    (["val_loss", "val_loss"], "names must differ"),
    (["val_loss", "my_metric"], "Cannot infer"),
    ("val_loss", "takes a list"),
])
def test_a_bad_pareto_objective_says_what_must_hold(terms, message):
    from raytune_hpt.objective import Pareto

    with pytest.raises((ValueError, TypeError), match=message):
        Pareto(terms)


def test_the_old_spellings_of_the_objective_still_answer_with_a_deprecation_warning():
    from raytune_hpt.objective import Pareto

    pareto = Pareto(["val_accuracy", ("params", "min")])
    with pytest.warns(DeprecationWarning, match="Objective.direction"):
        assert Objective("val_accuracy").mode == "max"
    with pytest.warns(DeprecationWarning, match="metric_names"):
        assert pareto.names == ["val_accuracy", "params"]
    with pytest.warns(DeprecationWarning, match="direction"):
        assert pareto.modes == ["max", "min"]
