"""A trial's model costs (params, model_bytes, inference_ms), measured without user code."""

from __future__ import annotations

import os

import numpy as np
import pytest

import raytune_hpt as rth
from raytune_hpt.worker._costs import ModelCosts, trial_costs


def _model(units: int = 8):
    import keras

    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dense(10)])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_costs_are_measured_once_and_repeated(tmp_path):
    model = _model()
    x = np.random.default_rng(0).random((40, 64), dtype=np.float32)
    model.fit(x, np.zeros(40, dtype="int64"), epochs=1, verbose=0)
    costs = ModelCosts(("params", "model_bytes", "inference_ms"), sample=x[:32])
    first = costs.metrics(model)
    # trainable only: BatchNormalization's moving mean and variance are not counted
    assert first["params"] == 64 * 8 + 8 + 2 * 8 + 8 * 10 + 10 < model.count_params()
    model.save(tmp_path / "m.keras")
    assert first["model_bytes"] == os.path.getsize(tmp_path / "m.keras")
    assert 0 < first["inference_ms"] < 1000
    model.fit(x, np.ones(40, dtype="int64"), epochs=1, verbose=0)
    assert costs.metrics(model) == first  # weight values change nothing: not measured again


def test_only_params_unless_the_objective_names_a_cost():
    x = np.zeros((100, 64), dtype=np.float32)
    folds = [((x, np.zeros(100)), {})]
    assert trial_costs(rth.Objective("val_loss"), {}, folds).wanted == ("params",)
    pareto = trial_costs(rth.Pareto(["val_loss", "inference_ms"]), {"batch_size": 16}, folds)
    assert pareto.wanted == ("params", "inference_ms") and pareto.sample.shape == (16, 64)
    summed = trial_costs(rth.Objective.coerce(["val_loss", "model_bytes"]), {}, folds)
    assert summed.wanted == ("params", "model_bytes")


def test_without_numpy_data_latency_uses_zeros_of_the_input_shape():
    model = _model()
    costs = ModelCosts(("inference_ms",), sample=None, batch_size=4)
    assert costs.metrics(model)["inference_ms"] > 0


@pytest.mark.slow
def test_a_search_reports_the_costs_its_objective_names(ray_local, digits, build_mlp,
                                                        tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build_mlp,
                      objective=rth.Pareto(["val_accuracy", "model_bytes", "inference_ms"]),
                      max_trials=2, seed=0, storage_path=str(tmp_path), verbose=0,
                      tracking={"tensorboard": False})
    results = tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=2)
    for trial in results.trials:
        rows = trial.history
        assert len(rows) == 2 and rows[0]["model_bytes"] == rows[1]["model_bytes"] > 0
        assert rows[0]["inference_ms"] == rows[1]["inference_ms"] > 0
        assert rows[0]["params"] > 0
    assert results.pareto_front()
