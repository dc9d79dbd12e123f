"""Watching a running search from the driver: stop it when going on is pointless.

``SearchGuard`` is both a Ray Tune ``Callback`` (it sees every trial end) and a ``Stopper``
(it can stop the whole experiment). It stops the search when

* a trial shows that the configuration itself is wrong (the objective is never logged):
  one clear error instead of ``max_trials`` identical failures;
* the first trials all fail with the same error and none has succeeded: a bug in the
  user's code, shown once;
* a trial raises a ``FatalError`` (Keras Tuner's rule: ``search()`` raises it again);
* ``max_consecutive_failed`` trials in a row failed (Keras Tuner's
  ``max_consecutive_failed_trials``), ``FailedTrialError`` trials included;
* nothing can happen any more: no trial has run or waited to start for
  :data:`STUCK_SECONDS` while paused trials remain (a scheduler that paused them and will
  never resume them). The search then ends with the results it has, and says so in one line;
  it never waits forever. The package's own HyperBand resumes or stops such trials itself
  (``_ray_compat.aggressive_first_hyperband``); this rule is the backstop for any scheduler.

Otherwise a failed trial is recorded with its error and the search goes on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raytune_hpt._record import TRIAL_ERROR, trial_cause
from raytune_hpt.errors import (
    ConfigurationError,
    NodesNeverCameError,
    SearchAbortedError,
    is_fatal_error,
)
from raytune_hpt.objective import Objective

__all__ = ["STUCK_SECONDS", "SearchGuard"]

logger = logging.getLogger(__name__)

#: How long the search may sit with paused trials and nothing running or waiting to start
#: before it ends (a synchronous scheduler pauses trials for a moment between a rung and
#: their resumption; 10 s is far above that and far below a user's patience).
STUCK_SECONDS = 10.0


def _signature(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


class SearchGuard(Callback, Stopper):
    """Stops the experiment on a configuration or fatal error, or when trials keep failing.

    Args:
        objective: the search's objective (for messages).
        abort_after: stop when this many trials failed, all with the same error, before any
            trial succeeded. ``0`` never stops.
        max_consecutive_failed: stop when this many trials in a row failed (Keras Tuner's
            ``max_consecutive_failed_trials``); ``None`` never stops.
    """

    def __init__(self, objective: Objective, abort_after: int = 3,
                 max_consecutive_failed: int | None = None,
                 stuck_seconds: float = STUCK_SECONDS) -> None:
        self.objective = objective
        self.abort_after = abort_after
        self.max_consecutive_failed = max_consecutive_failed
        self.stuck_seconds = stuck_seconds
        self.fatal: BaseException | None = None
        #: Set when the search ended because nothing could happen any more: (seconds stuck,
        #: paused trials then).
        self.ended_stuck: tuple[float, int] | None = None
        self._errors: list[str] = []
        self._succeeded = 0
        self._in_a_row: list[str] = []
        self._stuck_since: float | None = None

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        """The liveness rule: paused trials with nothing running or waiting for too long."""
        if self.ended_stuck is not None:
            return
        statuses = [t.status for t in trials]
        if "PAUSED" not in statuses or "RUNNING" in statuses or "PENDING" in statuses:
            self._stuck_since = None
            return
        now = time.monotonic()
        self._stuck_since = self._stuck_since or now
        if now - self._stuck_since >= self.stuck_seconds:
            paused = statuses.count("PAUSED")
            self.ended_stuck = (now - self._stuck_since, paused)
            logger.warning(
                "No trial ran or waited to start for %.0f s while %d trial(s) stayed paused "
                "(the scheduler will not resume them): the search ends here, each paused "
                "trial with its results so far.", self.stuck_seconds, paused)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        failed = (trial.last_result or {}).get(TRIAL_ERROR)
        if failed:  # a FailedTrialError, reported instead of raised (no retry)
            self._failed(str(failed))
            return
        self._succeeded += 1
        self._in_a_row.clear()

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        cause = trial_cause(trial)
        if isinstance(cause, ConfigurationError) or (cause is not None and is_fatal_error(cause)):
            self._stop(cause)  # Ray would retry it; a fatal error is not worth a retry

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self.fatal is not None:
            return
        cause = trial_cause(trial)
        if isinstance(cause, ConfigurationError) or (cause is not None and is_fatal_error(cause)):
            self._stop(cause)
            return
        self._failed(_signature(cause))

    def _failed(self, signature: str) -> None:
        self._errors.append(signature)
        self._in_a_row.append(signature)
        if (self.abort_after and not self._succeeded and len(self._errors) >= self.abort_after
                and len(set(self._errors)) == 1):
            self._stop(SearchAbortedError(
                f"The first {len(self._errors)} trials all failed with the same error, so the "
                f"search stopped (likely a bug in the model code):\n  {self._errors[0]}\n"
                f"The full traceback is in each trial's error.txt."
            ))
        elif self.max_consecutive_failed and len(self._in_a_row) >= self.max_consecutive_failed:
            self._stop(SearchAbortedError(
                f"{len(self._in_a_row)} trials in a row failed (max_consecutive_failed_trials="
                f"{self.max_consecutive_failed}), so the search stopped. The last error:\n  "
                f"{self._in_a_row[-1]}"
            ))

    def stop(self, error: BaseException) -> None:
        """End the search with ``error``, which :meth:`raise_if_aborted` raises."""
        self._stop(error)

    def _stop(self, error: BaseException) -> None:
        if self.fatal is None:
            logger.error("Stopping the search: %s", error)
            self.fatal = error

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.fatal is not None or self.ended_stuck is not None

    def raise_if_aborted(self) -> None:
        if isinstance(self.fatal, (SearchAbortedError, NodesNeverCameError)) or (
                self.fatal is not None and is_fatal_error(self.fatal)):
            raise self.fatal
        if self.fatal is not None:
            raise ConfigurationError(str(self.fatal)) from self.fatal

    def __getstate__(self) -> dict:
        # Ray pickles the run config into the experiment; errors stay in this process.
        return {"objective": self.objective, "abort_after": self.abort_after,
                "max_consecutive_failed": self.max_consecutive_failed, "fatal": None,
                "stuck_seconds": self.stuck_seconds, "ended_stuck": None,
                "_errors": [], "_succeeded": 0, "_in_a_row": [], "_stuck_since": None}
