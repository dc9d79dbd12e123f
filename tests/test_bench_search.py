"""scripts/bench_search.py's statistics and its N-at-once loop (no searcher library needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import _bench_peers  # noqa: E402
import _bench_stats  # noqa: E402


def test_a_searcher_worse_on_every_seed_is_not_tied():
    best = [0.1 * i for i in range(10)]
    worse = [v + 1.0 for v in best]
    name, p, ranks = _bench_stats.judge_row({"a": best, "b": worse})
    assert name == "a" and p["a"] == 1.0
    assert p["b"] < _bench_stats.ALPHA  # 10 of 10 pairs worse: p = 1/1024
    assert ranks == {"a": 1.0, "b": 2.0}


def test_a_few_worse_seeds_and_equal_runs_are_ties():
    best = [0.0] * 10
    name, p, _ = _bench_stats.judge_row({"a": best, "b": [0.0] * 6 + [1.0] * 4,
                                         "c": list(best)})
    assert p["b"] >= _bench_stats.ALPHA  # 4 differing seeds cannot reach 0.05
    assert p["c"] == 1.0


def test_grid_runs_once_and_stands_for_every_seed():
    _, p, _ = _bench_stats.judge_row({"grid": [5.0], "random": [1.0] * 10})
    assert p["grid"] < _bench_stats.ALPHA


def test_summary_counts_rows_best_or_tied():
    rows = [("r1", {"a": [0.0] * 10, "random": [1.0] * 10}),
            ("r2", {"a": [1.0] * 10, "random": [1.0] * 10})]
    table = _bench_stats.summary(rows, ["a", "random"])
    assert "| a | 2 of 2 | 1 | 1.25 | 0 |" in table
    assert "| random | 1 of 2 | 0 | 1.75 | - |" in table


@pytest.mark.parametrize("concurrent", [1, 4])
def test_drive_keeps_at_most_n_pending(concurrent):
    pending, most = set(), [0]

    def ask(i):
        pending.add(i)
        most[0] = max(most[0], len(pending))
        return i, {"x": i}

    def tell(handle, value):
        pending.remove(handle)

    values, times = _bench_peers.drive(ask, tell, lambda c: float(c["x"]), 10, concurrent)
    assert values == [float(i) for i in range(10)]  # the oldest pending completes first
    assert most[0] == concurrent and len(times) == 10


def test_drive_waits_when_the_searcher_refuses_while_trials_are_pending():
    pending: set = set()
    asked = []

    def ask(i):  # HEBOSearch's way: a batch of 2, then nothing until both are back
        if len(pending) and len(asked) % 2 == 0:
            return None
        pending.add(i)
        asked.append(i)
        return i, {"x": i}

    def tell(handle, value):
        pending.remove(handle)

    values, times = _bench_peers.drive(ask, tell, lambda c: float(c["x"]), 6, 4)
    assert len(values) == 6 and asked == list(range(6)) and len(times) == 6
