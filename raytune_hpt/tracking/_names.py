"""What every tracker names the same way: a reported metric's series, a trial's run name."""

from __future__ import annotations

import re
from typing import Any

from raytune_hpt._checks import is_number
from raytune_hpt._record import EPOCH
from raytune_hpt.hyperparameters import Fixed, HyperParameters
from raytune_hpt.objective import COST_METRICS
from raytune_hpt.results import is_metric_key

__all__ = ["FOLD", "metric_series", "run_name"]

FOLD = re.compile(r"^(fold\d+)/(.+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]+")


def metric_series(key: str, value: Any) -> tuple[str, str] | None:
    """``(group, tag)`` for a reported metric, as Keras's TensorBoard callback names it.

    ``loss`` -> ``("train", "epoch_loss")``, ``val_loss`` -> ``("validation", "epoch_loss")``,
    ``fold0/val_loss`` -> ``("validation", "fold0/epoch_loss")``, the model's costs in their
    own run, ``params`` -> ``("model", "params")``; ``None`` for bookkeeping and non-numbers.
    """
    if key == EPOCH or not is_metric_key(key):
        return None
    if not is_number(value):
        return None
    prefix, name = "", key
    fold = FOLD.match(key)
    if fold:
        prefix, name = fold.group(1) + "/", fold.group(2)
    if name.startswith("val_"):
        return "validation", f"{prefix}epoch_{name[4:]}"
    if name in COST_METRICS:  # not a training series: one value, repeated every epoch
        return "model", f"{prefix}{name}"
    return "train", f"{prefix}epoch_{name}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)[:16]


def run_name(trial_id: str, values: dict[str, Any], space: HyperParameters,
             max_hps: int = 4) -> str:
    """A readable run name: the trial id, then the first hyperparameters that vary."""
    varying = [hp.name for hp in space.space if not isinstance(hp, Fixed)]
    parts = [f"{name}={_short(values[name])}" for name in varying if name in values][:max_hps]
    name = "_".join([trial_id, ",".join(parts)]) if parts else trial_id
    return _UNSAFE.sub("-", name)[:120]
