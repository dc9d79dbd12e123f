"""keras-io's "Handling failed trials in KerasTuner" guide, run through the drop-in.

The guide's code (guides/keras_tuner/failed_trials.py) with ``import raytune_hpt as
keras_tuner``; its data is already random (drawn here after ``np.random.seed(seed)`` so the
benchmark gives both libraries the same rows). Budgets: ``epochs=3`` instead of 10;
``directory`` is pytest's ``tmp_path`` (the guide uses the default folder) and each tuner
gets a ``seed`` and its own ``project_name``.

The grid has 12 combinations of ``units_1`` (10..40) and ``units_2`` (10..30); the 5 with
more than 1,200 parameters fail: ``(30, 20)``, ``(30, 30)`` and ``(40, *)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow import keras
from tensorflow.keras import layers

import raytune_hpt as keras_tuner

pytestmark = pytest.mark.slow

TOO_LARGE = {(30, 20), (30, 30), (40, 10), (40, 20), (40, 30)}


def _random_data():
    return {"x": np.random.rand(100, 20), "y": np.random.rand(100, 1),
            "validation_data": (np.random.rand(100, 20), np.random.rand(100, 1))}


def _statuses(tuner):
    """{(units_1, units_2): status} of every trial the search ran."""
    return {(t.hyperparameters.get("units_1"), t.hyperparameters.get("units_2")): t.status
            for t in tuner.oracle.trials.values()}


def tolerate_failed_trials(directory, seed=0):
    np.random.seed(seed)  # not in the guide: the same random data for every run

    def build_model(hp):
        # Define the 2 hyperparameters for the units in dense layers
        units_1 = hp.Int("units_1", 10, 40, step=10)
        units_2 = hp.Int("units_2", 10, 30, step=10)

        # Define the model
        model = keras.Sequential([
            layers.Dense(units=units_1, input_shape=(20,)),
            layers.Dense(units=units_2),
            layers.Dense(units=1),
        ])
        model.compile(loss="mse")

        # Raise an error when the model is too large
        n_params = model.count_params()
        if n_params > 1200:
            raise ValueError(
                f"Model too large! It contains {n_params} params.")
        return model

    tuner = keras_tuner.GridSearch(
        hypermodel=build_model,
        objective="val_loss",
        overwrite=True,
        max_retries_per_trial=3,
        max_consecutive_failed_trials=8,
        directory=directory,
        project_name="tolerate",
        seed=seed,
    )

    # Use random data to train the model.
    tuner.search(**_random_data(), epochs=3)  # 10 in the guide

    # Print the results.
    tuner.results_summary()
    return {"statuses": _statuses(tuner), "best": tuner.oracle.get_best_trials(1)[0].score}


def mark_a_trial_as_failed(directory, seed=0):
    np.random.seed(seed)

    def build_model(hp):
        # Define the 2 hyperparameters for the units in dense layers
        units_1 = hp.Int("units_1", 10, 40, step=10)
        units_2 = hp.Int("units_2", 10, 30, step=10)

        # Define the model
        model = keras.Sequential([
            layers.Dense(units=units_1, input_shape=(20,)),
            layers.Dense(units=units_2),
            layers.Dense(units=1),
        ])
        model.compile(loss="mse")

        # Raise an error when the model is too large
        n_params = model.count_params()
        if n_params > 1200:
            # When this error is raised, it skips the retries.
            raise keras_tuner.errors.FailedTrialError(
                f"Model too large! It contains {n_params} params.")
        return model

    tuner = keras_tuner.GridSearch(
        hypermodel=build_model,
        objective="val_loss",
        overwrite=True,
        max_retries_per_trial=3,
        max_consecutive_failed_trials=8,
        directory=directory,
        project_name="mark_failed",
        seed=seed,
    )

    # Use random data to train the model.
    tuner.search(**_random_data(), epochs=3)  # 10 in the guide

    # Print the results.
    tuner.results_summary()
    return {"statuses": _statuses(tuner), "best": tuner.oracle.get_best_trials(1)[0].score}


def terminate_the_search(directory, seed=0):
    np.random.seed(seed)

    def build_model(hp):
        # Define the 2 hyperparameters for the units in dense layers
        units_1 = hp.Int("units_1", 10, 40, step=10)
        units_2 = hp.Int("units_2", 10, 30, step=10)

        # Define the model
        model = keras.Sequential([
            layers.Dense(units=units_1, input_shape=(20,)),
            layers.Dense(units=units_2),
            layers.Dense(units=1),
        ])
        model.compile(loss="mse")

        # Raise an error when the model is too large
        n_params = model.count_params()
        if n_params > 1200:
            # When this error is raised, the search is terminated.
            raise keras_tuner.errors.FatalError(
                f"Model too large! It contains {n_params} params.")
        return model

    tuner = keras_tuner.GridSearch(
        hypermodel=build_model,
        objective="val_loss",
        overwrite=True,
        max_retries_per_trial=3,
        max_consecutive_failed_trials=8,
        directory=directory,
        project_name="terminate",
        seed=seed,
    )

    terminated = False
    try:
        # Use random data to train the model.
        tuner.search(**_random_data(), epochs=3)  # 10 in the guide
    except keras_tuner.errors.FatalError:
        print("The search is terminated.")
        terminated = True
    return {"terminated": terminated}


def _check(statuses):
    assert len(statuses) == 12, statuses  # the whole grid: never 8 failures in a row
    for units, status in statuses.items():
        assert status == ("FAILED" if units in TOO_LARGE else "COMPLETED"), statuses


def test_tolerate_failed_trials(ray_local, tmp_path):
    printed = tolerate_failed_trials(str(tmp_path))

    _check(printed["statuses"])
    assert 0 < printed["best"] < 1  # val_loss (MSE) of uniform targets


def test_mark_a_trial_as_failed(ray_local, tmp_path):
    printed = mark_a_trial_as_failed(str(tmp_path))

    _check(printed["statuses"])
    assert 0 < printed["best"] < 1


def test_terminate_the_search(ray_local, tmp_path):
    assert terminate_the_search(str(tmp_path))["terminated"]
