"""Space discovery by building the model, and what counts as a model builder."""

from __future__ import annotations

import keras
import keras_tuner as kt
import pytest

from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hypermodel import HyperModel, as_hypermodel, discover_space, has_custom_fit
from raytune_hpt.hyperparameters import HyperParameters


def _compiled(layers):
    model = keras.Sequential(
        [keras.Input((8,)), *layers, keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _names(space: HyperParameters) -> set[str]:
    return {hp.name for hp in space.space}


def test_branches_behind_plain_if_are_found():
    def build(hp):
        layers = []
        kind = hp.Choice("kind", ["plain", "wide", "deep"])
        if kind == "wide":
            layers.append(keras.layers.Dense(hp.Int("wide_units", 16, 64, step=16)))
        elif kind == "deep":
            if hp.Boolean("deep_dropout"):
                layers.append(keras.layers.Dropout(hp.Float("deep_rate", 0.1, 0.5)))
        return _compiled(layers)

    space = discover_space(as_hypermodel(build))
    assert _names(space) == {"kind", "wide_units", "deep_dropout", "deep_rate"}
    # Without a conditional_scope, Keras Tuner treats them as always active; so do we.
    assert space.values == {
        "kind": "plain",
        "wide_units": 16,
        "deep_dropout": False,
        "deep_rate": 0.1,
    }


def test_branches_inside_conditional_scopes_are_found_and_conditional():
    def build(hp):
        layers = []
        kind = hp.Choice("kind", ["mlp", "cnn"])
        with hp.conditional_scope("kind", ["mlp"]):
            if kind == "mlp":
                layers.append(keras.layers.Dense(hp.Int("mlp_units", 8, 32, step=8)))
        with hp.conditional_scope("kind", ["cnn"]):
            if kind == "cnn":
                layers += [
                    keras.layers.Reshape((8, 1)),
                    keras.layers.Conv1D(hp.Choice("filters", [4, 8]), 3),
                    keras.layers.Flatten(),
                ]
        return _compiled(layers)

    space = discover_space(as_hypermodel(build))
    assert _names(space) == {"kind", "mlp_units", "filters"}
    assert space.values == {"kind": "mlp", "mlp_units": 8}
    assert space.active_values({"kind": "cnn"}) == {"kind": "cnn", "filters": 4}
    assert len(space.grid()) == 4 + 2


def test_nested_scopes_several_levels_deep_are_found():
    def build(hp):
        layers = []
        kind = hp.Choice("kind", ["linear", "mlp"])
        with hp.conditional_scope("kind", "mlp"):
            if kind == "mlp":
                depth = hp.Int("depth", 1, 2)
                with hp.conditional_scope("depth", [2]):
                    if depth == 2:
                        regularize = hp.Boolean("regularize")
                        with hp.conditional_scope("regularize", [True]):
                            if regularize:
                                layers.append(
                                    keras.layers.Dropout(hp.Float("rate", 0.25, 0.75, step=0.25))
                                )
                layers += [keras.layers.Dense(8) for _ in range(depth)]
        return _compiled(layers)

    space = discover_space(as_hypermodel(build))
    assert [hp.name for hp in space.space] == ["kind", "depth", "regularize", "rate"]
    assert space.values == {"kind": "linear"}
    deepest = {"kind": "mlp", "depth": 2, "regularize": True, "rate": 0.5}
    assert space.active_values(deepest) == deepest
    assert space.active_values({**deepest, "depth": 1}) == {"kind": "mlp", "depth": 1}
    # linear (1) + depth 1 (1) + depth 2 x (no reg (1) + reg x 3 rates)
    assert len(space.grid()) == 1 + 1 + 1 + 3


def test_per_layer_hyperparameters_behind_range_of_an_int():
    def build(hp):
        layers = [
            keras.layers.Dense(hp.Int(f"units_{i}", 4, 32, step=4), activation="relu")
            for i in range(hp.Int("layers", 1, 3))
        ]
        return _compiled(layers)

    space = discover_space(as_hypermodel(build))
    assert [hp.name for hp in space.space] == ["layers", "units_0", "units_1", "units_2"]
    assert space.values["layers"] == 1


def test_range_of_an_int_with_step():
    def build(hp):
        layers = [
            keras.layers.Dense(hp.Choice(f"units_{i}", [4, 8]))
            for i in range(hp.Int("layers", 2, 8, step=3))
        ]
        return _compiled(layers)

    space = discover_space(as_hypermodel(build))
    assert _names(space) == {"layers"} | {f"units_{i}" for i in range(8)}


class FitTunesBatchSize(HyperModel):
    def build(self, hp):
        return _compiled([keras.layers.Dense(hp.Int("units", 4, 8, step=4))])

    def fit(self, hp, model, *args, **kwargs):
        if hp.Boolean("shuffle"):
            kwargs["shuffle"] = True
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)


def test_hyperparameters_declared_in_a_custom_fit_are_found():
    space = discover_space(as_hypermodel(FitTunesBatchSize()))
    assert [hp.name for hp in space.space] == ["units", "shuffle", "batch_size"]
    assert space.get_config()["space"][2]["values"] == [16, 32]


def test_custom_fit_of_a_keras_tuner_hypermodel_is_found_and_does_not_train():
    import numpy as np

    class Tuned(kt.HyperModel):
        def build(self, hp):
            return _compiled([keras.layers.Dense(hp.Int("units", 4, 8))])

        def fit(self, hp, model, x, y, **kwargs):
            history = model.fit(x, y, batch_size=hp.Choice("batch_size", [8, 64]), **kwargs)
            self.fitted.append(history)
            return history

    hypermodel = Tuned()
    hypermodel.fitted = []
    x, y = np.zeros((4, 8), "float32"), np.zeros(4, "int64")
    space = discover_space(as_hypermodel(hypermodel), fit_args=(x, y), fit_kwargs={"epochs": 50})
    assert _names(space) == {"units", "batch_size"}
    assert hypermodel.fitted and all(h.history == {} for h in hypermodel.fitted)  # no training ran


def test_declared_up_front_domains_win():
    def build(hp):
        return _compiled([keras.layers.Dense(hp.Int("units", 4, 64))])

    fixed = HyperParameters()
    fixed.Int("units", 8, 16, step=8)
    space = discover_space(as_hypermodel(build), fixed)
    assert space.space[0].values_list() == [8, 16]
    assert fixed.space[0].condition_sets == [()]  # the caller's object is not grown
    assert len(fixed.space) == 1


def test_a_failing_non_default_branch_is_left_to_the_trials():
    def build(hp):
        if hp.Choice("kind", ["ok", "broken"]) == "broken":
            raise RuntimeError("this branch does not build")
        return _compiled([])

    space = discover_space(as_hypermodel(build))
    assert _names(space) == {"kind"}


# -- builders that cannot work: ConfigurationError before any trial ------------------------------


def test_default_build_failing_is_a_configuration_error():
    def build(hp):
        units = hp.Int("units", 4, 8)
        raise RuntimeError(f"cannot build with {units} units")

    with pytest.raises(
        ConfigurationError,
        match=r"failed with the default hyperparameter values "
        r"\{'units': 4\}: RuntimeError: cannot build with 4",
    ):
        discover_space(as_hypermodel(build))


@pytest.mark.parametrize(
    ("returned", "pattern"),
    [
        (None, r"must return a compiled keras.Model, but it returned NoneType"),
        (3, r"must return a compiled keras.Model, but it returned int: 3"),
        ("model", r"must return a compiled keras.Model, but it returned str"),
    ],
)
def test_build_returning_something_else_is_a_configuration_error(returned, pattern):
    with pytest.raises(ConfigurationError, match=pattern):
        discover_space(as_hypermodel(lambda hp: returned))


def test_build_returning_an_uncompiled_model_is_a_configuration_error():
    def build(hp):
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.Int("units", 1, 3))])

    with pytest.raises(ConfigurationError, match=r"the model was not compiled; call model.compile"):
        discover_space(as_hypermodel(build))


def test_uncompiled_model_from_a_keras_tuner_hypermodel_without_fit_is_rejected():
    class Uncompiled(kt.HyperModel):
        def build(self, hp):
            return keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])

    assert not has_custom_fit(Uncompiled())
    with pytest.raises(ConfigurationError, match="not compiled"):
        discover_space(as_hypermodel(Uncompiled()))


def test_a_custom_fit_may_compile_the_model_itself():
    class CompilesInFit(HyperModel):
        def build(self, hp):
            return keras.Sequential([keras.Input((8,)), keras.layers.Dense(hp.Int("units", 2, 4))])

        def fit(self, hp, model, *args, **kwargs):
            model.compile(optimizer=hp.Choice("optimizer", ["adam", "sgd"]), loss="mse")
            return model.fit(*args, **kwargs)

    space = discover_space(as_hypermodel(CompilesInFit()))
    assert _names(space) == {"units", "optimizer"}


def test_configuration_error_is_a_value_error():
    with pytest.raises(ValueError):
        discover_space(as_hypermodel(lambda hp: None))


# -- as_hypermodel --------------------------------------------------------------------------------


def build_function(hp):
    return _compiled([keras.layers.Dense(hp.Int("units", 2, 4))])


class Ours(HyperModel):
    def build(self, hp):
        return build_function(hp)


class Theirs(kt.HyperModel):
    def build(self, hp):
        return build_function(hp)


def test_as_hypermodel_accepts_a_function():
    hypermodel = as_hypermodel(build_function)
    assert isinstance(hypermodel, HyperModel)
    assert hypermodel.name == "build_function"
    assert not has_custom_fit(hypermodel)
    assert isinstance(hypermodel.build(HyperParameters()), keras.Model)


@pytest.mark.parametrize("instance", [Ours(), Theirs()], ids=["ours", "keras_tuner"])
def test_as_hypermodel_keeps_hypermodel_instances(instance):
    assert as_hypermodel(instance) is instance
    assert not has_custom_fit(instance)
    assert _names(discover_space(as_hypermodel(instance))) == {"units"}


def test_custom_fit_is_detected_on_both_kinds():
    assert has_custom_fit(FitTunesBatchSize())

    class TheirsWithFit(Theirs):
        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, **kwargs)

    assert has_custom_fit(TheirsWithFit())


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (Ours, r"must be an instance, not the class Ours; pass Ours\(\)"),
        (Theirs, r"must be an instance, not the class Theirs; pass Theirs\(\)"),
        (42, r"must be a build_model\(hp\) function or a HyperModel with build\(hp\), but got 42"),
        ("build_model", r"but got 'build_model'"),
        (None, r"but got None"),
    ],
)
def test_as_hypermodel_rejects_classes_and_non_callables(value, pattern):
    with pytest.raises(TypeError, match=pattern):
        as_hypermodel(value)
