"""The single hyperparameters behind ``hp.Int``, ``hp.Float``, ``hp.Choice``, ``hp.Boolean``
and ``hp.Fixed`` (Keras Tuner keeps them in ``hp_types`` too).

Each type checks its arguments, snaps a value onto its domain and maps itself onto the unit
interval, a finite list of values and a Ray Tune domain.
:class:`~raytune_hpt.hyperparameters.HyperParameters` collects them into a search space, and
:mod:`raytune_hpt.hyperparameters` re-exports them.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_GRID_VALUES",
    "Boolean",
    "Choice",
    "Condition",
    "Fixed",
    "Float",
    "HyperParameter",
    "Int",
    "hyperparameter_from_config",
]

_SAMPLINGS = ("linear", "log", "reverse_log")
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


class _Numeric(HyperParameter):
    """Shared logic of ``Int`` and ``Float``: ranges, steps and the three samplings."""

    def __init__(self, name, min_value, max_value, step, sampling, default) -> None:
        super().__init__(name, default)
        kind = type(self).__name__
        for label, value in (("min_value", min_value), ("max_value", max_value)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{kind} '{name}': {label} must be a number, but got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(
                    f"{kind} '{name}': {label} must be a finite number, but got {value!r}."
                )
        if min_value > max_value:
            raise ValueError(
                f"`min_value <= max_value` must hold, but got min_value={min_value}, "
                f"max_value={max_value} for hyperparameter '{name}'."
            )
        sampling = (sampling or "linear").lower()
        if sampling not in _SAMPLINGS:
            raise ValueError(
                f"sampling must be one of {list(_SAMPLINGS)}, but got {sampling!r} "
                f"for hyperparameter '{name}'."
            )
        if sampling != "linear" and min_value <= 0:
            raise ValueError(
                f"`min_value > 0` must hold for sampling={sampling!r}, but got "
                f"min_value={min_value} for hyperparameter '{name}'."
            )
        if step is not None and (isinstance(step, bool) or not step > 0):
            raise ValueError(
                f"`step > 0` must hold, but got step={step!r} for hyperparameter '{name}'."
            )
        if sampling != "linear" and step is not None and step <= 1:
            raise ValueError(
                f"With sampling={sampling!r}, step is a multiplying factor and `step > 1` must "
                f"hold, but got step={step!r} for hyperparameter '{name}'."
            )
        self.min_value, self.max_value = min_value, max_value
        self.step, self.sampling = step, sampling
        self._values = self._enumerate() if step is not None else None
        if default is None:
            self.default = self._cast(min_value)
        elif isinstance(default, bool) or not isinstance(default, numbers.Real):
            raise TypeError(f"{kind} '{name}': default must be a number, but got {default!r}.")
        elif not (min_value <= default <= max_value):
            raise ValueError(
                f"`min_value <= default <= max_value` must hold, but got default={default!r} "
                f"with [{min_value}, {max_value}] for hyperparameter '{name}'."
            )

    def _cast(self, value: float) -> Any:
        return value

    def _enumerate(self) -> list:
        values, value, tolerance = [], self.min_value, 1e-9 * max(1.0, abs(self.max_value))
        while value <= self.max_value + tolerance and len(values) <= MAX_GRID_VALUES:
            values.append(value)
            if self.sampling == "linear":
                value = self.min_value + len(values) * self.step
            else:
                value = self.min_value * self.step ** len(values)
        if self.sampling == "reverse_log":
            # Keras Tuner mirrors the log grid so that it is dense near max_value:
            # max_value + min_value - min_value * step**k, here in increasing order.
            values = [self.max_value + self.min_value - v for v in reversed(values)]
        return [self._cast(v) for v in values]

    def values_list(self) -> list | None:
        return list(self._values) if self._values is not None else None

    def _continuous_from_unit(self, unit: float) -> float:
        lo, hi, unit = self.min_value, self.max_value, min(max(unit, 0.0), 1.0)
        if self.sampling == "linear":
            return lo + unit * (hi - lo)
        log_lo, log_hi = math.log(lo), math.log(hi)
        if self.sampling == "log":
            value = math.exp(log_lo + unit * (log_hi - log_lo))
        else:
            value = hi + lo - math.exp(log_lo + (1.0 - unit) * (log_hi - log_lo))
        # exp(log(x)) is not always x: keep the endpoints exact and never leave the range.
        return min(max(value, lo), hi)

    def _continuous_to_unit(self, value: float) -> float:
        lo, hi = self.min_value, self.max_value
        value = min(max(float(value), lo), hi)
        if hi == lo:
            return 0.5
        if self.sampling == "linear":
            return (value - lo) / (hi - lo)
        log_lo, log_hi = math.log(lo), math.log(hi)
        if self.sampling == "log":
            return (math.log(value) - log_lo) / (log_hi - log_lo)
        return 1.0 - (math.log(max(hi + lo - value, lo)) - log_lo) / (log_hi - log_lo)

    def from_unit(self, unit: float) -> Any:
        if self._values is not None:
            return _discrete_from_unit(self._values, unit)
        return self._cast(self._continuous_from_unit(unit))

    def to_unit(self, value: Any) -> float:
        if self._values is not None:
            nearest = min(range(len(self._values)), key=lambda i: abs(self._values[i] - value))
            return _discrete_to_unit(nearest, len(self._values))
        return self._continuous_to_unit(value)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            min_value=self.min_value, max_value=self.max_value, step=self.step,
            sampling=self.sampling,
        )
        return config


class Int(_Numeric):
    """An integer in ``[min_value, max_value]`` (both inclusive), Keras Tuner's ``hp.Int``.

    With linear sampling and no step every integer is allowed; ``step`` keeps
    ``min_value + k * step``. With log sampling ``step`` is a factor: ``min_value * step**k``.
    """

    type_name = "int"

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None):
        checked = (("min_value", min_value), ("max_value", max_value), ("step", step),
                   ("default", default))
        for label, value in checked:
            if value is None:
                continue
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not math.isfinite(value) or int(value) != value):
                raise TypeError(f"Int '{name}': {label} must be an integer, but got {value!r}.")
        # Plain ints, so that numpy integers do not leak into configs and results.
        min_value, max_value = int(min_value), int(max_value)
        step = int(step) if step is not None else None
        default = int(default) if default is not None else None
        if step is None and (sampling or "linear") == "linear":
            step = 1
        super().__init__(name, min_value, max_value, step, sampling, default)

    def _cast(self, value: float) -> int:
        return int(round(value))

    def to_ray_domain(self) -> Any:
        from ray import tune

        if self._values is None:  # log sampling without a factor
            return tune.lograndint(self.min_value, self.max_value + 1)
        if self.sampling == "linear" and self.step == 1:
            return tune.randint(self.min_value, self.max_value + 1)
        if self.sampling == "linear" and self.min_value % self.step == 0:
            return tune.qrandint(self.min_value, self._values[-1], self.step)
        return tune.choice(list(self._values))


class Float(_Numeric):
    """A float in ``[min_value, max_value]``, Keras Tuner's ``hp.Float``.

    ``sampling`` is ``"linear"``, ``"log"`` or ``"reverse_log"`` (dense near ``max_value``).
    """

    type_name = "float"

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None):
        super().__init__(name, min_value, max_value, step, sampling, default)
        # Plain floats, as in Keras Tuner (and no numpy scalars in configs and results).
        self.min_value, self.max_value = float(self.min_value), float(self.max_value)
        self.step = float(self.step) if self.step is not None else None
        self.default = float(self.default)

    def _cast(self, value: float) -> float:
        return float(value)

    def to_ray_domain(self) -> Any:
        from ray import tune

        if self._values is not None:
            ratio = self.min_value / self.step
            if self.sampling == "linear" and abs(ratio - round(ratio)) < 1e-9:
                return tune.quniform(self.min_value, self._values[-1], self.step)
            return tune.choice(list(self._values))
        if self.sampling == "log":
            return tune.loguniform(self.min_value, self.max_value)
        # Ray has no reverse-log domain; trials still snap values into range.
        return tune.uniform(self.min_value, self.max_value)


class Choice(HyperParameter):
    """One of ``values``, all of one type (int, float, str or bool), Keras Tuner's ``hp.Choice``."""

    type_name = "choice"

    def __init__(self, name, values, ordered=None, default=None):
        super().__init__(name, default)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"Choice '{name}': `values` must be a non-empty list, but got {values!r}."
            )
        kinds = {_kind(v) for v in values}
        if len(kinds) != 1 or None in kinds:
            raise TypeError(
                f"Choice '{name}': all values must be of one type among int, float, str and bool, "
                f"but got {list(values)!r}."
            )
        self.values = list(values)
        numeric = kinds <= {"int", "float"}
        self.ordered = numeric if ordered is None else bool(ordered)
        if self.ordered and not numeric:
            raise ValueError(
                f"Choice '{name}': `ordered=True` needs numeric values, got {self.values!r}."
            )
        if default is None:
            self.default = self.values[0]
        elif not any(_same_value(default, v) for v in self.values):
            raise ValueError(
                f"Choice '{name}': default must be one of {self.values!r}, but got {default!r}."
            )

    def _index(self, value: Any) -> int:
        for i, v in enumerate(self.values):
            if _same_value(value, v):
                return i
        if self.ordered and isinstance(value, (int, float)):
            return min(range(len(self.values)), key=lambda i: abs(self.values[i] - value))
        raise ValueError(f"Choice '{self.name}': {value!r} is not one of {self.values!r}.")

    def values_list(self) -> list:
        return list(self.values)

    def to_unit(self, value: Any) -> float:
        return _discrete_to_unit(self._index(value), len(self.values))

    def from_unit(self, unit: float) -> Any:
        return _discrete_from_unit(self.values, unit)

    def snap(self, value: Any) -> Any:
        if hasattr(value, "item"):  # numpy scalars from a searcher
            value = value.item()
        return self.values[self._index(value)]

    def to_ray_domain(self) -> Any:
        from ray import tune

        return tune.choice(list(self.values))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(values=list(self.values), ordered=self.ordered)
        return config


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


class Boolean(Choice):
    """``True`` or ``False``, Keras Tuner's ``hp.Boolean``."""

    type_name = "boolean"

    def __init__(self, name, default=False):
        if not isinstance(default, bool):
            raise TypeError(
                f"Boolean '{name}': default must be True or False, but got {default!r}."
            )
        super().__init__(name, [False, True], ordered=False, default=default)

    def get_config(self) -> dict:
        config = HyperParameter.get_config(self)
        return config


class Fixed(HyperParameter):
    """A constant that is recorded with the trial, Keras Tuner's ``hp.Fixed``."""

    type_name = "fixed"

    def __init__(self, name, value):
        if _kind(value) is None:
            raise TypeError(
                f"Fixed '{name}': value must be an int, float, str or bool, but got {value!r}."
            )
        super().__init__(name, value)
        self.value = value

    def values_list(self) -> list:
        return [self.value]

    def to_unit(self, value: Any) -> float:
        return 0.5

    def from_unit(self, unit: float) -> Any:
        return self.value

    def snap(self, value: Any) -> Any:
        return self.value

    def to_ray_domain(self) -> Any:
        return self.value

    def get_config(self) -> dict:
        config = super().get_config()
        config["value"] = self.value
        return config


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
