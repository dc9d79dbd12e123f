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
  (``_ray_compat.aggressive_first_hyperband``); this rule is the backstop for any scheduler;
* the time budget (``max_time``, :class:`~raytune_hpt.driver._budget.SearchClock`) is spent:
  every trial stops at its next report (an epoch boundary: the epoch is kept), and once the
  trials that were running then have all ended, the search ends; trials that had not
  started never start.

Otherwise a failed trial is recorded with its error and the search goes on.

Who is to blame for a failure is the one rule of ``_node_wait.failure_kind``: a trial that
ran out of memory did it to itself (failed for the searcher; here: not taken for a bug in
the user's code), a node lost to the cluster did not.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from raytune_hpt._record import TRIAL_ERROR, trial_cause
from raytune_hpt.driver._budget import SearchClock, clock_text
from raytune_hpt.driver._node_wait import failure_kind
from raytune_hpt.errors import (
    OUT_OF_MEMORY,
    ConfigurationError,
    NodesNeverCameError,
    SearchAbortedError,
    is_fatal_error,
)
from raytune_hpt.objective import Objective

__all__ = ["STUCK_SECONDS", "SearchGuard"]

logger = logging.getLogger(__name__)

#: The guard of the search running in this process, by experiment path. Ray saves the
#: stopper with the experiment and, on resume, stops trials with that saved copy instead of
#: the one given to the restored run: the copy answers with the live guard's decisions.
_LIVE: weakref.WeakValueDictionary[str, SearchGuard] = weakref.WeakValueDictionary()

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
        clock: this run's start and time budget (None: no budget).
    """

    # defaults for a guard Ray saved before these existed (it is unpickled on resume)
    clock: SearchClock | None = None
    _key: str | None = None
    _finishing: set[str] | None = None

    def __init__(self, objective: Objective, abort_after: int = 3,
                 max_consecutive_failed: int | None = None,
                 stuck_seconds: float = STUCK_SECONDS,
                 clock: SearchClock | None = None) -> None:
        self.objective = objective
        self.clock = clock
        self._key = clock.experiment_path if clock is not None else None
        if self._key is not None:
            _LIVE[self._key] = self
        #: The trials running when the budget was found spent, until each has ended.
        self._finishing: set[str] | None = None
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
        """The liveness rule: paused trials with nothing running or waiting for too long;
        the time budget."""
        if self._finishing is None and self.clock is not None and self.clock.over():
            self._budget_spent(trials)
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

    def _budget_spent(self, trials: list) -> None:
        clock = self.clock
        if clock is None:
            return
        clock.ended_by_budget = True
        self._finishing = {t.trial_id for t in trials if t.status == "RUNNING"}
        left = sum(1 for t in trials if t.status in ("PENDING", "PAUSED"))
        logger.warning(
            "The time budget (max_time=%s) is spent after %s: %s; no other trial starts%s.",
            clock_text(clock.max_time or 0.0), clock_text(clock.elapsed()),
            (f"the {len(self._finishing)} running trial(s) end at their next epoch"
             if self._finishing else "no trial is running"),
            f" ({left} pending or paused trial(s) stay as they are)" if left else "")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self._finishing is not None:
            self._finishing.discard(trial.trial_id)
        failed = (trial.last_result or {}).get(TRIAL_ERROR)
        if failed:  # a FailedTrialError (or out of memory), reported instead of raised
            self._failed(str(failed), not str(failed).startswith(OUT_OF_MEMORY))
            return
        self._succeeded += 1
        self._in_a_row.clear()

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        cause = trial_cause(trial)
        if isinstance(cause, ConfigurationError) or (cause is not None and is_fatal_error(cause)):
            self._stop(cause)  # Ray would retry it; a fatal error is not worth a retry

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self._finishing is not None:
            self._finishing.discard(trial.trial_id)
        if self.fatal is not None:
            return
        cause = trial_cause(trial)
        if isinstance(cause, ConfigurationError) or (cause is not None and is_fatal_error(cause)):
            self._stop(cause)
            return
        self._failed(_signature(cause), failure_kind(cause) != "out_of_memory")

    def _failed(self, signature: str, maybe_a_bug: bool = True) -> None:
        """A failed trial; ``maybe_a_bug`` False (out of memory: the trial's size) keeps it
        out of the "the first trials all failed the same way" rule."""
        if maybe_a_bug:
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

    def _live(self) -> SearchGuard:
        """The guard of the run in progress (self, unless this is Ray's restored copy)."""
        live = _LIVE.get(self._key) if self._key is not None else None
        return live if live is not None else self

    def __call__(self, trial_id: str, result: dict) -> bool:
        """A trial stops at this report (its epoch kept) once the time budget is spent."""
        live = self._live()
        if live is not self:
            return live(trial_id, result)
        return self.clock is not None and self.clock.over()

    def stop_all(self) -> bool:
        live = self._live()
        if live is not self:
            return live.stop_all()
        budget_done = self._finishing is not None and not self._finishing
        return self.fatal is not None or self.ended_stuck is not None or budget_done

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
                "clock": None, "_finishing": None, "_key": self._key,
                "_errors": [], "_succeeded": 0, "_in_a_row": [], "_stuck_since": None}
