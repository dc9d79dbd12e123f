"""Private Ray Tune names for continuing a search and for a trial out of memory.

Checked against Ray 2.60.0: a resumed search that asks for more trials, or that a stopper
ended (a time budget), and a worker killed by Ray's memory monitor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["TUNE_INSTANCE_ATTRIBUTES", "TUNE_PRIVATE_NAMES", "continue_restored",
           "memory_kills_fail_trials"]

#: (module, attribute path) of the private names used below.
TUNE_PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("ray.tune.impl.tuner_internal", "TunerInternal._tune_config"),
    ("ray.tune.search.search_generator", "SearchGenerator._finished"),
    ("ray.tune.search.search_generator", "SearchGenerator._total_samples"),
    ("ray.air.execution._internal.actor_manager", "RayActorManager._actor_task_failed"),
)
#: Those set in ``__init__`` (checked on an instance by the test).
TUNE_INSTANCE_ATTRIBUTES = {"TunerInternal._tune_config", "SearchGenerator._finished",
                            "SearchGenerator._total_samples"}


def continue_restored(restored: Any, tune_config: Any) -> None:
    """Give a ``Tuner.restore``-d tuner this run's trial budget and a search that can go on.

    Ray 2.60 runs a restored experiment as the first run configured it: ``Tuner.restore``
    takes no new ``num_samples`` and ``tune.run`` skips ``add_configurations`` on resume, so
    the search algorithm's saved ``total_samples`` holds (a larger ``max_trials`` trained
    nothing), and so does its ``finished`` flag (set when a stopper's ``stop_all`` ended the
    run: a time budget). The restored ``TuneConfig`` (``TunerInternal._tune_config``) gets
    this run's ``num_samples`` and a ``SearchGenerator`` around the same searcher whose
    restored state takes the new total and forgets ``finished``; the trial counter is kept,
    so only trials beyond it are new. Ray's own generators and PBT's population are left as
    saved."""
    from ray.tune.search import ConcurrencyLimiter, Searcher

    restored_config = restored._local_tuner._tune_config
    restored_config.num_samples = tune_config.num_samples
    search = restored_config.search_alg
    if not isinstance(search, Searcher):
        return
    if restored_config.max_concurrent_trials:  # what Ray does for a Searcher, done here
        search = ConcurrencyLimiter(search, max_concurrent=restored_config.max_concurrent_trials)
        restored_config.max_concurrent_trials = None
    restored_config.search_alg = _resumed_search(search, tune_config.num_samples)


def _resumed_search(searcher: Any, total_samples: int) -> Any:
    from ray.tune.search import SearchGenerator

    class ResumedSearch(SearchGenerator):
        def set_state(self, state: dict) -> None:
            super().set_state(state)
            self._total_samples, self._finished = total_samples, False

    return ResumedSearch(searcher)


@contextlib.contextmanager
def memory_kills_fail_trials(is_memory: Any) -> Iterator[None]:
    """While a search runs: a trial whose worker Ray's memory monitor killed fails that
    trial (and only it), and is not restarted with the same values.

    Ray 2.60's actor manager (``RayActorManager._actor_task_failed``) handles a task's
    ``RayActorError`` and ``RayTaskError`` and raises ``RuntimeError("Caught unexpected
    exception")`` for anything else, and the memory monitor's ``OutOfMemoryError`` is
    neither: one trial running out of memory crashed the search. Here it is passed on as
    the ``RayActorError`` of a dead worker, with Ray's message and the original as its
    ``__cause__``; ``Trial.handle_error`` (which counts the failure before Ray asks
    ``should_recover``) then counts an error ``is_memory`` says is one as the trial's last
    allowed failure. Both are put back on exit.
    """
    from ray.air.execution._internal.actor_manager import RayActorManager
    from ray.exceptions import OutOfMemoryError, RayActorError
    from ray.tune.experiment.trial import Trial

    task_failed, handle_error = RayActorManager._actor_task_failed, Trial.handle_error

    def oom_task_failed(self: Any, tracked_actor_task: Any, exception: Exception) -> None:
        if isinstance(exception, OutOfMemoryError):
            dead = RayActorError(error_msg=f"The trial's worker ran out of memory: {exception}")
            dead.__cause__ = exception
            exception = dead
        task_failed(self, tracked_actor_task, exception)

    def oom_handle_error(self: Any, exc: Any = None) -> None:
        handle_error(self, exc)
        if exc is not None and self.max_failures >= 0 and is_memory(exc):
            self.run_metadata.num_failures = max(self.run_metadata.num_failures,
                                                 self.max_failures + 1)

    RayActorManager._actor_task_failed = oom_task_failed  # type: ignore[method-assign]
    Trial.handle_error = oom_handle_error  # type: ignore[method-assign]
    try:
        yield
    finally:
        RayActorManager._actor_task_failed = task_failed  # type: ignore[method-assign]
        Trial.handle_error = handle_error  # type: ignore[method-assign]
