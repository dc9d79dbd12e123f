"""One ``search()`` in the driver, as a list of named steps over one :class:`Settings`.

Check the data, discover the space by building the model, create the searcher (warm start
included) and the scheduler (PBT bound to the space), connect to Ray (refusing what no node
could hold), put the data in the object store once, assemble and run ``ray.tune.Tuner``, read
the results. A ``run_trial`` override takes the same steps with the user's tuner as the
trainable's payload and a space that grows while trials run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from raytune_hpt import schedulers
from raytune_hpt._checks import check_int
from raytune_hpt.capacity import Capacity
from raytune_hpt.driver import _kept_ray as kept_ray
from raytune_hpt.driver._driver_gpus import keep_gpus_for_trials
from raytune_hpt.driver._ray_session import (
    QUIET_TENSORFLOW,
    check_not_shadowed,
    scoped_environ,
    ship_model_code,
    start_ray,
)
from raytune_hpt.driver._run import SearchRun
from raytune_hpt.driver._search_data import (
    check_dataset_files,
    check_fit_data,
    ship_datasets,
    split_fit_arguments,
)
from raytune_hpt.driver._tune_run import metadata, run_experiment, write_metadata
from raytune_hpt.driver._warm import warm_modules, warm_worker_count
from raytune_hpt.driver._warm_start import prepare as prepare_warm_start
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hypermodel import discover_space, has_custom_fit
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.resources import local_node, settle, trials_that_fit
from raytune_hpt.results import ExperimentResults
from raytune_hpt.schedulers import create_scheduler
from raytune_hpt.searchers import create_searcher
from raytune_hpt.settings import Settings
from raytune_hpt.tracking import absolute_log_dirs
from raytune_hpt.worker import (
    DRIVER_RESOURCES,
    TrialHooks,
    TrialSpec,
    run_distributed_trial,
    run_trial,
    run_user_trial,
)

__all__ = ["fixed_beyond", "search", "search_custom"]

logger = logging.getLogger(__name__)

# Set while a search runs, restored afterwards. We pass the loggers we want (no automatic
# TBX logger); keeping the best two checkpoints makes Ray snapshot the experiment every
# second checkpoint and warn each time, which is our choice, not the user's to act on.
_SEARCH_ENV_DEFAULTS = {
    **QUIET_TENSORFLOW,
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}
_SEARCH_ENV_OVERRIDES = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}


def search(settings: Settings, hypermodel: Any, fit_args: tuple, fit_kwargs: dict[str, Any],
           *, attachments: Mapping[str, str] | None = None,
           on_search_begin: Callable[[], None] = lambda: None,
           trial_hooks: TrialHooks | None = None,
           ) -> tuple[SearchRun, ExperimentResults]:
    """Run a search of ``hypermodel`` with ``fit``-style arguments; the run and its results
    (``trial_hooks``: a Tuner subclass's hooks, called in each trial)."""
    check_not_shadowed()
    x, y, validation_data, epochs, cv = split_fit_arguments(fit_args, fit_kwargs)
    epochs = settings.epochs or epochs
    data = _check_search_input(settings, hypermodel, x, y, validation_data, epochs, cv,
                               fit_kwargs)
    scheduler = create_scheduler(settings.scheduler, epochs=epochs)  # bad max_t fails here
    with scoped_environ(_SEARCH_ENV_DEFAULTS, _SEARCH_ENV_OVERRIDES):
        keep_gpus_for_trials()  # before discovery builds models in this process
        space = _discover_space(settings, hypermodel, x, y, data, validation_data, epochs,
                                fit_kwargs)
        run = SearchRun(settings, hypermodel, space, epochs, settings.resources,
                        attachments=attachments or {})
        searcher = _create_searcher(run)
        scheduler, searcher = _prepare_population(run, scheduler, searcher)
        on_search_begin()
        _connect(run, ship=hypermodel)
        check_dataset_files(data)
        spec = _trial_spec(run, cv, fit_kwargs)
        if trial_hooks is not None:
            ship_model_code(type(trial_hooks.tuner))
            spec.hooks = trial_hooks
        trainable, max_concurrent = _trainable(run, spec, data)
        grid = run_experiment(run, trainable, searcher, scheduler, max_concurrent)
    return run, _finish(run, grid)


def search_custom(settings: Settings, trial_hooks: TrialHooks, space: HyperParameters,
                  fit_args: tuple, fit_kwargs: dict[str, Any], *,
                  attachments: Mapping[str, str] | None = None,
                  on_search_begin: Callable[[], None] = lambda: None,
                  ) -> tuple[SearchRun, ExperimentResults]:
    """Run a search whose trials call ``trial_hooks.tuner.run_trial(trial, *fit_args,
    **fit_kwargs)`` between the tuner's overridden hooks."""
    from ray import tune

    check_not_shadowed()

    if settings.workers_per_trial > 1:
        raise ConfigurationError(
            f"workers_per_trial={settings.workers_per_trial} trains the standard trial on "
            "several Ray Train workers, but this Tuner overrides run_trial, which runs each "
            "trial in one worker; use workers_per_trial=1, or leave run_trial to the Tuner.")
    epochs = settings.epochs or 1
    scheduler = create_scheduler(settings.scheduler, epochs=epochs)
    with scoped_environ(_SEARCH_ENV_DEFAULTS, _SEARCH_ENV_OVERRIDES):
        tuner = trial_hooks.tuner
        run = SearchRun(settings, getattr(tuner, "hypermodel", None), space, epochs,
                        settings.resources, custom_trial=True, attachments=attachments or {})
        searcher = _create_searcher(run)
        scheduler, searcher = _prepare_population(run, scheduler, searcher)
        on_search_begin()
        _connect(run, ship=run.hypermodel)
        ship_model_code(type(tuner))
        args, kwargs = ship_datasets(fit_args, fit_kwargs)
        check_dataset_files({**kwargs, **{f"arg{k}": v for k, v in enumerate(args)}})
        trainable = tune.with_parameters(run_user_trial, hooks=trial_hooks,
                                         spec=_trial_spec(run, None, {}),
                                         args=args, kwargs=kwargs)
        trainable = tune.with_resources(trainable, run.placed().to_ray())
        grid = run_experiment(run, trainable, searcher, scheduler,
                              settings.max_concurrent_trials)
    return run, _finish(run, grid)


def fixed_beyond(space: HyperParameters, declared: HyperParameters | None) -> HyperParameters:
    """``tune_new_entries=False``: what was not declared up front keeps its default (a
    ``Fixed`` hyperparameter)."""
    fixed = declared.copy() if declared is not None else HyperParameters()
    known = {hp.name for hp in fixed.space}
    for hp in space.space:
        if hp.name not in known:
            fixed.Fixed(hp.name, hp.default)
    return fixed.declared_up_front()  # the model's own declarations must not undo these


def _check_search_input(settings: Settings, hypermodel: Any, x: Any, y: Any,
                        validation_data: Any, epochs: Any, cv: Any,
                        fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    check_int("epochs", epochs, 1)
    check_int("cv", cv, 2, optional=True)
    if settings.workers_per_trial > 1 and (cv or has_custom_fit(hypermodel)):
        raise ConfigurationError("workers_per_trial > 1 supports neither cv nor a custom "
                                 "HyperModel.fit; use workers_per_trial=1.")
    return check_fit_data(x, y, validation_data=validation_data, cv=cv, fit_kwargs=fit_kwargs)


def _discover_space(settings: Settings, hypermodel: Any, x: Any, y: Any,
                    data: dict[str, Any], validation_data: Any, epochs: int,
                    fit_kwargs: dict[str, Any]) -> HyperParameters:
    custom_fit = has_custom_fit(hypermodel)
    discovery_args = () if callable(x) and y is None else ((x,) if y is None else (x, y))
    return discover_space(
        hypermodel, settings.hyperparameters, fit_args=discovery_args, sample_x=data.get("x"),
        fit_kwargs={"validation_data": validation_data, "epochs": epochs, **fit_kwargs}
        if custom_fit else None,
    )


def _create_searcher(run: SearchRun) -> Any:
    settings = run.settings
    if not settings.tune_new_entries:
        run.space = fixed_beyond(run.space, settings.hyperparameters)
    warm = prepare_warm_start(run.space, settings.objective, settings.searcher,
                              settings.points_to_evaluate, settings.warm_start,
                              settings.experiment_path, settings.overwrite)
    return create_searcher(settings.searcher, space=run.space,
                           **settings.objective.ray_metric(several=True), seed=settings.seed,
                           max_trials=settings.max_trials, points_to_evaluate=warm.points,
                           evaluated=warm.evaluated)


def _prepare_population(run: SearchRun, scheduler: Any, searcher: Any) -> tuple[Any, Any]:
    """PBT: bound to the space, its population drawn from the searcher (else unchanged)."""
    settings = run.settings
    return schedulers.prepare_population(
        scheduler, searcher, hypermodel=run.hypermodel, space=run.space,
        searcher_spec=settings.searcher, max_trials=settings.max_trials,
        max_concurrent_trials=settings.max_concurrent_trials,
        workers_per_trial=settings.workers_per_trial, seed=settings.seed,
        custom_trial=run.custom_trial)


def _connect(run: SearchRun, ship: Any) -> None:
    """Start or join Ray, refusing first what no node could ever hold."""
    import ray

    settings = run.settings
    if (not ray.is_initialized() and settings.address is None and run.resources != "auto"
            and not os.environ.get("RAY_ADDRESS") and kept_ray.find() is None):
        # The local Ray about to start: refuse what it could never hold before starting it.
        run.placed().check_feasible(settings.workers_per_trial, nodes=[local_node()])
    if not ray.is_initialized():
        start_ray(settings.address, log_to_driver=settings.verbose > 1,
                  verbose=settings.verbose, warm_workers=_trials_at_once_here(run),
                  warm_modules=warm_modules(run.hypermodel is not None))
    run.capacity = Capacity.read()  # the nodes alive and the types the autoscaler can add
    run.resources = settle(run.resources, workers=settings.workers_per_trial,
                           max_concurrent=settings.max_concurrent_trials,
                           max_trials=settings.max_trials, verbose=settings.verbose,
                           capacity=run.capacity)
    ship_model_code(ship)


def _trials_at_once_here(run: SearchRun) -> int:
    """Warm workers for a new local Ray: no more than the trials it can run at once (none
    for GPU or multi-worker trials, whose actors never take a prestarted CPU worker)."""
    settings = run.settings
    cpu, gpu = getattr(run.resources, "cpu", 1.0), getattr(run.resources, "gpu", 0.0)
    if gpu > 0 or settings.workers_per_trial > 1:
        return 0
    fit = int(local_node()["Resources"]["CPU"] // max(cpu, 1e-9))
    return warm_worker_count(min(fit, settings.max_trials,
                                 settings.max_concurrent_trials or settings.max_trials))


def _trial_spec(run: SearchRun, cv: int | None, fit_kwargs: dict[str, Any]) -> TrialSpec:
    settings, resources = run.settings, run.placed()
    return TrialSpec(hypermodel=run.hypermodel, space=run.space, objective=settings.objective,
                     epochs=run.epochs, fit_kwargs=absolute_log_dirs(fit_kwargs), cv=cv,
                     cpus=resources.cpu,
                     seed=settings.seed, meta_optimizer=settings.meta_optimizer,
                     gpus=resources.gpu, gpu_memory_mb=resources.gpu_memory_mb,
                     shared_arrays_bytes=settings.shared_arrays_bytes,
                     executions=settings.executions_per_trial,
                     compile_overrides=dict(settings.compile_overrides),
                     max_model_size=settings.max_model_size,
                     # raised errors are retried in the worker; -1 (forever) is left to Ray
                     retries=max(settings.max_failures, 0))


def _trainable(run: SearchRun, spec: TrialSpec, data: dict[str, Any]) -> tuple[Any, int | None]:
    """The Ray Tune trainable with its resources, and the cap on trials at once."""
    from ray import tune

    settings, resources = run.settings, run.placed()
    if settings.workers_per_trial == 1:
        trainable = tune.with_parameters(run_trial, spec=spec, data=data)
        return tune.with_resources(trainable, resources.to_ray()), \
            settings.max_concurrent_trials
    trainable = tune.with_parameters(run_distributed_trial, spec=spec, data=data,
                                     resources=resources, workers=settings.workers_per_trial,
                                     storage_path=settings.experiment_path)
    # Ray Train starts a run only when all of its workers fit; more trials than the grown
    # cluster holds would wait idle (Ray's advice: set max_concurrent_trials).
    workers = settings.workers_per_trial
    max_concurrent = settings.max_concurrent_trials or trials_that_fit(
        {k: v * workers for k, v in resources.to_ray().items()}, run.planning_totals())
    return tune.with_resources(trainable, DRIVER_RESOURCES), max_concurrent


def _finish(run: SearchRun, grid: Any) -> ExperimentResults:
    # with the hyperparameters a run_trial declared, and "ended" for the readers
    write_metadata(run, ended=True)
    results = ExperimentResults.from_result_grid(grid, metadata(run))
    logger.info("%d trials (%s each); at most %d ran at once.", len(results.trials),
                run.placed().describe(), results.trials_at_once())
    return results
