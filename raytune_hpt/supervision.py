"""Watching a running search from the driver: stop it when going on is pointless.

``SearchGuard`` is both a Ray Tune ``Callback`` (it sees every trial end) and a ``Stopper``
(it can stop the whole experiment). It stops the search when

* a trial shows that the configuration itself is wrong (the objective is never logged):
  one clear error instead of ``max_trials`` identical failures;
* the first trials all fail with the same error and none has succeeded: a bug in the
  user's code, shown once.

Otherwise a failed trial is recorded with its error and the search goes on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raytune_hpt import _ray_compat
from raytune_hpt.errors import ConfigurationError, SearchAbortedError
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
            error = _ray_compat.trial_pickled_error(trial)
    except Exception:  # an unreadable error file must not break the search
        return None
    return getattr(error, "cause", None) or error


def _signature(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


class SearchGuard(Callback, Stopper):
    """Stops the experiment on a configuration error or on the same error in every first trial.

    Args:
        objective: the search's objective (for messages).
        abort_after: stop when this many trials failed, all with the same error, before any
            trial succeeded. ``0`` never stops.
    """

    def __init__(self, objective: Objective, abort_after: int = 3) -> None:
        self.objective = objective
        self.abort_after = abort_after
        self.fatal: BaseException | None = None
        self._errors: list[str] = []
        self._succeeded = 0

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._succeeded += 1

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self.fatal is not None:
            return
        cause = _cause(trial)
        if isinstance(cause, ConfigurationError):
            logger.error("Stopping the search: %s", cause)
            self.fatal = cause
            return
        self._errors.append(_signature(cause))
        if (self.abort_after and not self._succeeded and len(self._errors) >= self.abort_after
                and len(set(self._errors)) == 1):
            self.fatal = SearchAbortedError(
                f"The first {len(self._errors)} trials all failed with the same error, so the "
                f"search stopped (likely a bug in the model code):\n  {self._errors[0]}\n"
                f"The full traceback is in each trial's error.txt."
            )
            logger.error("%s", self.fatal)

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.fatal is not None

    def raise_if_aborted(self) -> None:
        if isinstance(self.fatal, SearchAbortedError):
            raise self.fatal
        if self.fatal is not None:
            raise ConfigurationError(str(self.fatal)) from self.fatal

    def __getstate__(self) -> dict:
        # Ray pickles the run config into the experiment; errors stay in this process.
        return {"objective": self.objective, "abort_after": self.abort_after, "fatal": None,
                "_errors": [], "_succeeded": 0}
