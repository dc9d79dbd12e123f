"""A trial's failed attempt: tried again in the same worker, or the trial ended as failed.

Keras Tuner's rules (a ``FailedTrialError`` fails the trial at once, a fatal error stops the
search) with Ray's in the background: Ray restarts only a worker that died; an error raised
in a trial is retried here, from the trial's last checkpoint, so a retry does not start a
process and import TensorFlow again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from raytune_hpt._record import TRIAL_ERROR, TRIAL_TRACEBACK
from raytune_hpt.errors import (
    OUT_OF_MEMORY,
    ConfigurationError,
    is_failed_trial_error,
    is_fatal_error,
    is_out_of_memory,
)
from raytune_hpt.objective import Objective
from raytune_hpt.worker._spec import TrialSpec

__all__ = ["report_failure", "with_retries"]

logger = logging.getLogger(__name__)


def with_retries(spec: TrialSpec, attempt: Callable[[], None]) -> None:
    """Run one trial's ``attempt``, trying it again in this worker after an error.

    * A ``FailedTrialError`` (ours or Keras Tuner's) ends the trial as failed at once, as
      Keras Tuner does: reported as the trial's last result (``trial_error``), not raised.
    * A fatal error or a configuration error is raised at once (the search stops).
    * Running out of memory (``errors.is_out_of_memory``) ends the trial as failed at once,
      recorded as ``out of memory: ...``: the same values would run out again.
    * Any other error is tried again up to ``spec.retries`` times in this worker, from the
      trial's last checkpoint (Ray's ``get_checkpoint`` follows the trial's reports), so a
      retry does not start a process and import TensorFlow again. When the retries run out
      the trial ends as failed with the error and its traceback reported, so that Ray does
      not retry it a second time; Ray's own retries (``max_failures``) are left for a worker
      that died (killed, out of memory). With no retries the error is raised to Ray, which
      records it as before.
    """
    for tried in range(spec.retries + 1):
        try:
            attempt()
            return
        except Exception as error:
            if is_failed_trial_error(error) and not is_fatal_error(error):
                report_failure(spec.objective, error)
                return
            if is_out_of_memory(error):  # the trial's size, not chance: never retried
                report_failure(spec.objective, error, cause=OUT_OF_MEMORY)
                return
            if (is_fatal_error(error) or isinstance(error, ConfigurationError)
                    or spec.retries <= 0):
                raise
            if tried == spec.retries:
                report_failure(spec.objective, error, attempts=tried + 1,
                               traceback_text=traceback.format_exc())
                return
            logger.warning("Trial attempt %d of %d failed (%s: %s); trying again in this "
                           "worker from its last checkpoint.", tried + 1, spec.retries + 1,
                           type(error).__name__, error)


def report_failure(objective: Objective, error: BaseException, *, attempts: int = 1,
                   traceback_text: str | None = None, cause: str | None = None) -> None:
    """End the trial as failed, without a retry by Ray: its objective NaN, its error
    recorded (``trial_error``, after ``cause``, e.g. ``out of memory``; with the traceback,
    when there is one, under ``trial_traceback``)."""
    from ray import tune

    message = f"{cause + ': ' if cause else ''}{type(error).__name__}: {error}"
    if attempts > 1:
        message += f" (failed {attempts} times in one worker)"
    report = {objective.name: float("nan"), TRIAL_ERROR: message[:2000]}
    if traceback_text:
        report[TRIAL_TRACEBACK] = traceback_text[-20000:]
    tune.report(report)
