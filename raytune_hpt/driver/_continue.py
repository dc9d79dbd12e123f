"""Resuming an experiment that ended: more trials, and a search a time budget stopped.

Ray 2.60's ``Tuner.restore`` runs the experiment as the first run configured it: its
``num_samples`` (so a larger ``max_trials`` trains nothing more, and Keras Tuner's reload
path, which does train more, is not matched) and its search algorithm's saved ``finished``
flag (set when a stopper ended the run: the time budget). :func:`continue_restored` gives
the restored run a search algorithm that creates trials up to this run's ``num_samples`` and
forgets ``finished``; the searcher itself and its saved state are the same object as before, so the
search goes on where it was: the same experiment folder, the same results table, trial
numbers going on, nothing trained again.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher, SearchGenerator

from raytune_hpt import _ray_compat

__all__ = ["ResumedSearch", "continue_restored"]


class ResumedSearch(SearchGenerator):
    """Ray's ``SearchGenerator``, whose restored state keeps the search going up to
    ``total_samples`` trials in all (a searcher with nothing left says FINISHED again)."""

    def __init__(self, searcher: Searcher, total_samples: int) -> None:
        super().__init__(searcher)
        self.wanted = total_samples

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        _ray_compat.search_continued(self, self.wanted)


def continue_restored(restored: Any, tune_config: Any) -> None:
    """Give a restored tuner this run's trial budget and a search that can go on."""
    restored_config = _ray_compat.restored_tune_config(restored)
    restored_config.num_samples = tune_config.num_samples
    search = restored_config.search_alg
    if not isinstance(search, Searcher):  # Ray's own generators, PBT's population: as saved
        return
    if restored_config.max_concurrent_trials:  # what Ray does for a Searcher, done here
        search = ConcurrencyLimiter(search, max_concurrent=restored_config.max_concurrent_trials)
        restored_config.max_concurrent_trials = None
    restored_config.search_alg = ResumedSearch(search, tune_config.num_samples)
