"""Watching a running search from the driver: stop it when going on is pointless.

``SearchGuard`` is both a Ray Tune ``Callback`` (it sees every trial error) and a
``Stopper`` (it can stop the whole experiment). It stops the search when a trial shows that
the configuration itself is wrong (the objective is never logged), so the user sees one
clear error instead of ``max_trials`` identical failures.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raytune_hpt.errors import ConfigurationError
from raytune_hpt.objective import Objective

__all__ = ["SearchGuard"]

logger = logging.getLogger(__name__)


def _cause(trial: Any) -> BaseException | None:
    """The exception a trial raised, read from the driver's copy of its error file."""
    from ray import cloudpickle

    try:
        local = trial.pickled_error_file  # written at once; the storage copy is synced later
        if local and os.path.exists(local):
            with open(local, "rb") as file:
                error = cloudpickle.load(file)
        else:
            error = trial.get_pickled_error()
    except Exception:  # an unreadable error file must not break the search
        return None
    return getattr(error, "cause", None) or error


class SearchGuard(Callback, Stopper):
    """Stops the experiment on a configuration error raised inside a trial."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        self.fatal: BaseException | None = None

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        cause = _cause(trial)
        if isinstance(cause, ConfigurationError) and self.fatal is None:
            logger.error("Stopping the search: %s", cause)
            self.fatal = cause

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.fatal is not None

    def raise_if_aborted(self) -> None:
        if self.fatal is not None:
            raise ConfigurationError(str(self.fatal)) from self.fatal

    def __getstate__(self) -> dict:
        # Ray pickles the run config into the experiment; exceptions stay in this process.
        return {"objective": self.objective, "fatal": None}
