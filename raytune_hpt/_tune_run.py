"""Assembling and running one ``ray.tune.Tuner`` for a ``raytune_hpt.Tuner`` (driver side).

The run config (loggers, trackers, the guard, checkpoints kept), the tune config (searcher,
scheduler, trials, concurrency), resuming an experiment that exists, and the metadata file
(``raytune_hpt.json``) written beside Ray's own files.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from raytune_hpt import _ray_compat, storage
from raytune_hpt._ray_session import scoped_environ
from raytune_hpt.resources import trials_that_fit
from raytune_hpt.results import METADATA_FILE

__all__ = ["metadata", "run_experiment", "write_metadata"]

logger = logging.getLogger(__name__)


def run_experiment(tuner: Any, trainable: Any, searcher: Any, scheduler: Any,
                   max_concurrent: int | None, epochs: int) -> Any:
    """Assemble one ``ray.tune.Tuner`` (or restore it) and run it to the end."""
    import ray
    from ray import tune

    from raytune_hpt._pareto_search import tune_metric
    from raytune_hpt.supervision import SearchGuard

    guard = SearchGuard(tuner.objective,
                        max_consecutive_failed=tuner.max_consecutive_failed_trials)
    num_samples = (min(tuner.max_trials, len(searcher)) if hasattr(searcher, "__len__")
                   else tuner.max_trials)
    tune_config = tune.TuneConfig(
        search_alg=searcher, scheduler=scheduler, num_samples=num_samples,
        **tune_metric(tuner.objective), reuse_actors=True,
        max_concurrent_trials=max_concurrent,
    )
    run_config = _run_config(tuner, guard, searcher, epochs)
    if getattr(scheduler, "keeps_every_checkpoint", False):  # PBT: donors' stay readable
        run_config.checkpoint_config.num_to_keep = None
    ray_tuner = _resume_or_create(tuner, trainable, tune_config, run_config, epochs)
    # Ray starts one trial at a time for a custom searcher (it waits for each trial's
    # resources before asking for the next); every trial that fits starts at once.
    pending = max_concurrent or trials_that_fit(tuner.resources.to_ray(),
                                                ray.cluster_resources())
    try:
        # Below verbose=2 Ray's output engine is replaced by our console; the new engine
        # prints its configuration box and paths even when silent, the old one does not.
        quiet = {"RAY_AIR_NEW_OUTPUT": "0"} if tuner.verbose < 2 else {}
        with scoped_environ({"TUNE_MAX_PENDING_TRIALS_PG": str(pending)}, quiet):
            grid = ray_tuner.fit()
    except RuntimeError:
        # When the guard stops the search while a trial is still pending (no folder
        # yet), Ray fails to build its ResultGrid; the guard's reason is the real error.
        guard.raise_if_aborted()
        raise
    guard.raise_if_aborted()
    return grid


def _run_config(tuner: Any, guard: Any, searcher: Any, epochs: int) -> Any:
    from ray import tune

    return tune.RunConfig(
        name=tuner.name,
        storage_path=tuner.storage_path,
        callbacks=_callbacks(tuner, guard, searcher, epochs),
        stop=guard,
        failure_config=tune.FailureConfig(max_failures=tuner.max_failures),
        checkpoint_config=tune.CheckpointConfig(
            # The best two epochs' checkpoints and the latest are kept. With one, Ray
            # snapshots the whole experiment at every checkpoint (quadratic in trials).
            num_to_keep=2, checkpoint_score_attribute=tuner.objective.name,
            checkpoint_score_order=tuner.objective.mode,
        ),
        # verbose=1: our console (tracking's ConsoleReporter); 2: Ray's own reporter too
        verbose=tuner.verbose if tuner.verbose >= 2 else 0,
    )


def _callbacks(tuner: Any, guard: Any, searcher: Any, epochs: int) -> list:
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    from raytune_hpt._space_growth import SpaceGrowth
    from raytune_hpt.tracking import ConsoleReporter, tracking_callbacks

    trackers = tracking_callbacks(tuner.tracking, space=tuner.space, objective=tuner.objective,
                                  experiment_path=tuner.experiment_path)
    growth = [SpaceGrowth(tuner.space, searcher)] if tuner.has_custom_run_trial() else []
    console = ([ConsoleReporter(tuner.objective, tuner.max_trials, epochs)]
               if tuner.verbose == 1 else [])
    return [CSVLoggerCallback(), JsonLoggerCallback(), *trackers, *growth, *console, guard]


def metadata(tuner: Any, epochs: int) -> dict[str, Any]:
    return {
        "objective": tuner.objective.to_dict(),
        "space": tuner.space.get_config() if tuner.space else {"space": []},
        "searcher": (tuner.searcher if isinstance(tuner.searcher, (str, dict))
                     else type(tuner.searcher).__name__),
        "scheduler": (tuner.scheduler if isinstance(tuner.scheduler, (str, dict))
                      else type(tuner.scheduler).__name__),
        "max_trials": tuner.max_trials,
        "epochs": epochs,
        "resources": tuner.resources.to_ray(),
        "workers_per_trial": tuner.workers_per_trial,
        "seed": tuner.seed,
    }


def _resume_or_create(
    tuner: Any, trainable: Any, tune_config: Any, run_config: Any, epochs: int
) -> Any:
    from ray import tune

    path = tuner.experiment_path
    if storage.exists(path) and tuner.overwrite:
        delete_experiment(path)
    if storage.exists(path) and tune.Tuner.can_restore(path):
        check_written_by_package(path)
        write_metadata(tuner, epochs, ended=False)  # running again
        logger.info("Resuming the experiment at %s (overwrite=True starts afresh).", path)
        restored = tune.Tuner.restore(path, trainable, resume_errored=True)
        # The restored run keeps its searcher and scheduler state; the callbacks and the
        # guard are this process's and must be given again.
        restored_config = _ray_compat.restored_run_config(restored)
        restored_config.callbacks, restored_config.stop = run_config.callbacks, run_config.stop
        return restored
    storage.write_text(storage.join(path, METADATA_FILE),
                       json.dumps(metadata(tuner, epochs), indent=2, default=str))
    for name, text in tuner.attachments.items():
        storage.write_text(storage.join(path, name), text)
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def write_metadata(tuner: Any, epochs: int, ended: bool = False) -> None:
    """(Re)write ``raytune_hpt.json``: at the end it holds the space trials grew, and
    ``"ended": true`` (readers then show a trial HyperBand left paused as stopped)."""
    data = {**metadata(tuner, epochs), **({"ended": True} if ended else {})}
    storage.write_text(storage.join(tuner.experiment_path, METADATA_FILE),
                       json.dumps(data, indent=2, default=str))


def check_written_by_package(path: str) -> None:
    """Resuming restores pickled state (code): only a folder this package wrote."""
    from raytune_hpt.errors import ConfigurationError

    if not storage.exists(storage.join(path, METADATA_FILE)):
        raise ConfigurationError(
            f"{path} was not written by raytune_hpt (it has no {METADATA_FILE}); resuming "
            "a folder restores pickled state from it, which runs code, so only folders this "
            "package wrote are resumed. Choose another name, or overwrite=True to delete it "
            "(only a raytune_hpt experiment is ever deleted)."
        )


def delete_experiment(path: str) -> None:
    """``overwrite=True``: delete ``path``, but only if it holds a raytune_hpt experiment."""
    from raytune_hpt.errors import ConfigurationError

    if not storage.list_dir(path):
        return  # an empty folder: nothing to delete
    if not storage.exists(storage.join(path, METADATA_FILE)):
        raise ConfigurationError(
            f"overwrite=True deletes only a raytune_hpt experiment, but {path} has no "
            f"{METADATA_FILE}; it is left as it is. Choose another name or storage_path."
        )
    storage.delete(path)
