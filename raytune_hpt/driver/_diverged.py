"""A diverged trial reaches the searcher as the worst result (driver side).

A trial whose loss, objective or another metric became NaN or infinite stops at that epoch
and says so in its report (``_record.DIVERGED``, written by ``worker/_report.py``). Its
objective may still be finite (``val_accuracy`` of a model whose loss is NaN) or NaN; either
way a searcher that takes it at face value learns nothing (Optuna and hyperopt drop a NaN;
a finite value looks like an honest result). :class:`WorstForDiverged` wraps the search's
Ray ``Searcher`` and hands it, for a diverged report, the worst objective value seen so far
in this search (the searcher then moves away from the region); before any value is known it
reports the trial as failed (the package's ``bayesopt`` imputes the worst value for those at
each fit). HyperBand's rungs need nothing: a trial that ends by itself leaves its bracket, so
it is never promoted. The recorded results keep the real values; ``results/`` never ranks a
diverged trial.
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.search import Searcher

from raytune_hpt._record import DIVERGED

__all__ = ["WorstForDiverged", "worst_for_diverged"]


def worst_for_diverged(searcher: Any) -> Any:
    """``searcher`` wrapped by :class:`WorstForDiverged` (a Ray ``Searcher``; another search
    algorithm, such as PBT's population, is returned as it is)."""
    return WorstForDiverged(searcher) if isinstance(searcher, Searcher) else searcher


class WorstForDiverged(Searcher):
    """``searcher``, told the worst objective seen so far for each diverged report.

    Named ``searcher`` as Ray's own wrappers (``ConcurrencyLimiter``) name it: Ray saves and
    restores the wrapper's state (the worst value) and the searcher's separately.
    """

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.worst: float | None = None
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def _seen(self, result: dict | None) -> dict | None:
        """``result`` as the searcher gets it: a diverged one with the worst value (None:
        none known yet, the trial counts as failed)."""
        metric, mode = self.searcher.metric, self.searcher.mode
        if not result or not isinstance(metric, str) or mode not in ("min", "max"):
            return result
        value = result.get(metric)
        if isinstance(value, (int, float)) and math.isfinite(value) and DIVERGED not in result:
            if self.worst is None or (value < self.worst if mode == "max" else value > self.worst):
                self.worst = float(value)
            return result
        if DIVERGED not in result:
            return result
        return None if self.worst is None else {**result, metric: self.worst}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:
        done = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return done

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str) -> dict | str | None:
        return self.searcher.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        seen = self._seen(result)
        if seen is not None:
            self.searcher.on_trial_result(trial_id, seen)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        seen = self._seen(result)
        failed = error or (bool(result) and seen is None)
        self.searcher.on_trial_complete(trial_id, None if failed else seen, error=failed)

    def add_evaluated_point(self, parameters: dict, value: float | None, error: bool = False,
                            pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        if not error and value is not None:
            self._seen({self.searcher.metric: value})
        self.searcher.add_evaluated_point(parameters, value, error=error, pruned=pruned,
                                          intermediate_values=intermediate_values)

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)

    def get_state(self) -> dict:
        return {"worst": self.worst}

    def set_state(self, state: dict) -> None:
        self.worst = state.get("worst", self.worst)
