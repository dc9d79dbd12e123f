"""A configuration's identity for "already tried", shared by the searchers and warm starts."""

from __future__ import annotations

from typing import Any

from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["point_key"]


def point_key(point: dict[str, Any]) -> tuple:
    """A configuration's identity for "already tried": ``HyperParameters.config_key`` with
    floats to 12 significant digits (one read back from results may differ in its last bits)."""
    return HyperParameters.config_key(
        {k: float(f"{v:.12g}") if isinstance(v, float) else v for k, v in point.items()})
