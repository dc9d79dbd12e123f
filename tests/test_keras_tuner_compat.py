"""Keras Tuner model builders run unchanged through ``raytune_hpt.Tuner`` (issue 2, acceptance 3).

The builders are copied from Keras Tuner's documentation ("Getting started", "Tune
end-to-end workflows" of the HyperModel guide, the ``conditional_scope`` docstring) and
its tests; only input shapes are adapted to the bundled digits data. Each search is kept
to 2-3 trials of one epoch on a few hundred samples, on the session's real local Ray.
"""

from __future__ import annotations

import json
import math

import keras
import keras_tuner
import numpy as np
import pytest
from keras import layers

import raytune_hpt as rth

N_TRAIN, N_VAL = 300, 100


@pytest.fixture(scope="module")
def data(digits):
    (x, y), (xv, yv) = digits
    return (x[:N_TRAIN], y[:N_TRAIN]), (xv[:N_VAL], yv[:N_VAL])


def _search(build, tmp_path, data, *, objective="val_accuracy", max_trials=2, name="kt", **fit):
    (x, y), (xv, yv) = data
    tuner = rth.Tuner(
        build,
        objective=objective,
        searcher="random",
        max_trials=max_trials,
        storage_path=str(tmp_path),
        name=name,
        seed=0,
        verbose=0,
    )
    results = tuner.search(x, y, validation_data=(xv, yv), epochs=1, **fit)
    return tuner, results


def _trials(results):
    trials = results.trials
    assert trials and all(t.status == "finished" and t.error is None for t in trials), trials
    return trials


def _assert_valid(tuner, values):
    """Every value belongs to its hyperparameter's domain; exactly the active ones are present."""
    space = tuner.space
    assert values == space.active_values(values)
    for name, value in values.items():
        hp = next(h for h in space.space if h.name == name)
        assert hp.snap(value) == value, (name, value)


# -- Keras Tuner's "Getting started" builder: Int with step, Choice, Boolean, log Float ------------


def build_model(hp):
    """Keras Tuner "Getting started", unchanged (one-hot labels, categorical_crossentropy)."""
    model = keras.Sequential()
    model.add(layers.Flatten())
    # Tune the number of layers.
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                # Tune number of units separately.
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_getting_started_builder(tmp_path, ray_local, data):
    (x, y), (xv, yv) = data
    one_hot = ((x, keras.utils.to_categorical(y, 10)), (xv, keras.utils.to_categorical(yv, 10)))
    tuner, results = _search(
        build_model,
        tmp_path,
        one_hot,
        name="getting_started",
        objective=keras_tuner.Objective("val_accuracy", direction="max"),
    )
    best = tuner.get_best_hyperparameters(1)[0].values
    assert {"num_layers", "units_0", "activation", "dropout", "lr"} <= set(best)
    # every units_i is in the space (unconditional, as in Keras Tuner)
    assert {h.name for h in tuner.space.space} >= {"units_0", "units_1", "units_2"}
    assert best["units_0"] % 32 == 0 and 32 <= best["units_0"] <= 512
    assert best["activation"] in ("relu", "tanh") and isinstance(best["dropout"], bool)
    assert 1e-4 <= best["lr"] <= 1e-2 and isinstance(best["lr"], float)
    _assert_valid(tuner, best)
    trials = _trials(results)
    assert len(trials) == 2
    assert len({json.dumps(t.hyperparameters, sort_keys=True) for t in trials}) == 2
    ranked = [t.best_metrics["val_accuracy"] for t in results.ranked_trials()]
    assert ranked == sorted(ranked, reverse=True) and 0.0 <= ranked[0] <= 1.0


# -- nested conditional_scope: the docstring's model selection, one more level deep ----------------


class MyHyperModel(keras_tuner.HyperModel):
    """Keras Tuner's ``conditional_scope`` docstring example (input shape adapted), with a
    nested scope inside the MLP branch, a Fixed and a Choice of floats."""

    def build(self, hp):
        model = keras.Sequential()
        model.add(keras.Input(shape=(8, 8, 1)))
        model_type = hp.Choice("model_type", ["mlp", "cnn"])
        with hp.conditional_scope("model_type", ["mlp"]):
            if model_type == "mlp":
                model.add(layers.Flatten())
                model.add(layers.Dense(32, activation="relu"))
                if hp.Boolean("mlp_dropout"):
                    with hp.conditional_scope("mlp_dropout", [True]):
                        model.add(layers.Dropout(hp.Float("mlp_rate", 0.1, 0.5, step=0.2)))
        with hp.conditional_scope("model_type", ["cnn"]):
            if model_type == "cnn":
                model.add(layers.Conv2D(hp.Choice("filters", [8, 16]), 3, activation="relu"))
                model.add(layers.GlobalAveragePooling2D())
        # from Keras Tuner's tests: a Choice of learning rates and a Fixed value
        model.add(layers.Dense(10, activation=hp.Fixed("output_activation", "softmax")))
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-3])),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


@pytest.mark.slow
def test_nested_conditional_scope_hypermodel(tmp_path, ray_local, data):
    (x, y), (xv, yv) = data
    images = ((x.reshape(-1, 8, 8, 1), y), (xv.reshape(-1, 8, 8, 1), yv))
    tuner, results = _search(
        MyHyperModel(), tmp_path, images, name="nested", max_trials=3, objective="val_loss"
    )
    names = [h.name for h in tuner.space.space]
    assert set(names) == {
        "model_type",
        "mlp_dropout",
        "mlp_rate",
        "filters",
        "output_activation",
        "learning_rate",
    }
    # parents are declared before the hyperparameters they condition
    assert names.index("model_type") < names.index("mlp_dropout") < names.index("mlp_rate")
    assert names.index("model_type") < names.index("filters")
    always = {"model_type", "output_activation", "learning_rate"}
    expected_keys = {
        ("mlp", False): always | {"mlp_dropout"},
        ("mlp", True): always | {"mlp_dropout", "mlp_rate"},
        ("cnn", None): always | {"filters"},
    }
    trials = _trials(results)
    assert len(trials) == 3
    for trial in trials:
        values = trial.hyperparameters
        key = (values["model_type"], values.get("mlp_dropout"))
        assert set(values) == expected_keys[key], values
        _assert_valid(tuner, values)
        assert values["output_activation"] == "softmax"
        assert values["learning_rate"] in (1e-2, 1e-3)
    best = tuner.get_best_hyperparameters(1)[0].values
    assert set(best) in expected_keys.values()
    assert tuner.objective.direction == "min"
    losses = [t.best_metrics["val_loss"] for t in results.ranked_trials()]
    assert losses == sorted(losses) and all(math.isfinite(v) for v in losses)
    # the model restored for the best trial is the selected architecture
    model = tuner.get_best_models(1)[0]
    has_conv = any(isinstance(layer, layers.Conv2D) for layer in model.layers)
    assert has_conv == (best["model_type"] == "cnn")


# -- a HyperModel whose fit tunes batch_size (Keras Tuner's HyperModel guide) ----------------------


class TunedBatchSize(keras_tuner.HyperModel):
    """Keras Tuner's "Tune model training" example; ``log_path`` only records what ran."""

    def __init__(self, log_path):
        super().__init__()
        self.log_path = log_path

    def build(self, hp):
        model = keras.Sequential()
        model.add(layers.Flatten())
        model.add(
            layers.Dense(
                units=hp.Int("units", min_value=32, max_value=512, step=32),
                activation="relu",
            )
        )
        model.add(layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        history = model.fit(
            *args,
            # Tune whether to shuffle the data in each epoch.
            shuffle=hp.Boolean("shuffle"),
            batch_size=hp.Choice("batch_size", [16, 32]),
            **kwargs,
        )
        if history.history:  # a real training run, not space discovery
            with open(self.log_path, "a") as log:
                log.write(
                    json.dumps({"steps": history.params["steps"], "units": model.layers[1].units})
                    + "\n"
                )
        return history


@pytest.mark.slow
def test_hypermodel_fit_tunes_batch_size(tmp_path, ray_local, data):
    log_path = tmp_path / "fits.jsonl"
    tuner, results = _search(
        TunedBatchSize(str(log_path)), tmp_path, data, name="batch_size", max_trials=3
    )
    assert [h.name for h in tuner.space.space] == ["units", "shuffle", "batch_size"]
    trials = _trials(results)
    fits = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(fits) == len(trials) == 3
    for trial in trials:
        values = trial.hyperparameters
        assert set(values) == {"units", "shuffle", "batch_size"}
        assert values["batch_size"] in (16, 32)
        # what the trial's record says it used is what model.fit really used
        used = {"steps": math.ceil(N_TRAIN / values["batch_size"]), "units": values["units"]}
        assert used in fits, (values, fits)
    best = tuner.get_best_hyperparameters(1)[0].values
    assert set(best) == {"units", "shuffle", "batch_size"}
    _assert_valid(tuner, best)


# -- fit returning a float or a dict (Keras Tuner's "custom objective" examples) -------------------


class HyperRegressorFloat(keras_tuner.HyperModel):
    """Keras Tuner's HyperModel guide: ``fit`` returns a single float, the objective value."""

    def build(self, hp):
        model = keras.Sequential(
            [
                layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"),
                layers.Dense(1),
            ]
        )
        model.compile(
            optimizer="adam",
            loss="mean_squared_error",
        )
        return model

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        y_pred = model.predict(x_val, verbose=0)
        # Return a single float to minimize.
        return np.mean(np.abs(y_pred - y_val))


class HyperRegressorDict(HyperRegressorFloat):
    """Keras Tuner's HyperModel guide: ``fit`` returns a dict of metrics."""

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        y_pred = model.predict(x_val, verbose=0)
        # Return a dictionary of metrics for KerasTuner to track.
        return {
            "metric_a": -np.mean(np.abs(y_pred - y_val)),
            "metric_b": np.mean(np.square(y_pred - y_val)),
        }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hypermodel", "objective", "metric"),
    [
        (HyperRegressorFloat(), keras_tuner.Objective("custom_mae", "min"), "custom_mae"),
        (HyperRegressorDict(), keras_tuner.Objective("metric_a", "max"), "metric_a"),
    ],
    ids=["float", "dict"],
)
def test_fit_returning_a_float_or_a_dict(tmp_path, ray_local, data, hypermodel, objective, metric):
    (x, y), (xv, yv) = data
    regression = ((x, y.astype("float32")), (xv, yv.reshape(-1, 1).astype("float32")))
    tuner, results = _search(hypermodel, tmp_path, regression, objective=objective, name=metric)
    trials = _trials(results)
    assert len(trials) == 2
    for trial in trials:
        assert math.isfinite(trial.best_metrics[metric])
        assert set(trial.hyperparameters) == {"units"}
    if metric == "metric_a":
        assert all(t.best_metrics["metric_a"] <= 0 < t.best_metrics["metric_b"] for t in trials)
    else:
        assert all(t.best_metrics["custom_mae"] > 0 for t in trials)
    best = tuner.get_best_hyperparameters(1)[0].values
    assert best["units"] in (32, 64, 96, 128)
    ranked = [t.best_metrics[metric] for t in results.ranked_trials()]
    assert ranked == sorted(ranked, reverse=objective.direction == "max")
