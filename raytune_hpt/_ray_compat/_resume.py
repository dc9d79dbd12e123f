"""Private Ray Tune names for continuing a search and for a trial out of memory.

Checked against Ray 2.60.0: a resumed search that asks for more trials, or that a stopper
ended (a time budget), and a worker killed by Ray's memory monitor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["TUNE_INSTANCE_ATTRIBUTES", "TUNE_PRIVATE_NAMES", "memory_kills_fail_trials",
           "restored_tune_config", "search_continued"]

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


def restored_tune_config(restored: Any) -> Any:
    """The ``TuneConfig`` of a ``Tuner.restore``-d tuner (the one pickled by the first run):
    a resume that asks for more trials sets its ``num_samples`` and ``search_alg`` (Ray 2.60's
    restore takes neither)."""
    return restored._local_tuner._tune_config


def search_continued(search: Any, total_samples: int) -> None:
    """Let a restored ``SearchGenerator`` create trials up to ``total_samples`` in all.

    Ray 2.60 restores a search algorithm as the first run saved it: its ``total_samples``
    (``Tuner.restore`` takes no new ``num_samples`` and ``tune.run`` skips
    ``add_configurations`` on resume) and its ``finished`` flag (set when a stopper's
    ``stop_all`` ended the run: a time budget). The trial counter is kept, so only the trials
    beyond it are new."""
    search._total_samples = total_samples
    search._finished = False


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
