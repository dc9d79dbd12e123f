"""Hyperparameters a ``run_trial`` override declares while it runs, added to the search space.

Keras Tuner discovers such hyperparameters lazily: the first trial that meets one uses its
default, later trials tune it. :class:`SpaceGrowth` (a driver-side Ray Tune callback) reads
what each trial declared from its reports and merges it into the space the searcher
samples from; a searcher with ``add_hyperparameters(hps)`` is told as well.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ray.tune import Callback

from raytune_hpt._record import DECLARED_HPS
from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["SpaceGrowth"]

logger = logging.getLogger(__name__)


class SpaceGrowth(Callback):
    """Grows ``space`` (the searcher's own object) with what trials declare."""

    def __init__(self, space: HyperParameters, searcher: Any) -> None:
        self.space, self.searcher = space, searcher

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        declared = result.get(DECLARED_HPS)
        if not declared:
            return
        new = HyperParameters.from_config(json.loads(declared))
        added = [hp for hp in new.space if hp.name not in {h.name for h in self.space.space}]
        if not added:
            return
        self.space.merge(new)
        grow = getattr(self.searcher, "add_hyperparameters", None)
        if callable(grow):
            grow(added)
        logger.info("Trial %s declared %s; later trials tune them.", trial.trial_id,
                    ", ".join(hp.name for hp in added))

    def __getstate__(self) -> dict:
        return {"space": self.space, "searcher": None}
