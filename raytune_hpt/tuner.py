"""``Tuner``: a Keras Tuner-shaped front over one Ray Tune experiment.

``Tuner(...)`` checks its arguments; ``search(...)`` discovers the space by building the
model, puts the data in Ray's object store once, assembles ``ray.tune.Tuner`` (searcher,
scheduler, per-trial resources, reused workers, per-epoch checkpoints) and runs it. As in
Keras Tuner, an experiment that already exists under the same name is resumed unless
``overwrite=True``.
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

from raytune_hpt import storage
from raytune_hpt._checks import check_bool, check_int, check_number, check_one_of, check_path_name
from raytune_hpt._noise import import_tensorflow_quietly
from raytune_hpt._pareto_search import check_pareto_search
from raytune_hpt._ray_session import QUIET_TENSORFLOW, scoped_environ, ship_model_code, start_ray
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hypermodel import as_hypermodel, discover_space, has_custom_fit
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.keras_tuner import (
    KerasTunerMethods,
    RandomSearchOracle,
    as_hyperparameters,
    fix_new_entries,
    translate,
)
from raytune_hpt.objective import Objective
from raytune_hpt.resources import Resources, local_node, requested, settle
from raytune_hpt.results import ExperimentResults
from raytune_hpt.schedulers import create_scheduler, validate_scheduler
from raytune_hpt.search_data import (
    SHARED_ARRAYS_MB,
    check_dataset_files,
    check_fit_data,
    split_fit_arguments,
)
from raytune_hpt.searchers import create_searcher, validate_searcher
from raytune_hpt.tracking import absolute_log_dirs, validate_tracking
from raytune_hpt.warm_start import check_arguments as check_warm_start
from raytune_hpt.warm_start import prepare as prepare_warm_start
from raytune_hpt.worker import TrialSpec, run_trial

__all__ = ["Tuner"]

logger = logging.getLogger(__name__)

DEFAULT_STORAGE_PATH = os.path.join("~", "ray_results")

# Set while a search runs, restored afterwards. We pass the loggers we want (no automatic
# TBX logger); keeping the best two checkpoints makes Ray snapshot the experiment every
# second checkpoint and warn each time, which is our choice, not the user's to act on.
_SEARCH_ENV_DEFAULTS = {
    **QUIET_TENSORFLOW,
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}
_SEARCH_ENV_OVERRIDES = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}


class Tuner(KerasTunerMethods):
    """Tune a Keras model's hyperparameters with Ray Tune.

    Args:
        hypermodel: a Keras Tuner-style ``build_model(hp)`` returning a compiled model, an
            :class:`~raytune_hpt.HyperModel`, or a ``keras_tuner.HyperModel``.
        objective: a metric Keras logs (``"val_accuracy"``), an :class:`Objective`, or
            ``(name, "min"|"max")``, inferred direction; a ``Pareto`` (docs/pareto.md).
        searcher: ``"random"``, ``"grid"``, ``"bayesopt"``, ``"hyperopt"``, ``"optuna"``,
            ``"optuna_gp"``, ``{"type": name, **options}``, or a Ray ``Searcher``.
        scheduler: ``"fifo"``, ``"asha"``, ``"async_hyperband"``, ``"hyperband"``, ``"median"``,
            ``"pbt"``/``"pb2"`` (docs/pbt.md), ``{"type": name, ...}``, or a ``TrialScheduler``.
        max_trials: the number of trials (grid search stops earlier when exhausted).
        hyperparameters: hyperparameters declared up front; their domains win over the
            model's declarations.
        resources: per trial, ``{"cpu": 1, "gpu": 0.5, "memory": bytes, "gpu_memory_mb": MB,
            "<custom Ray resource>": amount}`` (``gpu`` may be a fraction: 0.25 puts four
            trials on a GPU, each capped to a quarter of its memory). Default/``"auto"``: one
            GPU per trial where Ray has GPUs (CPUs split), else one CPU (docs/resources.md).
        max_concurrent_trials: cap on trials running at once (default: as resources allow).
        workers_per_trial: train each trial on this many Ray Train workers (each with
            ``resources``) under ``MultiWorkerMirroredStrategy``, possibly across nodes.
        storage_path: a local folder or a ``s3://``/``gs://`` URI; default ``~/ray_results``.
        name: the experiment's folder under ``storage_path``; default: a timestamped name.
        seed: makes the searcher and each trial's weight initialisation repeatable.
        overwrite: start afresh even if the experiment exists (default: resume it).
        max_failures: how often a failing trial is retried.
        verbose: Ray Tune's console verbosity (0 silent, 1 status, 2 results).
        address: a Ray cluster to connect to (``"auto"``); default: start Ray locally.
        tracking: trackers, e.g. ``{"tensorboard": True, "mlflow": "sqlite:///mlflow.db"}``;
            default TensorBoard only.
        meta_optimizer: keep TensorFlow's graph meta-optimizer on in the trials (off by
            default: faster for small and mid-sized models; docs/performance.md).
        shared_arrays_mb: numpy training data of at least this many MB is fed to Keras
            batch by batch from the one shared copy in Ray's object store, instead of
            through Keras's array adapter, which copies it into every trial's worker
            (docs/performance.md, "Memory"); ``0``: always, ``None``: never.
        points_to_evaluate: configurations to try first, in order, e.g.
            ``[{"units": 64, "lr": 1e-3}]``; a hyperparameter left out takes its default;
            an unknown name or a value outside its domain is a ``ConfigurationError``.
        warm_start: the path (or URI) of an earlier experiment with the same objective and
            space: its ended trials seed the searcher and are not run again (see
            :mod:`raytune_hpt.warm_start` and docs/warm_start.md).

    Example:
        >>> tuner = Tuner(build_model, objective="val_accuracy", searcher="bayesopt",
        ...               scheduler="asha", max_trials=20)          # doctest: +SKIP
        >>> tuner.search(x, y, validation_data=(xv, yv), epochs=10)  # doctest: +SKIP
        >>> tuner.get_best_hyperparameters()[0].values              # doctest: +SKIP
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        *,
        searcher: Any = "random",
        scheduler: Any = "fifo",
        max_trials: int = 10,
        hyperparameters: Any = None,
        resources: Resources | dict | None = None,
        max_concurrent_trials: int | None = None,
        storage_path: str | None = None,
        name: str | None = None,
        seed: int | None = None,
        overwrite: bool = False,
        max_failures: int = 0,
        verbose: int = 1,
        address: str | None = None,
        tracking: dict[str, Any] | None = None,
        meta_optimizer: bool = False,
        workers_per_trial: int = 1,
        shared_arrays_mb: float | None = SHARED_ARRAYS_MB,
        executions_per_trial: int = 1, max_consecutive_failed_trials: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None, warm_start: str | None = None,
        **keras_tuner_options: Any,
    ) -> None:
        a = {"objective": objective, "searcher": searcher, "scheduler": scheduler,
             "max_trials": max_trials, "hyperparameters": hyperparameters, "seed": seed,
             "storage_path": storage_path, "name": name, "max_failures": max_failures,
             "resources": resources, "points": points_to_evaluate, "warm_start": warm_start,
             "max_consecutive_failed_trials": max_consecutive_failed_trials}
        self.keras_tuner = translate(a, keras_tuner_options)
        self.oracle = self.keras_tuner.oracle or RandomSearchOracle(
            objective=a["objective"], max_trials=a["max_trials"], seed=a["seed"])
        self.hypermodel = self._coerce_hypermodel(hypermodel)
        self.objective = self._coerce_objective(a["objective"])
        self.hyperparameters = as_hyperparameters(a["hyperparameters"])
        self._check_arguments(a["searcher"], a["scheduler"], a["max_trials"], a["max_failures"],
                              a["seed"], max_concurrent_trials, workers_per_trial,
                              shared_arrays_mb, executions_per_trial,
                              a["max_consecutive_failed_trials"])
        check_pareto_search(self.objective, a["searcher"], a["scheduler"])

        validate_tracking(tracking)
        self._store_search_arguments(a)
        self.workers_per_trial, self.executions_per_trial = workers_per_trial, \
            executions_per_trial
        self.max_concurrent_trials = max_concurrent_trials
        self.overwrite = check_bool("overwrite", overwrite)
        self.verbose = check_one_of("verbose", verbose, (0, 1, 2))
        self.address, self.tracking = address, tracking
        self.meta_optimizer = bool(meta_optimizer)
        self.shared_arrays_mb = shared_arrays_mb
        self.space: HyperParameters | None = None
        # Files written into the experiment folder once every check has passed (the CLI
        # keeps the experiment file there for `resume`).
        self.attachments: dict[str, str] = {}
        self._results: ExperimentResults | None = None
        self._reload_if_exists()  # Keras Tuner's rule: an existing project is reloaded

    def _store_search_arguments(self, a: dict[str, Any]) -> None:
        """The checked arguments a Keras Tuner oracle may have set."""
        self.searcher, self.scheduler, self.max_trials = a["searcher"], a["scheduler"], \
            a["max_trials"]
        self.resources = requested(a["resources"])  # None, "auto": settled in search()
        self.max_consecutive_failed_trials = a["max_consecutive_failed_trials"]
        self.storage_path = storage.normalize(a["storage_path"] or DEFAULT_STORAGE_PATH,
                                              field="storage_path")
        self.name = check_path_name("name", self._default_name() if a["name"] is None
                                    else a["name"])
        self.seed, self.max_failures = a["seed"], a["max_failures"]
        check_warm_start(a["points"], a["warm_start"])
        self.points_to_evaluate, self.warm_start = a["points"], a["warm_start"]

    def _coerce_hypermodel(self, hypermodel: Any) -> Any:
        if hypermodel is None and self.has_custom_run_trial():
            return None
        if hypermodel is None:
            raise TypeError("hypermodel must be a build_model(hp) function or a HyperModel, "
                            "but got None (only a Tuner subclass that overrides run_trial "
                            "may leave it out).")
        return as_hypermodel(hypermodel)

    def _coerce_objective(self, objective: Any) -> Objective:
        if objective is None:  # Keras Tuner's defaults
            return (Objective("default_objective", "min") if self.has_custom_run_trial()
                    else Objective("val_loss"))
        return Objective.coerce(objective)

    @staticmethod
    def _check_arguments(searcher: Any, scheduler: Any, max_trials: Any, max_failures: Any,
                         seed: Any, max_concurrent_trials: Any, workers_per_trial: Any,
                         shared_arrays_mb: Any, executions_per_trial: Any,
                         max_consecutive_failed_trials: Any) -> None:
        """Every check of the constructor's arguments: the one place they are validated."""
        validate_searcher(searcher)
        validate_scheduler(scheduler)
        check_int("max_trials", max_trials, 1)
        check_int("max_concurrent_trials", max_concurrent_trials, 1, optional=True)
        check_int("max_failures", max_failures, -1)
        check_int("seed", seed, 0, optional=True)
        check_int("workers_per_trial", workers_per_trial, 1)
        check_int("executions_per_trial", executions_per_trial, 1)
        check_int("max_consecutive_failed_trials", max_consecutive_failed_trials, 1,
                  optional=True)
        check_number("shared_arrays_mb", shared_arrays_mb, minimum=0, optional=True)

    def _default_name(self) -> str:
        model_name = getattr(self.hypermodel, "name", None) or "search"
        return f"{model_name}_{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}"

    @property
    def experiment_path(self) -> str:
        """Where Ray Tune keeps this experiment: ``<storage_path>/<name>``."""
        return storage.join(self.storage_path, self.name)

    # -- running ------------------------------------------------------------------------
    def search(self, *fit_args: Any, **fit_kwargs: Any) -> ExperimentResults:
        """Run the search; arguments are those of ``keras.Model.fit`` (Keras Tuner's rule).

        Args:
            x, y: training data (numpy arrays), or ``x`` a zero-argument callable run once
                on each worker that returns a dict with keys among ``x``, ``y`` and
                ``validation_data`` (for ``tf.data`` pipelines and large files).
            validation_data: ``(x_val, y_val)``; or use ``validation_split=...``.
            epochs: epochs per trial (the schedulers' ``max_t``; Hyperband's ``max_epochs``
                replaces it, as in Keras Tuner).
            cv: K-fold cross-validation inside each trial; the objective is the fold mean.
            **fit_kwargs: any other ``fit`` argument, e.g. ``batch_size`` or ``callbacks``.
                With a ``run_trial`` override, everything goes to ``run_trial`` as given.

        Returns:
            The experiment's results, best trial first in :meth:`ExperimentResults.summary`.

        Raises:
            ConfigurationError: bad input, found before any trial starts, or an objective the
                model never logs (found at the first epoch; the search stops).
            SearchAbortedError: the first trials all failed with the same error, or
                ``max_consecutive_failed_trials`` trials in a row failed.
            FatalError: a trial raised it (Keras Tuner's rule).
        """
        if self._search_is_done():
            return self._results
        import_tensorflow_quietly()  # the model needs it; its start-up notices are noise
        if self.has_custom_run_trial():
            return self._search_custom(fit_args, fit_kwargs)
        x, y, validation_data, epochs, cv = split_fit_arguments(fit_args, fit_kwargs)
        epochs = self.keras_tuner.epochs or epochs
        data = self._check_search_input(x, y, validation_data, epochs, cv, fit_kwargs)
        scheduler = create_scheduler(self.scheduler, epochs=epochs)  # bad max_t fails here
        with scoped_environ(_SEARCH_ENV_DEFAULTS, _SEARCH_ENV_OVERRIDES):
            self.space = self._discover_space(x, y, data, validation_data, epochs, fit_kwargs)
            searcher = self._create_searcher()
            from raytune_hpt._pbt import prepare_population  # PBT: bound to the space
            scheduler, searcher = prepare_population(self, scheduler, searcher)
            self.on_search_begin()
            self._connect()
            check_dataset_files(data)
            spec = self._trial_spec(epochs, cv, fit_kwargs)
            trainable, max_concurrent = self._trainable(spec, data)
            grid = self._run(trainable, searcher, scheduler, max_concurrent, epochs)
        return self._finish(grid, epochs)

    def _search_custom(self, fit_args: tuple, fit_kwargs: dict[str, Any]) -> ExperimentResults:
        """A ``run_trial`` override: each trial calls it on a worker with these arguments."""
        from ray import tune

        from raytune_hpt.search_data import ship_datasets
        from raytune_hpt.worker import run_user_trial

        epochs = self.keras_tuner.epochs or 1
        scheduler = create_scheduler(self.scheduler, epochs=epochs)
        with scoped_environ(_SEARCH_ENV_DEFAULTS, _SEARCH_ENV_OVERRIDES):
            self.space = self._initial_space()
            searcher = self._create_searcher()
            from raytune_hpt._pbt import prepare_population  # refuses PBT here
            scheduler, searcher = prepare_population(self, scheduler, searcher)
            self.on_search_begin()
            self._connect()
            ship_model_code(type(self))
            args, kwargs = ship_datasets(fit_args, fit_kwargs)
            check_dataset_files({**kwargs, **{f"arg{k}": v for k, v in enumerate(args)}})
            trainable = tune.with_parameters(run_user_trial, tuner=self,
                                             spec=self._trial_spec(epochs, None, {}),
                                             args=args, kwargs=kwargs)
            trainable = tune.with_resources(trainable, self.resources.to_ray())
            grid = self._run(trainable, searcher, scheduler, self.max_concurrent_trials, epochs)
        return self._finish(grid, epochs)

    def _create_searcher(self) -> Any:
        if not (self.keras_tuner.tune_new_entries and self.keras_tuner.allow_new_entries):
            self.space = fix_new_entries(self.space, self.hyperparameters)
        warm = prepare_warm_start(self.space, self.objective, self.searcher,
                                  self.points_to_evaluate, self.warm_start, self.experiment_path,
                                  self.overwrite)
        return create_searcher(self.searcher, space=self.space,
                               metric=self.objective.searcher_metric,
                               mode=self.objective.searcher_mode, seed=self.seed,
                               max_trials=self.max_trials, points_to_evaluate=warm.points,
                               evaluated=warm.evaluated)

    def on_search_begin(self) -> None:
        """Called once every check has passed, before Ray starts (Keras Tuner's hook name)."""

    def _check_search_input(self, x: Any, y: Any, validation_data: Any, epochs: Any,
                            cv: Any, fit_kwargs: dict[str, Any]) -> dict[str, Any]:
        check_int("epochs", epochs, 1)
        check_int("cv", cv, 2, optional=True)
        if self.workers_per_trial > 1 and (cv or has_custom_fit(self.hypermodel)):
            raise ConfigurationError("workers_per_trial > 1 supports neither cv nor a custom "
                                     "HyperModel.fit; use workers_per_trial=1.")
        return check_fit_data(x, y, validation_data=validation_data, cv=cv,
                              fit_kwargs=fit_kwargs)

    def _discover_space(self, x: Any, y: Any, data: dict[str, Any], validation_data: Any,
                        epochs: int, fit_kwargs: dict[str, Any]) -> HyperParameters:
        custom_fit = has_custom_fit(self.hypermodel)
        discovery_args = () if callable(x) and y is None else ((x,) if y is None else (x, y))
        return discover_space(
            self.hypermodel, self.hyperparameters, fit_args=discovery_args,
            sample_x=data.get("x"),
            fit_kwargs={"validation_data": validation_data, "epochs": epochs, **fit_kwargs}
            if custom_fit else None,
        )

    def _connect(self) -> None:
        """Start or join Ray, refusing first what no node could ever hold."""
        import ray

        if not ray.is_initialized() and self.address is None and self.resources != "auto":
            # The local Ray about to start: refuse what it could never hold before starting it.
            self.resources.check_feasible(self.workers_per_trial, nodes=[local_node()])
        if not ray.is_initialized():
            start_ray(self.address, log_to_driver=self.verbose > 1)
        self.resources = settle(self.resources, workers=self.workers_per_trial,
                                max_concurrent=self.max_concurrent_trials,
                                max_trials=self.max_trials, verbose=self.verbose)
        ship_model_code(self.hypermodel)

    def _trial_spec(self, epochs: int, cv: int | None, fit_kwargs: dict[str, Any]) -> TrialSpec:
        return TrialSpec(hypermodel=self.hypermodel, space=self.space, objective=self.objective,
                         epochs=epochs, fit_kwargs=absolute_log_dirs(fit_kwargs), cv=cv,
                         cpus=self.resources.cpu,
                         seed=self.seed, meta_optimizer=self.meta_optimizer,
                         gpus=self.resources.gpu, gpu_memory_mb=self.resources.gpu_memory_mb,
                         shared_arrays_bytes=None if self.shared_arrays_mb is None
                         else int(self.shared_arrays_mb * 2**20),
                         executions=self.executions_per_trial,
                         compile_overrides=self.keras_tuner.compile_overrides,
                         max_model_size=self.keras_tuner.max_model_size)

    def _trainable(self, spec: TrialSpec, data: dict[str, Any]) -> tuple[Any, int | None]:
        """The Ray Tune trainable with its resources, and the cap on trials at once."""
        from ray import tune

        if self.workers_per_trial == 1:
            trainable = tune.with_parameters(run_trial, spec=spec, data=data)
            return tune.with_resources(trainable, self.resources.to_ray()), \
                self.max_concurrent_trials
        from raytune_hpt import worker

        trainable = tune.with_parameters(worker.run_distributed_trial, spec=spec, data=data,
                                         resources=self.resources,
                                         workers=self.workers_per_trial,
                                         storage_path=self.experiment_path)
        max_concurrent = self.max_concurrent_trials or worker.default_concurrency(
            self.resources, self.workers_per_trial)
        return tune.with_resources(trainable, worker.DRIVER_RESOURCES), max_concurrent

    def _run(self, trainable: Any, searcher: Any, scheduler: Any,
             max_concurrent: int | None, epochs: int) -> Any:
        from raytune_hpt._tune_run import run_experiment

        return run_experiment(self, trainable, searcher, scheduler, max_concurrent, epochs)

    def _finish(self, grid: Any, epochs: int) -> ExperimentResults:
        from raytune_hpt._tune_run import metadata, write_metadata

        # with the hyperparameters trials declared, and "ended" for the readers
        write_metadata(self, epochs, ended=True)
        self._results = ExperimentResults.from_result_grid(grid, metadata(self, epochs))
        self.oracle._results = self._results
        logger.info("%d trials (%s each); at most %d ran at once.", len(self._results.trials),
                    self.resources.describe(), self._results.trials_at_once())
        return self._results
