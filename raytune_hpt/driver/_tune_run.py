"""Assembling and running one ``ray.tune.Tuner`` for a search (driver side).

The run config (loggers, trackers, the guard, checkpoints kept), the tune config (searcher,
scheduler, trials, concurrency, the metric: none for a Pareto objective, whose searcher is
given the lists), resuming an experiment that exists, and the metadata file
(``raytune_hpt.json``) written beside Ray's own files. Everything is read from one
:class:`SearchRun`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from raytune_hpt import _ray_compat, storage
from raytune_hpt._record import METADATA_FILE
from raytune_hpt._secrets import redact
from raytune_hpt.driver._ray_session import scoped_environ, trial_actors_on_warm_workers
from raytune_hpt.driver._run import SearchRun
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.resources import trials_that_fit
from raytune_hpt.tracking import tracking_callbacks

__all__ = ["check_written_by_package", "delete_experiment", "metadata", "run_experiment",
           "write_metadata"]

logger = logging.getLogger(__name__)


def run_experiment(run: SearchRun, trainable: Any, searcher: Any, scheduler: Any,
                   max_concurrent: int | None) -> Any:
    """Assemble one ``ray.tune.Tuner`` (or restore it) and run it to the end."""
    from ray import tune

    from raytune_hpt.driver._diverged import worst_for_diverged  # imports Ray
    from raytune_hpt.driver._keep_models import keep_models_callback  # imports Ray
    from raytune_hpt.driver._node_wait import failure_kind, lost_nodes_forgiven  # imports Ray
    from raytune_hpt.driver._space_growth import until_declared  # imports Ray
    from raytune_hpt.driver._supervision import SearchGuard  # imports Ray

    settings = run.settings
    guard = SearchGuard(settings.objective,
                        max_consecutive_failed=settings.max_consecutive_failed_trials,
                        clock=run.clock)
    num_samples = (min(settings.max_trials, len(searcher)) if hasattr(searcher, "__len__")
                   else settings.max_trials)
    if run.custom_trial:  # the space may be empty until run_trial declares it
        searcher = until_declared(searcher, run.space)
    if getattr(scheduler, "keeps_every_checkpoint", False):
        max_concurrent = None  # PBT: its whole population at once (a lower cap is refused)
    tune_config = tune.TuneConfig(
        search_alg=worst_for_diverged(searcher), scheduler=scheduler, num_samples=num_samples,
        **settings.objective.ray_metric(), reuse_actors=True,
        max_concurrent_trials=max_concurrent,
    )
    run_config = _run_config(run, guard, searcher)
    if getattr(scheduler, "keeps_every_checkpoint", False):  # PBT: donors' stay readable
        run_config.checkpoint_config.num_to_keep = None
    keeper = keep_models_callback(settings, scheduler)  # only the best trials' models stay
    if keeper is not None:
        run_config.callbacks.append(keeper)
    ray_tuner = _resume_or_create(run, trainable, tune_config, run_config)
    # Ray starts one trial at a time for a custom searcher (it waits for each trial's
    # resources before asking for the next); every trial that fits starts at once.
    # Pending trials are also what Ray's autoscaler scales on: as many as the grown
    # cluster holds, so that it adds every node it needs in one step.
    pending = max_concurrent or min(trials_that_fit(run.placed().to_ray(),
                                                    run.planning_totals()), num_samples)
    try:
        # Below verbose=2 Ray's output engine is replaced by our console; the new engine
        # prints its configuration box and paths even when silent, the old one does not.
        quiet = {"RAY_AIR_NEW_OUTPUT": "0"} if settings.verbose < 2 else {}
        with scoped_environ({"TUNE_MAX_PENDING_TRIALS_PG": str(pending)}, quiet), \
                lost_nodes_forgiven(), trial_actors_on_warm_workers(), \
                _ray_compat.memory_kills_fail_trials(  # a worker out of memory: a result
                    lambda error: failure_kind(error) == "out_of_memory"):
            grid = ray_tuner.fit()
    except RuntimeError:
        # When the guard stops the search while a trial is still pending (no folder
        # yet), Ray fails to build its ResultGrid; the guard's reason is the real error.
        guard.raise_if_aborted()
        raise
    guard.raise_if_aborted()
    return grid


def _run_config(run: SearchRun, guard: Any, searcher: Any) -> Any:
    from ray import tune

    settings = run.settings
    return tune.RunConfig(
        name=settings.name,
        storage_path=settings.storage_path,
        callbacks=_callbacks(run, guard, searcher),
        stop=guard,
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
        checkpoint_config=tune.CheckpointConfig(
            # The best two epochs' checkpoints and the latest are kept. With one, Ray
            # snapshots the whole experiment at every checkpoint (quadratic in trials).
            num_to_keep=2, checkpoint_score_attribute=settings.objective.name,
            checkpoint_score_order=settings.objective.direction,
        ),
        # verbose=1: our console (tracking's ConsoleReporter); 2: Ray's own reporter too
        verbose=settings.verbose if settings.verbose >= 2 else 0,
    )


def _callbacks(run: SearchRun, guard: Any, searcher: Any) -> list:
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    from raytune_hpt.driver._node_wait import NodeWait  # imports Ray
    from raytune_hpt.driver._space_growth import SpaceGrowth  # imports Ray
    from raytune_hpt.tracking import ConsoleReporter  # imports Ray

    settings = run.settings
    trackers = tracking_callbacks(settings.tracking, space=run.space,
                                  objective=settings.objective,
                                  experiment_path=settings.experiment_path)
    growth = [SpaceGrowth(run.space, searcher)] if run.custom_trial else []
    console = ([ConsoleReporter(settings.objective, settings.max_trials, run.epochs)]
               if settings.verbose == 1 else [])
    wait = NodeWait(settings.pending_timeout, run.placed().to_ray(), guard.stop)
    return [CSVLoggerCallback(), JsonLoggerCallback(), *trackers, *growth, *console, wait, guard]


def metadata(run: SearchRun) -> dict[str, Any]:
    """What ``raytune_hpt.json`` holds: the objective, the space and the settings that ran."""
    settings = run.settings
    return {
        "objective": settings.objective.to_dict(),
        "space": run.space.get_config() if run.space else {"space": []},
        # option dicts may hold a secret (an API token of a searcher's service): redacted
        "searcher": (redact(settings.searcher) if isinstance(settings.searcher, (str, dict))
                     else type(settings.searcher).__name__),
        "scheduler": (redact(settings.scheduler) if isinstance(settings.scheduler, (str, dict))
                      else type(settings.scheduler).__name__),
        "max_trials": settings.max_trials,
        "epochs": run.epochs,
        "resources": run.placed().to_ray(),
        "workers_per_trial": settings.workers_per_trial,
        "seed": settings.seed,
        "keep_models": settings.keep_models,
        **run.clock.metadata(),  # wall time over every run; "ended_by" a time budget
    }


def _resume_or_create(run: SearchRun, trainable: Any, tune_config: Any, run_config: Any) -> Any:
    from ray import tune

    path = run.experiment_path
    if storage.exists(path) and run.settings.overwrite:
        delete_experiment(path)
    if storage.exists(path) and tune.Tuner.can_restore(path):
        check_written_by_package(path)
        write_metadata(run, ended=False)  # running again
        logger.info("Resuming the experiment at %s (overwrite=True starts afresh).", path)
        restored = tune.Tuner.restore(path, trainable, resume_errored=True)
        # The restored run keeps its searcher and scheduler state; the callbacks and the
        # guard are this process's and must be given again.
        restored_config = _ray_compat.restored_run_config(restored)
        restored_config.callbacks, restored_config.stop = run_config.callbacks, run_config.stop
        _ray_compat.continue_restored(restored, tune_config)  # more trials; after a budget
        return restored
    write_metadata(run)
    for name, text in run.attachments.items():
        storage.write_text(storage.join(path, name), text)
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def write_metadata(run: SearchRun, ended: bool = False) -> None:
    """(Re)write ``raytune_hpt.json``: at the end it holds the space trials grew, and
    ``"ended": true`` (readers then show a trial HyperBand left paused as stopped)."""
    data = {**metadata(run), **({"ended": True} if ended else {})}
    storage.write_text(storage.join(run.experiment_path, METADATA_FILE),
                       json.dumps(data, indent=2, default=str))


def check_written_by_package(path: str) -> None:
    """Resuming restores pickled state (code): only a folder this package wrote."""
    if not storage.exists(storage.join(path, METADATA_FILE)):
        raise ConfigurationError(
            f"{path} was not written by raytune_hpt (it has no {METADATA_FILE}); resuming "
            "a folder restores pickled state from it, which runs code, so only folders this "
            "package wrote are resumed. Choose another name, or overwrite=True to delete it "
            "(only a raytune_hpt experiment is ever deleted)."
        )


def delete_experiment(path: str) -> None:
    """``overwrite=True``: delete ``path``, but only if it holds a raytune_hpt experiment."""
    if not storage.list_dir(path):
        return  # an empty folder: nothing to delete
    if not storage.exists(storage.join(path, METADATA_FILE)):
        raise ConfigurationError(
            f"overwrite=True deletes only a raytune_hpt experiment, but {path} has no "
            f"{METADATA_FILE}; it is left as it is. Choose another name or storage_path."
        )
    storage.delete(path)
