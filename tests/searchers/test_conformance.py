"""Every registered searcher: in-process through Ray's ``Searcher`` interface, and with every
registered scheduler on real Ray and real Keras.

In-process: every hyperparameter type and a conditional scope, save/restore of the state,
concurrent (pending) suggestions never identical. On Ray, small budgets (2 trials, 2 epochs,
300 samples): each pair runs, every suggestion is a valid point of the space, results come
back whole.
"""

from __future__ import annotations

import importlib.util
import math

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.schedulers import SCHEDULERS
from raytune_hpt.searchers import SEARCHERS, create_searcher

# Searchers whose optional dependencies may be missing from the test environment.
_NEEDS = {"optuna_gp": "torch", "optuna": "optuna", "hyperopt": "hyperopt"}


def _skip_without_extra(searcher: str) -> None:
    module = _NEEDS.get(searcher)
    if module and importlib.util.find_spec(module) is None:
        pytest.skip(f"{searcher} needs {module}, not installed here")


def every_type_space(finite: bool) -> HyperParameters:
    """Int, log Int, Float (log / reverse log / stepped), Choice (ordered, not), Boolean,
    Fixed and a conditional scope; ``finite`` gives every Float a step (for grid search)."""
    hp = HyperParameters()
    hp.Int("units", 16, 128, step=56 if finite else 16)
    hp.Int("filters", 2, 64, sampling="log", step=4 if finite else None)
    hp.Float("lr", 1e-4, 1e-1, sampling="log", step=10 if finite else None)
    hp.Float("decay", 0.5, 0.999, sampling="reverse_log", step=1.9 if finite else None)
    hp.Float("dropout", 0.0, 0.5, step=0.25)
    hp.Choice("activation", ["relu", "tanh", "gelu"])
    hp.Choice("batch", [16, 32, 64])
    hp.Boolean("bn")
    hp.Fixed("epochs", 3)
    hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Float("momentum", 0.5, 0.99, step=0.2 if finite else None)
        hp.Boolean("nesterov")
    return hp


def loss(config: dict) -> float:
    return abs(math.log10(config["lr"]) + 2) + config["dropout"] + config.get("momentum", 0.7)


def check_valid(space: HyperParameters, config: dict) -> None:
    by_name = {hp.name: hp for hp in space.space}
    assert set(config) == set(space.active_values(config)), config
    assert ("momentum" in config) == ("nesterov" in config) == (config["optimizer"] == "sgd")
    for name, value in config.items():
        assert by_name[name].snap(value) == value, (name, value)
    assert config["epochs"] == 3


def searcher_for(name: str, seed: int = 0):
    space = every_type_space(finite=name == "grid")
    return space, create_searcher(name, space=space, metric="loss", mode="min", seed=seed,
                                  max_trials=30)


@pytest.mark.parametrize("searcher", sorted(SEARCHERS))
def test_every_type_and_condition_in_process(searcher):
    _skip_without_extra(searcher)
    space, s = searcher_for(searcher)
    optimizers = set()
    for i in range(12):
        config = s.suggest(f"t{i}")
        config = space.active_values(config)  # Ray's TPE wrappers propose inactive keys too
        check_valid(space, config)
        optimizers.add(config["optimizer"])
        s.on_trial_complete(f"t{i}", {"loss": loss(config)})
    if searcher == "random":
        assert optimizers == {"adam", "sgd"}


@pytest.mark.parametrize("searcher", sorted(SEARCHERS))
def test_concurrent_suggestions_are_never_identical(searcher):
    _skip_without_extra(searcher)
    space, s = searcher_for(searcher)
    for i in range(6):  # past any random start-up phase
        config = s.suggest(f"t{i}")
        s.on_trial_complete(f"t{i}", {"loss": loss(space.active_values(config))})
    batch = [space.active_values(s.suggest(f"p{i}")) for i in range(6)]
    assert len({HyperParameters.config_key(c) for c in batch}) == len(batch)


@pytest.mark.parametrize("searcher", sorted(SEARCHERS))
def test_save_and_restore_continue_the_search(searcher, tmp_path):
    _skip_without_extra(searcher)
    space, first = searcher_for(searcher, seed=3)
    for i in range(7):
        config = first.suggest(f"t{i}")
        first.on_trial_complete(f"t{i}", {"loss": loss(space.active_values(config))})
    first.save(str(tmp_path / "state.pkl"))
    expected = [space.active_values(first.suggest(f"n{i}")) for i in range(2)]
    _, restored = searcher_for(searcher, seed=99)
    restored.restore(str(tmp_path / "state.pkl"))
    again = [space.active_values(restored.suggest(f"n{i}")) for i in range(2)]
    for config in again:
        check_valid(space, config)
    if searcher in ("bayesopt", "grid", "random"):  # ours are exactly repeatable
        assert again == expected


def small_builder(hp):
    import keras

    layers = [keras.Input((64,))]
    for i in range(hp.Int("layers", 1, 2)):
        layers.append(keras.layers.Dense(hp.Int(f"units_{i}", 8, 32, step=8), activation="relu"))
    if hp.Boolean("dropout"):
        with hp.conditional_scope("dropout", [True]):
            layers.append(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5, step=0.2)))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    optimizer = hp.Choice("optimizer", ["adam", "sgd"])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# Every pair runs in the full suite; the quick check keeps one real search per searcher
# (with FIFO) and one per scheduler (with random).
PAIRS = [
    pytest.param(searcher, scheduler, marks=() if scheduler == "fifo" or searcher == "random"
                 else pytest.mark.slow)
    for searcher in sorted(SEARCHERS) for scheduler in sorted(SCHEDULERS)
]


@pytest.mark.parametrize(("searcher", "scheduler"), PAIRS)
def test_searcher_with_scheduler(ray_local, digits, tmp_path, searcher, scheduler):
    _skip_without_extra(searcher)
    (x, y), (xv, yv) = digits
    options = {"hyperband": {"type": "hyperband", "reduction_factor": 2},
               "asha": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
               "async_hyperband": {"type": "async_hyperband", "reduction_factor": 2}}
    tuner = rth.Tuner(small_builder, objective="val_accuracy", searcher=searcher,
                      scheduler=options.get(scheduler, scheduler), max_trials=2,
                      storage_path=str(tmp_path), name="c", seed=1, verbose=0)
    fit = {"validation_data": (xv[:150], yv[:150]), "epochs": 2, "batch_size": 64}
    if scheduler in ("pbt", "pb2") and searcher not in ("random", "grid"):
        # Ray's PBT takes no search algorithm: refused before any trial starts
        with pytest.raises(ConfigurationError, match="takes no search algorithm"):
            tuner.search(x[:300], y[:300], **fit)
        assert not (tmp_path / "c").exists()
        return
    results = tuner.search(x[:300], y[:300], **fit)

    assert len(results.trials) == 2
    space = {hp.name: hp for hp in tuner.space.space}
    assert set(space) == {"layers", "units_0", "units_1", "dropout", "rate", "optimizer"}
    for trial in results.trials:
        assert trial.status in ("finished", "stopped"), trial.error
        values = trial.hyperparameters
        assert ("rate" in values) == values["dropout"]
        assert ("units_1" in values) or values["layers"] == 1, values
        for name, value in values.items():
            assert space[name].snap(value) == value, (name, value)
        assert 1 <= trial.epochs <= 2
        assert [row["epoch"] for row in trial.history] == sorted(
            {row["epoch"] for row in trial.history}
        )
    best = results.best_trial()
    assert not math.isnan(best.score(results.objective))
    assert tuner.get_best_hyperparameters(1)[0].values == best.hyperparameters
