"""Keras Tuner-compatible hyperparameters and the search space they describe (driver and worker).

``HyperParameters`` (``_space.py``) is the space and the ``hp`` a model builder calls;
the single types ``Int``, ``Float`` (``_numeric.py``), ``Choice``, ``Boolean`` and ``Fixed``
(``_discrete.py``) on their base ``HyperParameter`` (``_types.py``) each map themselves onto
the unit interval, a finite grid and a Ray Tune domain.
"""

from __future__ import annotations

from raytune_hpt.hyperparameters._discrete import Boolean, Choice, Fixed
from raytune_hpt.hyperparameters._numeric import Float, Int
from raytune_hpt.hyperparameters._space import (
    HyperParameters,
    hyperparameter_from_config,
    space_summary,
)
from raytune_hpt.hyperparameters._types import MAX_GRID_VALUES, Condition, HyperParameter

__all__ = [
    "MAX_GRID_VALUES",
    "Boolean",
    "Choice",
    "Condition",
    "Fixed",
    "Float",
    "HyperParameter",
    "HyperParameters",
    "Int",
    "hyperparameter_from_config",
    "space_summary",
]
