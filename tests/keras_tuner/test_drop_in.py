"""The Keras Tuner drop-in's own rules (issue 14): arguments, failures, executions, models.

The keras-io guides run as a whole in test_guides.py; here each rule is checked on small
searches over scikit-learn's bundled 8x8 digits, on the session's real local Ray.
"""

from __future__ import annotations

import os

import keras
import keras_tuner
import numpy as np
import pytest

import raytune_hpt as kt

pytestmark = pytest.mark.usefixtures("ray_local")


@pytest.fixture(scope="module")
def images():
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.images))
    x = (data.images[order] / 16.0).astype("float32")
    y = data.target[order]
    return (x[:1000], y[:1000]), (x[1400:], y[1400:])


def flatten_first(hp):
    """The getting-started guide's builder: a Sequential without an Input."""
    model = keras.Sequential()
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_random_search_with_executions_returns_built_best_models(images, tmp_path):
    (x, y), (xt, yt) = images
    hp = keras_tuner.HyperParameters()  # Keras Tuner's own object, as its guides pass it
    hp.Int("units", 16, 64, step=16)
    tuner = kt.RandomSearch(flatten_first, objective="val_accuracy", max_trials=2,
                            executions_per_trial=2, hyperparameters=hp, seed=3,
                            directory=str(tmp_path), project_name="flat", overwrite=True,
                            verbose=0)
    summary = tuner.search_space_summary()
    assert "units (Int)" in summary
    tuner.search(x, y, epochs=4, validation_split=0.2, verbose=0)
    assert os.path.isdir(tmp_path / "flat")  # directory/project_name are where results go
    best = tuner.get_best_models(1)[0]
    assert best.built
    accuracy = best.evaluate(xt, yt, verbose=0)[1]
    assert accuracy > 0.5, accuracy  # chance is 0.1
    trials = tuner.oracle.get_best_trials(2)
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    assert trials[0].score >= trials[1].score
    assert tuner.load_model(trials[0]).built
    assert 16 <= tuner.get_best_hyperparameters(1)[0].values["units"] <= 64
    assert "val_accuracy" in tuner.results_summary(1)


class CountingHyperModel(kt.HyperModel):
    """Counts fit calls in a file: executions_per_trial models each train every epoch."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def build(self, hp):
        return flatten_first(hp)

    def fit(self, hp, model, *args, **kwargs):
        with open(self.log, "a") as file:
            file.write(f"{os.getpid()}:{id(model)}\n")
        return model.fit(*args, **kwargs)


@pytest.mark.slow
def test_each_execution_trains_its_own_model(images, tmp_path):
    (x, y), _ = images
    log = tmp_path / "fits.txt"
    tuner = kt.RandomSearch(CountingHyperModel(str(log)), objective="val_loss", max_trials=1,
                            executions_per_trial=3, directory=str(tmp_path), project_name="ex",
                            verbose=0)
    results = tuner.search(x, y, epochs=2, validation_split=0.25, verbose=0)
    driver = f"{os.getpid()}:"  # space discovery calls fit once per build, training nothing
    models = [line for line in log.read_text().split() if not line.startswith(driver)]
    assert len(models) == 3 * 2  # every model, every epoch
    assert len(set(models)) == 3  # three models, not one trained three times
    assert np.isfinite(results.trials[0].score(results.objective))


def test_failed_trial_error_fails_without_retry_and_the_search_goes_on(images, tmp_path):
    (x, y), (xv, yv) = images

    def build(hp):
        units = hp.Int("units", 16, 64, step=48)  # 16 or 64
        if units > 32:
            raise kt.errors.FailedTrialError(f"{units} units is too many")
        return flatten_first(hp)

    tuner = kt.GridSearch(build, objective="val_accuracy", max_retries_per_trial=2,
                          directory=str(tmp_path), project_name="failed", verbose=0)
    results = tuner.search(x, y, epochs=1, validation_data=(xv, yv), verbose=0)
    by_units = {t.hyperparameters["units"]: t for t in results.trials}
    assert by_units[64].status == "failed" and "64 units is too many" in by_units[64].error
    assert by_units[16].status == "finished"
    assert len(results.trials) == 2  # not retried: a retry would not add a trial, but
    failed = [t for t in tuner.oracle.get_best_trials(5)]
    assert [t.hyperparameters.values["units"] for t in failed] == [16]


def test_fatal_error_stops_the_search_and_is_raised(images, tmp_path):
    (x, y), (xv, yv) = images

    def build(hp):
        hp.Int("units", 16, 64, step=16)
        raise kt.errors.FatalValueError("the data does not fit this model")

    tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=6,
                            directory=str(tmp_path), project_name="fatal", verbose=0)
    # Space discovery builds the model first: a fatal error there is raised at once.
    with pytest.raises(ValueError, match="the data does not fit this model"):
        tuner.search(x, y, epochs=1, validation_data=(xv, yv), verbose=0)


@pytest.mark.slow
def test_max_consecutive_failed_trials_stops_the_search(images, tmp_path):
    (x, y), (xv, yv) = images

    def build(hp):
        units = hp.Int("units", 16, 64, step=16, default=16)
        if units > 16:
            raise RuntimeError(f"flaky at {units}")
        return flatten_first(hp)

    tuner = kt.GridSearch(build, objective="val_accuracy", max_consecutive_failed_trials=2,
                          max_concurrent_trials=1, directory=str(tmp_path),
                          project_name="consecutive", verbose=0)
    with pytest.raises(kt.errors.SearchAbortedError, match="2 trials in a row failed"):
        tuner.search(x, y, epochs=1, validation_data=(xv, yv), verbose=0)


class CroppingHyperModel(kt.HyperModel):
    """The issue's builder: the input shape is a hyperparameter and fit crops x to it."""

    def build(self, hp):
        size = hp.Int("image_size", 4, 8, step=4)
        inputs = keras.Input(shape=(size, size))
        outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        size = hp.get("image_size")
        xv, yv = validation_data
        return model.fit(x[:, :size, :size], y, validation_data=(xv[:, :size, :size], yv),
                         **kwargs)


@pytest.mark.slow
def test_a_custom_fit_may_reshape_the_data_the_model_takes(images, tmp_path):
    (x, y), (xv, yv) = images
    tuner = kt.GridSearch(CroppingHyperModel(), objective="val_accuracy",
                          directory=str(tmp_path), project_name="crop", verbose=0)
    results = tuner.search(x, y, epochs=1, validation_data=(xv, yv), verbose=0)
    assert sorted(t.hyperparameters["image_size"] for t in results.trials) == [4, 8]
    assert all(t.status == "finished" for t in results.trials)


@pytest.mark.slow
def test_oracle_form_and_keras_tuner_objective(images, tmp_path):
    (x, y), (xv, yv) = images
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=2, seed=1)
    tuner = kt.Tuner(oracle=oracle, hypermodel=flatten_first, directory=str(tmp_path),
                     project_name="oracle", optimizer=keras.optimizers.SGD(0.5),
                     verbose=0)
    assert tuner.searcher == "bayesopt" and tuner.objective.direction == "max"
    results = tuner.search(x, y, epochs=1, validation_data=(xv, yv), verbose=0)
    assert len(results.trials) == 2
    assert tuner.get_best_models(1)[0].optimizer.__class__.__name__ == "SGD"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: kt.oracles.RandomSearchOracle(objective="val_loss", colour=1), "unknown"),
    (lambda: kt.Hyperband(flatten_first, objective="val_loss", max_epochs=0), "max_epochs"),
    (lambda: kt.Hyperband(flatten_first, objective="val_loss", factor=1), "factor"),
    (lambda: kt.RandomSearch(flatten_first, objective="val_loss", executions_per_trial=0),
     "executions_per_trial"),
    (lambda: kt.RandomSearch(flatten_first, objective="val_loss", max_trials=0), "max_trials"),
    (lambda: kt.RandomSearch(flatten_first, objective="val_loss", tuner_idd="x"), "unknown"),
    (lambda: kt.RandomSearch(flatten_first, objective="val_loss", max_retries_per_trial=-1),
     "max_retries_per_trial"),
    (lambda: kt.Tuner(oracle="random", hypermodel=flatten_first), "oracle"),
    (lambda: kt.RandomSearch(None, objective="val_loss"), "hypermodel"),
])
def test_bad_drop_in_arguments_fail_at_construction(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


@pytest.mark.slow
def test_an_objective_the_model_never_logs_is_one_clear_error(images, tmp_path):
    (x, y), (xv, yv) = images
    tuner = kt.RandomSearch(flatten_first, objective="val_auc", max_trials=3,
                            directory=str(tmp_path), project_name="auc", verbose=0)
    with pytest.raises(kt.ConfigurationError, match="'val_auc' is not among the metrics"):
        tuner.search(x, y, epochs=1, validation_data=(xv, yv), verbose=0)


def test_hyperband_counts_keras_tuner_brackets_and_fixes_the_epochs():
    from raytune_hpt.keras_tuner._oracles import hyperband_trials

    tuner = kt.Hyperband(flatten_first, objective="val_accuracy", max_epochs=9, factor=3)
    assert tuner.max_trials == hyperband_trials(9, 3, 1) == 9 + 5 + 3  # brackets s=2,1,0
    assert tuner.settings.epochs == 9
    assert tuner.scheduler == {"type": "hyperband", "max_t": 9, "reduction_factor": 3}
