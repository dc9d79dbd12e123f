"""Keras Tuner's own objects taken as they are: its ``HyperParameters`` become ours.

``keras_tuner`` stays optional: nothing here imports it; its objects are read through their
public ``space`` and ``get_config()``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["as_hyperparameters"]

_DECLARE = {
    "Int": lambda hp, c: hp.Int(c["name"], c["min_value"], c["max_value"], step=c.get("step"),
                                sampling=c.get("sampling") or "linear", default=c.get("default")),
    "Float": lambda hp, c: hp.Float(c["name"], c["min_value"], c["max_value"],
                                    step=c.get("step"), sampling=c.get("sampling") or "linear",
                                    default=c.get("default")),
    "Choice": lambda hp, c: hp.Choice(c["name"], c["values"], ordered=c.get("ordered"),
                                      default=c.get("default")),
    "Boolean": lambda hp, c: hp.Boolean(c["name"], default=c.get("default") or False),
    "Fixed": lambda hp, c: hp.Fixed(c["name"], c["value"]),
}


def as_hyperparameters(value: Any) -> HyperParameters | None:
    """Ours unchanged, a ``keras_tuner.HyperParameters`` replayed into ours, or None.

    Raises:
        TypeError: anything else, or a Keras Tuner hyperparameter type we do not know.
    """
    if value is None or isinstance(value, HyperParameters):
        return value
    if not hasattr(value, "space") or not hasattr(value, "values"):
        raise TypeError("hyperparameters must be a raytune_hpt.HyperParameters or a "
                        f"keras_tuner.HyperParameters, but got {value!r}.")
    ours = HyperParameters()
    for hp in value.space:
        kind = type(hp).__name__
        if kind not in _DECLARE:
            raise TypeError(f"Keras Tuner hyperparameter type {kind} of '{hp.name}' is not "
                            f"supported; use one of {sorted(_DECLARE)}.")
        config = hp.get_config()
        with contextlib.ExitStack() as scopes:
            for condition in config.get("conditions") or []:
                parent = condition.get("config", condition)
                scopes.enter_context(ours.conditional_scope(parent["name"], parent["values"]))
            _DECLARE[kind](ours, config)
    return ours
