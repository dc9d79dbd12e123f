"""``HyperParameters``: the search space a model builder declares through ``hp``, and its views.

A model builder written for Keras Tuner calls ``hp.Int``, ``hp.Float``, ``hp.Choice``,
``hp.Boolean`` and ``hp.Fixed`` and may open ``hp.conditional_scope``. The same
``HyperParameters`` object plays two roles here:

* while the space is discovered, every call registers a hyperparameter and returns its
  default (or a value the discovery loop wants to try);
* inside a trial, it is built from the trial's config and returns the values the searcher
  chose, snapped onto each hyperparameter's grid.

Every hyperparameter also maps itself onto the unit interval (for Bayesian optimization),
onto a finite list of values (for grid search) and onto a Ray Tune domain (for Ray's own
searchers).

The single hyperparameter types are defined in ``_types.py`` (the base), ``_numeric.py``
and ``_discrete.py``; :func:`hyperparameter_from_config` rebuilds any of them.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from raytune_hpt.hyperparameters._discrete import Boolean, Choice, Fixed
from raytune_hpt.hyperparameters._numeric import Float, Int, _Numeric
from raytune_hpt.hyperparameters._types import (
    MAX_GRID_VALUES,
    Condition,
    HyperParameter,
    _same_value,
)

__all__ = ["HyperParameters", "hyperparameter_from_config", "space_summary"]


def _as_tuple(values: Any) -> tuple:
    if isinstance(values, (list, tuple)):
        return tuple(values)
    return (values,)


class HyperParameters:
    """The container a model builder receives as ``hp``; Keras Tuner's API.

    Example:
        >>> hp = HyperParameters()
        >>> hp.Int("units", 32, 512, step=32)
        32
        >>> with hp.conditional_scope("units", [32]):
        ...     hp.Boolean("dropout")
        False
        >>> hp.values
        {'units': 32, 'dropout': False}
    """

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self._space: dict[str, HyperParameter] = {}
        # Values chosen for this build (a trial's config); the rest take their defaults.
        self._assigned: dict[str, Any] = dict(values or {})
        self._scopes: list[Condition] = []
        # Names declared up front (Tuner(hyperparameters=...)): they win over the model's
        # own declaration of the same name, whatever its type (Keras Tuner's rule).
        self._up_front: frozenset[str] = frozenset()

    # -- declaring hyperparameters (Keras Tuner's methods) -----------------------------
    def Int(self, name, min_value, max_value, step=None, sampling="linear", default=None,
            parent_name=None, parent_values=None) -> int | None:
        hp = Int(name, min_value, max_value, step=step, sampling=sampling, default=default)
        return self._declare(hp, parent_name, parent_values)

    def Float(self, name, min_value, max_value, step=None, sampling="linear", default=None,
              parent_name=None, parent_values=None) -> float | None:
        hp = Float(name, min_value, max_value, step=step, sampling=sampling, default=default)
        return self._declare(hp, parent_name, parent_values)

    def Choice(self, name, values, ordered=None, default=None, parent_name=None,
               parent_values=None) -> Any:
        hp = Choice(name, values, ordered=ordered, default=default)
        return self._declare(hp, parent_name, parent_values)

    def Boolean(self, name, default=False, parent_name=None, parent_values=None) -> bool | None:
        return self._declare(Boolean(name, default=default), parent_name, parent_values)

    def Fixed(self, name, value, parent_name=None, parent_values=None) -> Any:
        return self._declare(Fixed(name, value), parent_name, parent_values)

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Hyperparameters declared inside are active only when the parent takes one of the
        values."""
        if parent_name not in self._space:
            raise ValueError(
                f"conditional_scope needs `{parent_name}` to be declared before it, but the "
                f"declared hyperparameters are {sorted(self._space)}."
            )
        condition = Condition(parent_name, _as_tuple(parent_values))
        parent = self._space[parent_name]
        for value in condition.values:
            allowed = parent.values_list()
            if allowed is not None and not any(_same_value(value, v) for v in allowed):
                raise ValueError(
                    f"conditional_scope on '{parent_name}': {value!r} is not one of its values "
                    f"{allowed!r}."
                )
            if allowed is None and isinstance(parent, _Numeric) and not (
                isinstance(value, numbers.Real) and not isinstance(value, bool)
                and parent.min_value <= value <= parent.max_value
            ):
                raise ValueError(
                    f"conditional_scope on '{parent_name}': the value must lie in "
                    f"[{parent.min_value}, {parent.max_value}], but got {value!r}."
                )
        self._scopes.append(condition)
        try:
            yield
        finally:
            self._scopes.pop()

    def _declare(self, hp: HyperParameter, parent_name, parent_values) -> Any:
        if parent_name is not None:
            with self.conditional_scope(parent_name, parent_values):
                return self._declare(hp, None, None)
        conditions = tuple(self._scopes)
        existing = self._space.get(hp.name)
        if existing is None:
            hp.condition_sets = [conditions]
            self._space[hp.name] = hp
        else:
            if type(existing) is not type(hp) and hp.name in self._up_front:
                return self._value(existing)  # the up-front declaration wins, as declared
            if type(existing) is not type(hp):
                raise ValueError(
                    f"Hyperparameter '{hp.name}' is declared as {type(existing).__name__} and "
                    f"again as {type(hp).__name__}; one name must keep one type."
                )
            # As in Keras Tuner, the first declaration's domain wins; a new scope widens where
            # the hyperparameter is active.
            if conditions not in existing.condition_sets:
                if () in existing.condition_sets or not conditions:
                    existing.condition_sets = [()]
                else:
                    existing.condition_sets.append(conditions)
            hp = existing
        if not all(self._condition_holds(c) for c in conditions):
            return None
        return self._value(hp)

    # -- reading values ----------------------------------------------------------------
    def _value(self, hp: HyperParameter) -> Any:
        if hp.name in self._assigned:
            return hp.snap(self._assigned[hp.name])
        return hp.default

    def _condition_holds(self, condition: Condition) -> bool:
        parent = self._space.get(condition.parent_name)
        return (
            parent is not None and self.is_active(parent)
            and condition.holds(self._value(parent))
        )

    def is_active(self, hp: HyperParameter | str) -> bool:
        """Whether ``hp`` is active given the current values of its parents."""
        hp = self._space[hp] if isinstance(hp, str) else hp
        return bool(self.active_mask(size=1, hps=[hp])[hp.name][0])

    def active_mask(self, rows: dict[str, Sequence] | None = None, size: int | None = None,
                    hps: Sequence[HyperParameter] | None = None) -> dict[str, np.ndarray]:
        """Which hyperparameters are active in each of many configurations at once.

        The one definition of "active": :meth:`is_active` is this over one row of the current
        values, and Bayesian optimization calls it over thousands of candidate rows.

        Args:
            rows: values by hyperparameter name, one sequence per name, all of one length; a
                name missing here takes its current value (assigned or default) in every row.
            size: the number of rows when ``rows`` is empty.
            hps: the hyperparameters to report (default: every one of the space).

        Returns:
            name -> boolean array over the rows.

        Example:
            >>> hp = HyperParameters()
            >>> _ = hp.Choice("opt", ["adam", "sgd"])
            >>> with hp.conditional_scope("opt", "sgd"):
            ...     _ = hp.Float("momentum", 0.0, 1.0)
            >>> hp.active_mask({"opt": ["adam", "sgd"]})["momentum"].tolist()
            [False, True]
        """
        rows = rows or {}
        n = size if size is not None else len(next(iter(rows.values()), ()))
        masks: dict[str, np.ndarray] = {}

        def mask(hp: HyperParameter) -> np.ndarray:
            if hp.name not in masks:
                masks[hp.name] = np.zeros(n, dtype=bool)  # a cycle of conditions never holds
                out = np.zeros(n, dtype=bool)
                for conditions in hp.condition_sets:
                    ok = np.ones(n, dtype=bool)
                    for condition in conditions:
                        parent = self._space.get(condition.parent_name)
                        if parent is None:
                            ok[:] = False
                            break
                        values = rows.get(parent.name, [self._value(parent)] * n)
                        ok &= mask(parent) & np.fromiter(
                            (condition.holds(v) for v in values), dtype=bool, count=n)
                    out |= ok
                masks[hp.name] = out
            return masks[hp.name]

        return {hp.name: mask(hp) for hp in (self._space.values() if hps is None else hps)}

    @property
    def space(self) -> list[HyperParameter]:
        return list(self._space.values())

    @property
    def values(self) -> dict[str, Any]:
        """The active hyperparameters and their values, in declaration order."""
        return {name: self._value(hp) for name, hp in self._space.items() if self.is_active(hp)}

    def get(self, name: str) -> Any:
        if name not in self._space:
            raise KeyError(f"Hyperparameter '{name}' does not exist; known: {sorted(self._space)}.")
        if not self.is_active(name):
            raise ValueError(f"Hyperparameter '{name}' is currently inactive.")
        return self._value(self._space[name])

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._space

    # -- the space as a whole --------------------------------------------------------------
    def copy(self, values: dict[str, Any] | None = None) -> HyperParameters:
        """The same space with other assigned values (a trial's config)."""
        clone = HyperParameters(values)
        clone._space = {name: hp for name, hp in self._space.items()}
        clone._up_front = self._up_front
        return clone

    def declared_up_front(self) -> HyperParameters:
        """A copy whose hyperparameters win over a model's later declaration of the same
        name, even of another type (Keras Tuner: a ``Float`` given to the tuner replaces
        the model's ``Choice``; a ``Fixed`` pins it)."""
        clone = self.copy()
        clone._up_front = frozenset(self._space)
        return clone

    def merge(self, other: HyperParameters) -> None:
        """Add ``other``'s hyperparameters that this space does not have yet."""
        for name, hp in other._space.items():
            self._space.setdefault(name, hp)

    def active_values(self, config: dict[str, Any]) -> dict[str, Any]:
        """The active hyperparameters of a trial whose config is ``config``."""
        return self.copy(config).values

    def get_config(self) -> dict:
        return {"space": [hp.get_config() for hp in self._space.values()]}

    @classmethod
    def from_config(cls, config: dict) -> HyperParameters:
        hps = cls()
        for item in config["space"]:
            hp = hyperparameter_from_config(item)
            hps._space[hp.name] = hp
        return hps

    def to_ray_space(self) -> dict[str, Any]:
        """Ray Tune domains for Ray's own searchers (inactive values are ignored by trials)."""
        return {name: hp.to_ray_domain() for name, hp in self._space.items()}

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of active values, conditional branches pruned, in a stable order.

        Raises:
            ValueError: if a hyperparameter has no finite list of values (a Float without step).
        """
        for hp in self._space.values():
            values = hp.values_list()
            if values is None:
                raise ValueError(
                    f"Grid search needs a finite list of values, but '{hp.name}' is {hp!r}; "
                    "give it a `step` or make it a Choice."
                )
            if len(values) > MAX_GRID_VALUES:
                raise ValueError(
                    f"Grid search over '{hp.name}' would enumerate more than {MAX_GRID_VALUES} "
                    "values; give it a larger `step`."
                )
        points: list[dict[str, Any]] = [{}]
        for name, hp in self._space.items():
            grown = []
            for point in points:
                probe = self.copy(point)
                if probe.is_active(hp):
                    grown.extend({**point, name: v} for v in hp.values_list())
                else:
                    grown.append(point)
            points = grown
        # Keep only the active part of each point; different inactive paths may coincide.
        unique: dict[tuple, dict[str, Any]] = {}
        for point in points:
            active = self.active_values(point)
            unique.setdefault(self.config_key(active), active)
        return list(unique.values())

    @staticmethod
    def config_key(values: dict[str, Any]) -> tuple:
        """A hashable key of a configuration: equal configurations, equal keys (values are
        compared by ``repr``, so ``1`` and ``1.0`` differ, as they do for Keras).

        Example:
            >>> HyperParameters.config_key({"b": 1, "a": "relu"})
            (('a', "'relu'"), ('b', '1'))
        """
        return tuple(sorted((k, repr(v)) for k, v in values.items()))

    def __repr__(self) -> str:
        return f"HyperParameters({self.space!r})"


_TYPES: dict[str, type[HyperParameter]] = {
    cls.type_name: cls for cls in (Int, Float, Choice, Boolean, Fixed)
}


def hyperparameter_from_config(config: dict) -> HyperParameter:
    """Rebuild a hyperparameter from :meth:`HyperParameter.get_config`."""
    config = dict(config)
    cls = _TYPES[config.pop("type")]
    sets = config.pop("condition_sets", [[]])
    name = config.pop("name")
    if cls is Fixed:
        hp: HyperParameter = Fixed(name, config["value"])
    elif cls is Boolean:
        hp = Boolean(name, default=config["default"])
    elif cls is Choice:
        hp = Choice(name, config["values"], ordered=config["ordered"], default=config["default"])
    else:
        hp = cls(name, config["min_value"], config["max_value"], step=config["step"],
                 sampling=config["sampling"], default=config["default"])
    hp.condition_sets = [
        tuple(Condition(c["parent_name"], tuple(c["values"])) for c in cs) for cs in sets
    ]
    return hp


def space_summary(hyperparameters: Sequence[HyperParameter]) -> str:
    """Keras Tuner's ``search_space_summary`` text: each hyperparameter with its domain."""
    lines = ["Search space summary", f"Default search space size: {len(hyperparameters)}"]
    for hp in hyperparameters:
        config = {k: v for k, v in hp.get_config().items() if k not in ("name", "class")}
        lines += [f"{hp.name} ({type(hp).__name__})", str(config)]
    return "\n".join(lines)
