"""The numeric hyperparameters ``Int`` and ``Float``: ranges, steps and the three samplings."""

from __future__ import annotations

import math
from typing import Any

from raytune_hpt._checks import is_finite_number, is_number
from raytune_hpt.hyperparameters._types import (
    MAX_GRID_VALUES,
    HyperParameter,
    _discrete_from_unit,
    _discrete_to_unit,
)

__all__ = ["Float", "Int"]

_SAMPLINGS = ("linear", "log", "reverse_log")


class _Numeric(HyperParameter):
    """Shared logic of ``Int`` and ``Float``: ranges, steps and the three samplings."""

    def __init__(self, name, min_value, max_value, step, sampling, default) -> None:
        super().__init__(name, default)
        kind = type(self).__name__
        for label, value in (("min_value", min_value), ("max_value", max_value)):
            if not is_number(value):
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
        elif not is_number(default):
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
            if not is_finite_number(value) or int(value) != value:
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
                # 0.8999999999999999 (0 + 3 * 0.3) as the bound: Optuna would cut it to 0.6.
                high = float(f"{self._values[-1]:.12g}")
                return tune.quniform(self.min_value, high, self.step)
            return tune.choice(list(self._values))
        if self.sampling == "log":
            return tune.loguniform(self.min_value, self.max_value)
        # Ray has no reverse-log domain; trials still snap values into range.
        return tune.uniform(self.min_value, self.max_value)
