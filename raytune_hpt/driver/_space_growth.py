"""Hyperparameters a ``run_trial`` override declares while it runs, added to the search space.

Keras Tuner discovers such hyperparameters lazily: the first trial that meets one uses its
default, later trials tune it. :class:`SpaceGrowth` (a driver-side Ray Tune callback) reads
what each trial declared from its reports and merges it into the space the searcher
samples from; a searcher with ``add_hyperparameters(hps)`` is told as well.

Keras Tuner runs one trial at a time, so only its first trial meets the default. Ray starts
as many trials as fit, all suggested before the first one has declared anything: from an
empty space every one of them would be that same default trial (4 of 10 trials of the
guides' ``x * x + 1`` were, with 2 at once). :class:`UntilDeclared` holds the searcher back
while the space is empty and the trials out have not reported yet; the first report (or
end) releases it. A space the model already declares is not held: the first trials then
differ in it and take the default only of what ``run_trial`` adds, like Keras Tuner's first.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ray.tune import Callback
from ray.tune.search import Searcher

from raytune_hpt._record import DECLARED_HPS
from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["SpaceGrowth", "UntilDeclared", "until_declared"]

logger = logging.getLogger(__name__)


class SpaceGrowth(Callback):
    """Grows ``space`` (the searcher's own object) with what trials declare."""

    def __init__(self, space: HyperParameters, searcher: Any) -> None:
        self.space, self.searcher = space, searcher

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        declared = result.get(DECLARED_HPS)
        if not declared:
            return
        new = HyperParameters.from_config(json.loads(declared))
        added = [hp for hp in new.space if hp.name not in {h.name for h in self.space.space}]
        if not added:
            return
        self.space.merge(new)
        grow = getattr(self.searcher, "add_hyperparameters", None)
        if callable(grow):
            grow(added)
        logger.info("Trial %s declared %s; later trials tune them.", trial.trial_id,
                    ", ".join(hp.name for hp in added))

    def __getstate__(self) -> dict:
        return {"space": self.space, "searcher": None}


def until_declared(searcher: Any, space: HyperParameters) -> Any:
    """``searcher`` held back by :class:`UntilDeclared` (a Ray ``Searcher``; another search
    algorithm, such as PBT's population, is returned as it is)."""
    return UntilDeclared(searcher, space) if isinstance(searcher, Searcher) else searcher


class UntilDeclared(Searcher):
    """``inner``, suggesting nothing while ``space`` is empty and no trial out has reported.

    Ray asks again on its next step, so the second trial starts once the first has declared
    its hyperparameters (or ended without any: then nothing is held any more).
    """

    def __init__(self, inner: Searcher, space: HyperParameters) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner, self._space = inner, space
        self._suggested = False  # a trial is out
        self._held = True  # until the first report or end

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:
        done = self.inner.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.inner.metric, self.inner.mode
        return done

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.inner.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._held and self._suggested and not self._space.space:
            return None
        config = self.inner.suggest(trial_id)
        self._suggested = self._suggested or isinstance(config, dict)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._held = False
        self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        self._held = False
        self.inner.on_trial_complete(trial_id, result, error=error)

    def add_evaluated_point(self, parameters: dict, value: float | None, error: bool = False,
                            pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        self.inner.add_evaluated_point(parameters, value, error=error, pruned=pruned,
                                       intermediate_values=intermediate_values)

    def add_hyperparameters(self, hps: list) -> None:
        """Tell ``inner`` of hyperparameters trials declared, if it takes them."""
        grow = getattr(self.inner, "add_hyperparameters", None)
        if callable(grow):
            grow(hps)

    def on_pause(self, trial_id: str) -> None:
        self.inner.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.inner.on_unpause(trial_id)

    def save(self, checkpoint_path: str) -> None:
        self.inner.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.inner.restore(checkpoint_path)
        self._held = False  # a resumed search has reports already

    def get_state(self) -> dict:
        return self.inner.get_state()

    def set_state(self, state: dict) -> None:
        self.inner.set_state(state)
