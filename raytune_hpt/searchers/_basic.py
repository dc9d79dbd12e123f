"""Random and grid search as Ray ``Searcher``s that know conditional hyperparameters.

Ray's ``BasicVariantGenerator`` samples every key independently and multiplies grids out;
with conditional scopes that repeats identical trials. These two only ever propose the
active values of a configuration. Both try ``points_to_evaluate`` first and never propose a
configuration given to ``add_evaluated_point`` (a warm start: ``raytune_hpt.driver._warm_start``).
"""

from __future__ import annotations

import pickle
import random
from typing import Any

from ray.tune.search import Searcher

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers._keys import point_key

__all__ = ["GridSearcher", "RandomSearcher", "StatefulSearcher", "active_part", "sample_active"]


def sample_active(space: HyperParameters, rng: random.Random) -> dict[str, Any]:
    """One random configuration: parents first, then only the children they activate."""
    point: dict[str, Any] = {}
    for hp in space.space:
        if space.copy(point).is_active(hp):
            point[hp.name] = hp.random_sample(rng)
    return space.active_values(point)


def active_part(space: HyperParameters, point: dict[str, Any]) -> dict[str, Any]:
    """The active values of ``point``, as given (not snapped), defaults for the rest."""
    return {name: point.get(name, value) for name, value in space.active_values(point).items()}


class StatefulSearcher(Searcher):
    """A ``Searcher`` whose ``save``/``restore`` pickle ``get_state()`` (Ray's base raises)."""

    #: never suggests a configuration given to ``add_evaluated_point`` (no SkipEvaluated)
    skips_evaluated = True

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.get_state(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.set_state(pickle.load(file))


class _UninformedSearcher(StatefulSearcher):
    """Learns nothing from results; a configuration evaluated elsewhere is left out."""

    _space: HyperParameters

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        pass

    def add_evaluated_point(self, parameters: dict[str, Any], value: float | None,
                            error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        """A trial run elsewhere (a warm start): its configuration is not suggested."""
        self._exclude(point_key(active_part(self._space, parameters)))

    def _exclude(self, key: tuple) -> None:
        raise NotImplementedError


class RandomSearcher(_UninformedSearcher):
    """Seeded random search; repeats a configuration only when the space is exhausted."""

    def __init__(self, space: HyperParameters, metric: str | None = None,
                 mode: str | None = None, seed: int | None = None,
                 points_to_evaluate: list[dict[str, Any]] | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._rng = random.Random(seed)
        self._seen: set[tuple] = set()
        self._queue = [active_part(space, p) for p in points_to_evaluate or []]

    def suggest(self, trial_id: str) -> dict[str, Any]:
        if self._queue:  # points_to_evaluate first, in order
            point = self._queue.pop(0)
            self._seen.add(point_key(point))
            return dict(point)
        for _ in range(100):
            point = sample_active(self._space, self._rng)
            key = point_key(point)
            if key not in self._seen:
                break
        self._seen.add(key)
        return point

    def _exclude(self, key: tuple) -> None:
        self._seen.add(key)

    def get_state(self) -> dict:
        return {"rng": self._rng.getstate(), "seen": self._seen, "queue": self._queue}

    def set_state(self, state: dict) -> None:
        self._rng.setstate(state["rng"])
        self._seen = state["seen"]
        self._queue = state.get("queue", [])


class GridSearcher(_UninformedSearcher):
    """Every combination of active values in a stable order, then ``FINISHED``.

    Raises:
        ValueError: if a hyperparameter has no finite list of values (a Float without step).
    """

    def __init__(self, space: HyperParameters, metric: str | None = None,
                 mode: str | None = None,
                 points_to_evaluate: list[dict[str, Any]] | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self._space = space
        first = [active_part(space, p) for p in points_to_evaluate or []]
        given = {point_key(p) for p in first}
        # points_to_evaluate first, in order, then the rest of the grid
        self._points = first + [p for p in space.grid() if point_key(p) not in given]
        self._next = 0

    def __len__(self) -> int:
        return len(self._points)

    def suggest(self, trial_id: str) -> dict[str, Any] | str:
        if self._next >= len(self._points):
            return Searcher.FINISHED
        self._next += 1
        return dict(self._points[self._next - 1])

    def _exclude(self, key: tuple) -> None:
        self._points = self._points[:self._next] + [
            p for p in self._points[self._next:] if point_key(p) != key]

    def get_state(self) -> dict:
        return {"next": self._next, "points": self._points}

    def set_state(self, state: dict) -> None:
        self._next = state["next"]
        self._points = state.get("points", self._points)
