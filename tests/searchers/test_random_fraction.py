"""bayesopt's random fraction (BOHB's exploration): rate, default, saved state, bad values."""

from __future__ import annotations

import logging
import math
import re

import pytest

from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers import create_searcher
from raytune_hpt.searchers._bayesopt import BayesOptSearcher

LOGGER = "raytune_hpt.searchers._bayesopt"


def space() -> HyperParameters:
    hp = HyperParameters()
    for name in ("x", "y"):
        hp.Float(name, 0.0, 10.0)
    return hp


def loss(c: dict) -> float:
    """A bowl with its minimum at x=2, y=3."""
    return (c["x"] - 2.0) ** 2 + (c["y"] - 3.0) ** 2 / 10


def how_each(caplog) -> list[str]:
    """The reason each logged suggestion gives: "random fraction", "Gaussian process ..."."""
    return [r.getMessage().split("(", 1)[1].split(")", 1)[0] for r in caplog.records
            if r.name == LOGGER and "bayesopt suggestion" in r.getMessage()]


def test_fraction_is_respected_over_many_suggestions(caplog):
    # Trials left running keep the model unfitted, so 400 suggestions take milliseconds;
    # each one after the initial design is a coin flip.
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    searcher = BayesOptSearcher(space(), "loss", "min", seed=7, random_initial=2,
                                random_fraction=1 / 3)
    for i in range(402):
        searcher.suggest(f"t{i}")
    drawn = how_each(caplog)[2:]
    share = drawn.count("random fraction") / len(drawn)
    assert abs(share - 1 / 3) < 0.07, share  # binomial sd: 0.024


def test_model_makes_the_other_suggestions(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    searcher = BayesOptSearcher(space(), "loss", "min", seed=3, random_initial=3,
                                candidates=64, random_fraction=0.4)
    for i in range(30):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config)})
    hows = how_each(caplog)
    assert hows[:3] == ["random"] * 3
    assert 4 <= hows.count("random fraction") <= 19  # 27 flips at 0.4
    assert hows.count("random fraction") + sum(h.startswith("Gaussian") for h in hows) == 27


def test_explicit_zero_never_draws_at_random(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    searcher = BayesOptSearcher(space(), "loss", "min", seed=1, random_initial=2,
                                candidates=32, random_fraction=0.0)
    stop_early(searcher, 12)
    assert "random fraction" not in how_each(caplog)


def stop_early(searcher: BayesOptSearcher, n: int) -> None:
    """ASHA-like: every other trial stopped at epoch 1, the rest trained to epoch 3."""
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        epochs = 1 if i % 2 else 3
        for epoch in range(1, epochs + 1):
            searcher.on_trial_result(f"t{i}", {"loss": loss(config) / epoch, "epoch": epoch})
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config) / epochs, "epoch": epochs})


def test_default_fraction_follows_early_stopping():
    fresh = BayesOptSearcher(space(), "loss", "min", seed=2, random_initial=2, candidates=32)
    assert fresh._fraction() == 0.0
    stopped_early_once = BayesOptSearcher(space(), "loss", "min", seed=2, random_initial=2,
                                          candidates=32)
    stop_early(stopped_early_once, 2)
    assert stopped_early_once._fraction() == pytest.approx(1 / 3)
    full = BayesOptSearcher(space(), "loss", "min", seed=2, random_initial=2, candidates=32)
    for i in range(4):  # every trial trains all its epochs (no scheduler)
        config = full.suggest(f"t{i}")
        for epoch in (1, 2, 3):
            full.on_trial_result(f"t{i}", {"loss": loss(config), "epoch": epoch})
        full.on_trial_complete(f"t{i}", {"loss": loss(config), "epoch": 3})
    full.suggest("running")
    full.on_trial_result("running", {"loss": 1.0, "epoch": 1})
    assert full._fraction() == 0.0
    last = BayesOptSearcher(space(), "loss", "min", seed=2, random_initial=2, fidelity="last")
    stop_early(last, 2)
    assert last._fraction() == 0.0


def test_state_round_trip_keeps_the_coin(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    options = {"random_initial": 2, "candidates": 32, "random_fraction": 0.5}
    searcher = BayesOptSearcher(space(), "loss", "min", seed=5, **options)
    stop_early(searcher, 6)
    searcher.save(str(tmp_path / "s.pkl"))
    other = BayesOptSearcher(space(), "loss", "min", seed=99, **options)
    other.restore(str(tmp_path / "s.pkl"))
    caplog.clear()
    for i in range(6, 14):
        config = searcher.suggest(f"t{i}")
        assert other.suggest(f"t{i}") == config
        for s in (searcher, other):
            s.on_trial_complete(f"t{i}", {"loss": loss(config), "epoch": 3})
    hows = how_each(caplog)
    assert hows[0::2] == hows[1::2]
    assert "random fraction" in hows and any(h.startswith("Gaussian") for h in hows)


@pytest.mark.parametrize("value", [-0.1, 1, 1.5, math.nan, "0.3", True])
def test_bad_fraction_is_one_clear_error(value):
    with pytest.raises(ConfigurationError, match=r"random_fraction must be a number in \[0, 1\)"):
        BayesOptSearcher(space(), "loss", "min", random_fraction=value)
    with pytest.raises(ConfigurationError, match=re.escape(repr(value))):
        create_searcher({"type": "bayesopt", "random_fraction": value}, space=space(),
                        metric="loss", mode="min")
