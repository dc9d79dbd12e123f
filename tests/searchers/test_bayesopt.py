"""The bayesopt searcher, driven directly through Ray's Searcher interface (no cluster)."""

from __future__ import annotations

import math
import statistics

import pytest

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers import create_searcher, validate_searcher
from raytune_hpt.searchers._basic import RandomSearcher
from raytune_hpt.searchers._bayesopt import BayesOptSearcher

BRANIN_MIN = 0.397887


def mixed_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Int("units", 16, 256, step=16)
    hp.Int("filters", 2, 64, sampling="log")
    hp.Float("decay", 0.5, 0.999, sampling="reverse_log")
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Choice("activation", ["relu", "tanh", "gelu"])
    hp.Choice("batch", [16, 32, 64])
    hp.Boolean("bn")
    hp.Fixed("epochs", 3)
    hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Float("momentum", 0.5, 0.99)
    return hp


def mixed_loss(c: dict) -> float:
    loss = (math.log10(c["lr"]) + 2.5) ** 2 + (c["units"] - 128) ** 2 / 1e4 + c["dropout"]
    loss += {"relu": 0.0, "tanh": 0.5, "gelu": 0.2}[c["activation"]] + 0.3 * c["bn"]
    return loss + abs(c.get("momentum", 0.9) - 0.9) + math.log(c["filters"]) / 10


def branin_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Float("x1", -5.0, 10.0)
    hp.Float("x2", 0.0, 15.0)
    return hp


def branin(c: dict) -> float:
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def run(searcher, objective, n: int, metric: str = "loss") -> list[dict]:
    configs = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {metric: objective(config)})
    return configs


def test_suggestions_respect_every_type_and_condition():
    configs = run(BayesOptSearcher(mixed_space(), "loss", "min", seed=1), mixed_loss, 20)
    for c in configs:
        assert 1e-4 <= c["lr"] <= 1e-1 and isinstance(c["lr"], float)
        assert c["units"] in range(16, 257, 16) and isinstance(c["units"], int)
        assert 2 <= c["filters"] <= 64 and isinstance(c["filters"], int)
        assert 0.5 <= c["decay"] <= 0.999
        assert any(abs(c["dropout"] - v) < 1e-9 for v in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5))
        assert c["activation"] in ("relu", "tanh", "gelu")
        assert c["batch"] in (16, 32, 64)
        assert c["bn"] is True or c["bn"] is False
        assert c["epochs"] == 3
        assert ("momentum" in c) == (c["optimizer"] == "sgd")
        if "momentum" in c:
            assert 0.5 <= c["momentum"] <= 0.99
    assert {c["optimizer"] for c in configs} == {"adam", "sgd"}
    # The Gaussian-process phase improves on the random start.
    assert min(map(mixed_loss, configs[5:])) < min(map(mixed_loss, configs[:5]))


def test_same_seed_same_suggestions_other_seed_others():
    def sequence(seed):
        return run(BayesOptSearcher(mixed_space(), "loss", "min", seed=seed), mixed_loss, 9)

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)


def test_restore_continues_like_an_uninterrupted_searcher(tmp_path):
    reference = BayesOptSearcher(mixed_space(), "loss", "min", seed=7)
    expected = run(reference, mixed_loss, 10)

    first = BayesOptSearcher(mixed_space(), "loss", "min", seed=7)
    head = run(first, mixed_loss, 6)
    pending = first.suggest("t6")  # a trial still running when the experiment is saved
    first.save(str(tmp_path / "searcher.pkl"))

    restored = BayesOptSearcher(mixed_space(), "loss", "min", seed=999)
    restored.restore(str(tmp_path / "searcher.pkl"))
    restored.on_trial_complete("t6", {"loss": mixed_loss(pending)})
    tail = [restored.suggest(f"t{i}") for i in (7,)]
    restored.on_trial_complete("t7", {"loss": mixed_loss(tail[0])})
    tail += run_from(restored, mixed_loss, 8, 10)
    assert head + [pending] + tail == expected


def run_from(searcher, objective, start: int, stop: int) -> list[dict]:
    configs = []
    for i in range(start, stop):
        config = searcher.suggest(f"t{i}")
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {"loss": objective(config)})
    return configs


@pytest.mark.parametrize("concurrent", [2, 8])
def test_concurrent_pending_suggestions_are_distinct(concurrent):
    hp = HyperParameters()
    hp.Int("x", 0, 9)
    hp.Choice("kind", ["a", "b", "c"])
    searcher = BayesOptSearcher(hp, "loss", "min", seed=0, random_initial=3)
    run(searcher, lambda c: abs(c["x"] - 4) + (c["kind"] != "b"), 4)
    batch = [searcher.suggest(f"p{i}") for i in range(concurrent)]
    keys = {tuple(sorted(c.items())) for c in batch}
    assert len(keys) == concurrent
    # Nor does it repeat what was already evaluated while unexplored points remain.
    searcher2 = BayesOptSearcher(hp, "loss", "min", seed=0, random_initial=3)
    seen = run(searcher2, lambda c: abs(c["x"] - 4) + (c["kind"] != "b"), 20)
    assert len({tuple(sorted(c.items())) for c in seen}) == 20


@pytest.mark.parametrize("mode", ["min", "max"])
def test_mode_is_respected(mode):
    hp = HyperParameters()
    hp.Float("x", 0.0, 1.0)
    configs = run(BayesOptSearcher(hp, "score", mode, seed=2), lambda c: (c["x"] - 0.3) ** 2,
                  15, metric="score")
    tail = [c["x"] for c in configs[-5:]]
    if mode == "min":
        assert min(abs(x - 0.3) for x in tail) < 0.03
    else:  # the maximum of (x - 0.3)^2 on [0, 1] is at x = 1
        assert max(tail) > 0.97


def test_failed_trials_are_never_best():
    hp = HyperParameters()
    hp.Float("x", 0.0, 1.0)
    searcher = BayesOptSearcher(hp, "loss", "min", seed=5)
    failures = [float("nan"), float("inf"), None, "oops"]
    xs = []
    for i in range(20):
        c = searcher.suggest(f"t{i}")
        xs.append(c["x"])
        if c["x"] < 0.25:  # the would-be optimum fails in every way a trial can fail
            failure = failures[i % 4]
            result = {} if failure is None else {"loss": failure}
            searcher.on_trial_complete(f"t{i}", result if i % 5 else None, error=i % 2 == 0)
        else:
            searcher.on_trial_complete(f"t{i}", {"loss": c["x"]})
    # Failures count as the worst result: it settles just above the failing region.
    assert sum(x < 0.25 for x in xs[-8:]) <= 3
    assert min(x for x in xs if x >= 0.25) < 0.3


def test_beats_random_search_on_branin():
    regrets = {"bayesopt": [], "random": []}
    for seed in range(5):
        for name, searcher in (
            ("bayesopt", BayesOptSearcher(branin_space(), "loss", "min", seed=seed)),
            ("random", RandomSearcher(branin_space(), "loss", "min", seed=seed)),
        ):
            best = min(branin(c) for c in run(searcher, branin, 30))
            regrets[name].append(best - BRANIN_MIN)
    assert statistics.median(regrets["bayesopt"]) < statistics.median(regrets["random"]) / 3


def test_registry_options_and_search_properties():
    searcher = create_searcher({"type": "bayesopt", "random_initial": 2, "xi": 0.1},
                               space=branin_space(), metric="a", mode="min", seed=0)
    assert isinstance(searcher, BayesOptSearcher)
    with pytest.raises(ValueError, match="unknown"):
        validate_searcher({"type": "bayesopt", "kappa": 2})
    assert searcher.set_search_properties("b", "max", {}) is True
    assert searcher.metric == "b" and searcher.mode == "max"
    with pytest.raises(ValueError, match="mode must be"):
        BayesOptSearcher(branin_space(), "a", "minimize")
    with pytest.raises(ValueError, match="random_initial"):
        BayesOptSearcher(branin_space(), "a", "min", random_initial=0)
    with pytest.raises(ValueError, match="fidelity must be one of"):
        BayesOptSearcher(branin_space(), "a", "min", fidelity="bohb")


def mixed_branin_space() -> HyperParameters:
    """Branin with x1 a Float, x2 an Int grid and a Choice that shifts the function."""
    hp = HyperParameters()
    hp.Float("x1", -5.0, 10.0)
    hp.Int("x2", 0, 15)
    hp.Choice("shift", ["none", "small", "large"])
    return hp


def mixed_branin(c: dict) -> float:
    return branin(c) + {"none": 0.0, "small": 2.0, "large": 20.0}[c["shift"]]


def test_beats_random_search_on_mixed_branin():
    # The optimum over the integer grid: x2 = 2 or 12 with x1 near pi or -pi.
    best_possible = min(mixed_branin({"x1": x1 / 100, "x2": x2, "shift": "none"})
                        for x1 in range(-500, 1001) for x2 in range(16))
    regrets = {"bayesopt": [], "random": []}
    for seed in range(5):
        for name, cls in (("bayesopt", BayesOptSearcher), ("random", RandomSearcher)):
            configs = run(cls(mixed_branin_space(), "loss", "min", seed=seed), mixed_branin, 25)
            for c in configs:
                assert isinstance(c["x2"], int) and c["shift"] in ("none", "small", "large")
            regrets[name].append(min(map(mixed_branin, configs)) - best_possible)
    assert statistics.median(regrets["bayesopt"]) < statistics.median(regrets["random"]) / 3


def report(searcher, trial_id: str, epochs: range, loss_at) -> None:
    for epoch in epochs:
        searcher.on_trial_result(trial_id, {"loss": loss_at(epoch), "epoch": epoch})


def test_model_is_fitted_on_the_highest_rung_with_enough_trials():
    """ASHA-like: 6 trials stopped at epoch 1, 2 promoted to epoch 3; the model must compare
    all trials at epoch 1 (5 needed), not mix epoch-1 values with final ones."""
    hp = branin_space()
    searcher = BayesOptSearcher(hp, "loss", "min", seed=0, random_initial=5)
    for i in range(8):
        searcher.suggest(f"t{i}")
        last = 3 if i < 2 else 1
        report(searcher, f"t{i}", range(1, last + 1), lambda e, i=i: 10.0 * i / e)
        searcher.on_trial_complete(f"t{i}", {"loss": 10.0 * i / last, "epoch": last})
    points, y, pending = searcher._training_data()
    assert searcher._budget() == 1 and len(points) == 8 and not pending
    # at epoch 1, trial i has loss 10 i: the targets keep that order (maximized: reversed)
    assert list(y) == sorted(y, reverse=True)
    # with fidelity="last" the two promoted trials would look 3x better than at epoch 1
    last = BayesOptSearcher(hp, "loss", "min", seed=0, random_initial=5, fidelity="last")
    for i in range(8):
        last.suggest(f"t{i}")
        final = 3 if i < 2 else 1
        last.on_trial_complete(f"t{i}", {"loss": 10.0 * i / final, "epoch": final})
    assert len(last._training_data()[0]) == 8


def test_trials_stopped_below_the_rung_count_with_their_last_value():
    """5 trials reached epoch 3, 3 were stopped at epoch 1 (ASHA): the model at epoch 3 must
    still learn that the stopped ones were bad, or it proposes their region again."""
    hp = branin_space()
    searcher = BayesOptSearcher(hp, "loss", "min", seed=0, random_initial=5, random_fraction=0)
    for i in range(8):
        searcher.suggest(f"t{i}")
        last = 3 if i < 5 else 1
        report(searcher, f"t{i}", range(1, last + 1), lambda e, i=i: 1.0 + i if i < 5 else 100.0)
        searcher.on_trial_complete(f"t{i}", {"loss": 1.0 + i if i < 5 else 100.0, "epoch": last})
    points, y, pending = searcher._training_data()
    assert searcher._budget() == 3 and len(points) == 8 and not pending
    stopped = [searcher._trials[f"t{i}"].point for i in range(5, 8)]
    assert all(y[points.index(p)] < min(y[:5]) for p in stopped)


def test_running_trials_reported_at_the_rung_are_observations_not_liars():
    hp = branin_space()
    searcher = BayesOptSearcher(hp, "loss", "min", seed=0, random_initial=3)
    for i in range(5):
        searcher.suggest(f"t{i}")
        report(searcher, f"t{i}", range(1, 3), lambda e, i=i: float(i + e))
    searcher.suggest("t5")  # started, nothing reported yet
    points, y, pending = searcher._training_data()
    assert searcher._budget() == 2 and len(points) == 5 and len(pending) == 1
    config = searcher.suggest("t6")  # the Gaussian process, with t5 as a liar
    assert config not in [t.point for t in searcher._trials.values()][:-1]


def test_state_round_trip_keeps_intermediate_results(tmp_path):
    searcher = BayesOptSearcher(branin_space(), "loss", "min", seed=4)
    searcher.suggest("a")
    report(searcher, "a", range(1, 4), lambda e: 5.0 / e)
    searcher.save(str(tmp_path / "s.pkl"))
    other = BayesOptSearcher(branin_space(), "loss", "min", seed=0)
    other.restore(str(tmp_path / "s.pkl"))
    assert other._trials["a"].scores == {1: -5.0, 2: -2.5, 3: -5.0 / 3}
    assert other.suggest("b") == searcher.suggest("b")


@pytest.mark.parametrize("seed", [104, 106])
def test_never_suggests_next_to_a_configuration_already_tried(seed):
    """With a near-noiseless model, log EI peaked next to one boundary point again and again
    (Branin, seed 106: 20 suggestions within 0.002 of x1=10, x2=2.98, regret 1.55 to the end)."""
    from raytune_hpt.searchers._bayesopt import NEAR

    space = branin_space()
    configs = run(BayesOptSearcher(space, metric="loss", mode="min", seed=seed), branin, 30)
    hps = {hp.name: hp for hp in space.space}
    units = [(hps["x1"].to_unit(c["x1"]), hps["x2"].to_unit(c["x2"])) for c in configs]
    close = [(i, j) for j in range(len(units)) for i in range(j)
             if max(abs(a - b) for a, b in zip(units[i], units[j], strict=True)) < NEAR]
    assert not close, f"suggestions within {NEAR} of an earlier one: {close}"
    assert min(branin(c) for c in configs) - BRANIN_MIN < 0.5


def test_four_pending_trials_do_not_hold_back_the_search():
    """Pending trials enter the model with its own mean there (the kriging believer). With
    each entered at the worst value seen (a constant liar), the median regret of these six
    runs was 0.022; with the believer 0.0005 (one trial at a time reaches about the same)."""
    regrets = []
    for seed in range(6):
        searcher = BayesOptSearcher(branin_space(), "loss", "min", seed=seed)
        pending = [(f"t{i}", searcher.suggest(f"t{i}")) for i in range(4)]
        best, started = math.inf, 4
        while pending:
            trial_id, config = pending.pop(0)
            best = min(best, branin(config))
            searcher.on_trial_complete(trial_id, {"loss": branin(config)})
            if started < 40:
                pending.append((f"t{started}", searcher.suggest(f"t{started}")))
                started += 1
        regrets.append(best - BRANIN_MIN)
    assert statistics.median(regrets) < 0.005, regrets
