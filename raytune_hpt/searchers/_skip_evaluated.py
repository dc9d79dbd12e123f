"""A Ray searcher that never re-runs a trial given to it from elsewhere (a warm start).

Ray's wrapped libraries (Optuna, hyperopt) learn from ``add_evaluated_point`` but do not
avoid its configurations: in a small discrete space, or with random start-up trials and the
same seed, they propose them again. :class:`SkipEvaluated` answers such a suggestion at once
with the earlier trial's value (the library learns nothing new and loses nothing) and asks
again, under a fresh id. The package's own searchers skip them by themselves.
"""

from __future__ import annotations

import logging
import os
import pickle
from typing import Any

from ray.tune.search import Searcher

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers._keys import point_key

__all__ = ["SkipEvaluated"]

logger = logging.getLogger(__name__)

_ATTEMPTS = 25  # then the repeat runs (the space is as good as exhausted)


class SkipEvaluated(Searcher):
    """``inner`` with the configurations of ``evaluated`` (``add_evaluated_point`` arguments)
    answered from memory instead of run again."""

    def __init__(self, inner: Searcher, space: HyperParameters,
                 evaluated: list[dict[str, Any]]) -> None:
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner, self._space = inner, space
        self._known = {self._key(e["parameters"]): e for e in evaluated}
        self._ids: dict[str, str] = {}  # Ray's trial id -> the id the inner searcher knows

    def _key(self, config: dict[str, Any]) -> tuple:
        return point_key(self._space.active_values(config))

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:
        done = self.inner.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.inner.metric, self.inner.mode
        return done

    def suggest(self, trial_id: str) -> dict | str | None:
        for attempt in range(_ATTEMPTS):
            inner_id = trial_id if attempt == 0 else f"{trial_id}_again{attempt}"
            config = self.inner.suggest(inner_id)
            known = self._known.get(self._key(config)) if isinstance(config, dict) else None
            if known is None or attempt == _ATTEMPTS - 1:
                if known is not None:
                    logger.warning("Trial %s repeats an earlier trial: the searcher proposed "
                                   "nothing else %d times.", trial_id, _ATTEMPTS)
                self._ids[trial_id] = inner_id
                return config
            error = bool(known.get("error"))
            self.inner.on_trial_complete(
                inner_id, None if error else {self.inner.metric: known["value"]}, error=error)
        return None  # pragma: no cover - the loop always returns

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.inner.on_trial_result(self._ids.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        self.inner.on_trial_complete(self._ids.pop(trial_id, trial_id), result, error=error)

    def add_evaluated_point(self, parameters: dict, value: float | None, error: bool = False,
                            pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        self.inner.add_evaluated_point(parameters, value, error=error, pruned=pruned,
                                       intermediate_values=intermediate_values)
        self._known[self._key(parameters)] = {"parameters": parameters, "value": value,
                                              "error": error}

    def save(self, checkpoint_path: str) -> None:
        """One file (Ray keeps one per searcher): the inner searcher's own save, and ours."""
        inner_path = f"{checkpoint_path}.inner"
        try:
            self.inner.save(inner_path)  # HyperOptSearch does not pickle as a whole
            with open(inner_path, "rb") as file:
                inner = file.read()
        finally:
            if os.path.exists(inner_path):
                os.remove(inner_path)
        with open(checkpoint_path, "wb") as file:
            pickle.dump({"inner": inner, "known": self._known, "ids": self._ids}, file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            state = pickle.load(file)
        inner_path = f"{checkpoint_path}.inner"
        try:
            with open(inner_path, "wb") as file:
                file.write(state["inner"])
            self.inner.restore(inner_path)
        finally:
            os.remove(inner_path)
        self._known, self._ids = state["known"], state["ids"]
