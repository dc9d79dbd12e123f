"""The discrete hyperparameters ``Choice``, ``Boolean`` and ``Fixed``: values listed or one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from raytune_hpt.hyperparameters._types import (
    HyperParameter,
    _discrete_from_unit,
    _discrete_to_unit,
    _kind,
    _same_value,
)

__all__ = ["Boolean", "Choice", "Fixed"]


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
