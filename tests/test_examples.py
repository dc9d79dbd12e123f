"""Every bundled example: its model builds, and it runs through ``raytune-hpt run`` (shortened)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from raytune_hpt.examples import EXAMPLES, example_path
from raytune_hpt.experiment import load_experiment

# Shortened so that each run takes well under a minute on two CPUs.
SHORT = {
    "digits": ["max_trials=2", "fit.epochs=1"],
    "mnist-mlp": ["max_trials=3", "searcher.random_initial=2", "fit.epochs=1"],
    "mnist-cnn": ["max_trials=3", "fit.epochs=3", "data.validation_split=0.5"],
    "breast-cancer": ["max_trials=2", "fit.epochs=2"],
    "lr-decay": ["max_trials=2", "fit.epochs=2", "scheduler.grace_period=1"],
    "lr-decay-pbt": ["max_trials=2", "fit.epochs=3", "scheduler.perturbation_interval=1"],
}


def test_every_example_has_a_short_version():
    assert set(SHORT) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_model_builds_for_its_data(name):
    """The builder, called once with default values, fits the example's dataset."""
    import keras
    import numpy as np

    from raytune_hpt.experiment import import_object, load_dataset
    from raytune_hpt.hyperparameters import HyperParameters

    experiment = load_experiment(example_path(name))
    hp = experiment.hyperparameters() if experiment.space else HyperParameters()
    model = import_object(experiment.model)(hp)
    assert isinstance(model, keras.Model) and model.compiled
    x, y = load_dataset(experiment.data.dataset)
    out = model.predict(x[:4], verbose=0)
    classes = len(np.unique(y))
    assert out.shape == ((4, 1) if classes == 2 else (4, classes))
    assert hp.values  # the builder declared its hyperparameters
    keras.backend.clear_session()


def test_example_spaces_are_the_documented_ones():
    import raytune_hpt.examples.mnist as mnist
    from raytune_hpt.hyperparameters import HyperParameters

    hp = HyperParameters()
    mnist.build_mlp(hp)
    units = hp.space[0]
    assert (units.name, units.min_value, units.max_value, units.step) == ("units_1", 32, 256, 32)
    rate = next(h for h in hp.space if h.name == "learning_rate")
    assert (rate.min_value, rate.max_value, rate.sampling) == (0.005, 0.01, "log")
    hp = HyperParameters()
    mnist.build_cnn(hp)
    names = {h.name for h in hp.space}
    assert {"activation", "conv_blocks", "filters_0", "dropout", "optimizer"} <= names
    assert set(next(h for h in hp.space if h.name == "optimizer").values) == {
        "adam",
        "rmsprop",
        "sgd",
    }


# digits through the command is run elsewhere, the same shortened way: exactly SHORT["digits"]
# (tests/cli/test_warm_start_flag.py, default feeding, 2 trials checked), with `best --json`
# naming val_accuracy (tests/cli/test_cli.py), and all 10 trials (tests/tracking/test_console.py).
DIGITS_ELSEWHERE = "run as SHORT['digits'] by tests/cli/test_warm_start_flag.py; best in test_cli"


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.skip(reason=DIGITS_ELSEWHERE) if name == "digits" else ())
    for name in sorted(EXAMPLES)
])
def test_example_runs_through_the_command(tmp_path, name):
    sets = [arg for item in SHORT[name] for arg in ("--set", item)]
    storage = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, "-m", "raytune_hpt", "run", "--example", name, *sets,
         "--storage-path", str(storage), "-v", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    budget = int(next(s for s in SHORT[name] if s.startswith("max_trials=")).split("=")[1])
    done = re.search(r"Search done in \d+ s: (\d+) trials \(([^)]*)\)", result.stdout)
    assert done is not None, result.stdout[-2000:]
    assert int(done.group(1)) == budget
    assert "failed" not in done.group(2)
    assert "Best trial" in result.stdout
    best = subprocess.run(
        [sys.executable, "-m", "raytune_hpt", "best", str(storage / name), "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert best.returncode == 0, best.stderr[-2000:]
    metrics = json.loads(best.stdout.strip().splitlines()[-1])["metrics"]
    objective = load_experiment(example_path(name)).objective.name
    assert objective in metrics
    if name == "breast-cancer":  # AUC reported beside accuracy, averaged over the folds
        assert 0.0 <= metrics["val_auc"] <= 1.0
