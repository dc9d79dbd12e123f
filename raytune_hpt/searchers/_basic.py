"""Random and grid search as Ray ``Searcher``s that know conditional hyperparameters.

Ray's ``BasicVariantGenerator`` samples every key independently and multiplies grids out;
with conditional scopes that repeats identical trials. These two only ever propose the
active values of a configuration.
"""

from __future__ import annotations

import pickle
import random
from typing import Any

from ray.tune.search import Searcher

from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["GridSearcher", "RandomSearcher", "StatefulSearcher", "sample_active"]


def sample_active(space: HyperParameters, rng: random.Random) -> dict[str, Any]:
    """One random configuration: parents first, then only the children they activate."""
    point: dict[str, Any] = {}
    for hp in space.space:
        if space.copy(point).is_active(hp):
            point[hp.name] = hp.random_sample(rng)
    return space.active_values(point)


class StatefulSearcher(Searcher):
    """A ``Searcher`` whose ``save``/``restore`` pickle ``get_state()`` (Ray's base raises)."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.get_state(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.set_state(pickle.load(file))


class RandomSearcher(StatefulSearcher):
    """Seeded random search; repeats a configuration only when the space is exhausted."""

    def __init__(self, space: HyperParameters, metric: str | None = None,
                 mode: str | None = None, seed: int | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._rng = random.Random(seed)
        self._seen: set[tuple] = set()

    def suggest(self, trial_id: str) -> dict[str, Any]:
        for _ in range(100):
            point = sample_active(self._space, self._rng)
            key = HyperParameters.config_key(point)
            if key not in self._seen:
                break
        self._seen.add(key)
        return point

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        pass

    def get_state(self) -> dict:
        return {"rng": self._rng.getstate(), "seen": self._seen}

    def set_state(self, state: dict) -> None:
        self._rng.setstate(state["rng"])
        self._seen = state["seen"]


class GridSearcher(StatefulSearcher):
    """Every combination of active values in a stable order, then ``FINISHED``.

    Raises:
        ValueError: if a hyperparameter has no finite list of values (a Float without step).
    """

    def __init__(self, space: HyperParameters, metric: str | None = None,
                 mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self._points = space.grid()
        self._next = 0

    def __len__(self) -> int:
        return len(self._points)

    def suggest(self, trial_id: str) -> dict[str, Any] | str:
        if self._next >= len(self._points):
            return Searcher.FINISHED
        self._next += 1
        return dict(self._points[self._next - 1])

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        pass

    def get_state(self) -> dict:
        return {"next": self._next}

    def set_state(self, state: dict) -> None:
        self._next = state["next"]
