"""The base of the single hyperparameters: ``HyperParameter``, ``Condition`` and their helpers.

Each type (``_numeric.py``: ``Int``, ``Float``; ``_discrete.py``: ``Choice``, ``Boolean``,
``Fixed``) checks its arguments, snaps a value onto its domain and maps itself onto the unit
interval, a finite list of values and a Ray Tune domain.
:class:`~raytune_hpt.hyperparameters.HyperParameters` collects them into a search space, and
:mod:`raytune_hpt.hyperparameters` re-exports them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_GRID_VALUES", "Condition", "HyperParameter"]

# Grid search refuses to enumerate a hyperparameter with more values than this.
MAX_GRID_VALUES = 100_000


@dataclass(frozen=True)
class Condition:
    """``parent_name`` must take one of ``values`` for the guarded hyperparameter to be active."""

    parent_name: str
    values: tuple

    def holds(self, value: Any) -> bool:
        return any(_same_value(value, v) for v in self.values)

    def to_dict(self) -> dict:
        return {"parent_name": self.parent_name, "values": list(self.values)}


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


class HyperParameter:
    """Base class: a named domain, a default and the conditions under which it is active.

    ``condition_sets`` is a disjunction of conjunctions: the hyperparameter is active when all
    conditions of any one set hold. Keras Tuner lets the same name be declared under several
    conditional scopes; each declaration adds one set. An unconditional declaration is the
    empty set, which always holds.
    """

    type_name = "hyperparameter"

    def __init__(self, name: str, default: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"A hyperparameter name must be a non-empty string, but got {name!r}.")
        self.name = name
        self.default = default
        self.condition_sets: list[tuple[Condition, ...]] = [()]

    # -- behaviour shared by all types ------------------------------------------------
    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The conditions of the first declaration (Keras Tuner's attribute)."""
        return self.condition_sets[0]

    def values_list(self) -> list | None:
        """Every value, in order, or ``None`` when the domain is continuous."""
        raise NotImplementedError

    def random_sample(self, rng: random.Random) -> Any:
        return self.from_unit(rng.random())

    def snap(self, value: Any) -> Any:
        """The valid value closest to ``value`` (what a trial uses)."""
        return self.from_unit(self.to_unit(value))

    def to_unit(self, value: Any) -> float:
        raise NotImplementedError

    def from_unit(self, unit: float) -> Any:
        raise NotImplementedError

    def to_ray_domain(self) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict:
        config = {"type": self.type_name, "name": self.name, "default": self.default}
        config["condition_sets"] = [[c.to_dict() for c in cs] for cs in self.condition_sets]
        return config

    def same_domain(self, other: HyperParameter) -> bool:
        mine, theirs = self.get_config(), other.get_config()
        mine.pop("condition_sets"), theirs.pop("condition_sets")
        return mine == theirs

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.get_config().items() if k not in ("type", "condition_sets")}
        inner = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"{type(self).__name__}({inner})"


def _discrete_from_unit(values: Sequence, unit: float) -> Any:
    index = min(int(max(unit, 0.0) * len(values)), len(values) - 1)
    return values[index]


def _discrete_to_unit(index: int, count: int) -> float:
    return (index + 0.5) / count


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return None
