"""``Tuner``: the public face of a search, for Python callers and Keras Tuner code alike.

``Tuner(...)`` turns its arguments (Keras Tuner's included, through ``raytune_hpt.keras_tuner``)
into one checked :class:`~raytune_hpt.settings.Settings`; ``search(...)`` hands the settings,
the model and the data to ``raytune_hpt.driver``, which runs one Ray Tune experiment; the
reading methods (``get_best_hyperparameters``, ``get_best_models``, ``results_summary``, ...)
answer from its results. As in Keras Tuner, an experiment that already exists under the same
name is resumed unless ``overwrite=True``. Keras Tuner's tuner classes (``RandomSearch``,
``GridSearch``, ``BayesianOptimization``, ``Hyperband``) are this ``Tuner`` with an oracle.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from raytune_hpt import driver
from raytune_hpt._noise import import_tensorflow_quietly
from raytune_hpt.hypermodel import (
    as_hypermodel,
    checkpoint_builder,
    discover_space,
    has_custom_fit,
)
from raytune_hpt.hyperparameters import HyperParameters, space_summary
from raytune_hpt.keras_tuner import (
    KerasTunerMethods,
    Trial,
    translate,
)
from raytune_hpt.objective import Objective
from raytune_hpt.resources import Resources
from raytune_hpt.results import ExperimentResults
from raytune_hpt.settings import Settings, default_name, field_default, tuner_arguments
from raytune_hpt.tracking import say
from raytune_hpt.worker import TrialHooks

__all__ = ["Tuner"]

#: Settings a Tuner shows as its own attributes (``tuner.max_trials``, ``tuner.objective``);
#: setting one (``tuner.overwrite = True``) makes new settings, checked again
#: (:meth:`Tuner._change_settings`, the one place a Tuner's settings change).
_SETTINGS = frozenset(f.name for f in dataclasses.fields(Settings))
#: The Tuner's keyword arguments: fields of Settings, the one list of settings.
_ARGUMENTS = tuner_arguments()


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
        max_failures: how often a failing trial is retried, from its last checkpoint: in
            the same worker after an error, by Ray in a new worker after the worker died.
        verbose: Ray Tune's console verbosity (0 silent, 1 status, 2 results).
        address: a Ray cluster to connect to (``"auto"``); default: start Ray locally.
        tracking: trackers, e.g. ``{"tensorboard": True, "mlflow": "sqlite:///mlflow.db"}``;
            default TensorBoard only.
        meta_optimizer: keep TensorFlow's graph meta-optimizer on in the trials (off by
            default: faster for small and mid-sized models; docs/performance.md).
        shared_arrays_mb: numpy training data of at least this many MB is fed to Keras batch
            by batch from one shared copy in Ray's object store, not copied into every
            trial's worker (docs/performance.md, "Memory"); ``0``: always, ``None``: never.
        points_to_evaluate: configurations to try first, in order, e.g.
            ``[{"units": 64, "lr": 1e-3}]``; a hyperparameter left out takes its default;
            an unknown name or a value outside its domain is a ``ConfigurationError``.
        warm_start: an earlier experiment (path, URI) whose trials seed the searcher.
        executions_per_trial: models trained per trial (Keras Tuner's); the objective is
            their mean at each epoch.
        max_consecutive_failed_trials: end the search after this many failed trials in a
            row (Keras Tuner's; its oracles default to 3); None: only when the first trials
            all fail with the same error.
        pending_timeout: seconds every trial may wait for nodes (none running) before the
            search ends, saying what it waited for; default 600 (docs/cluster.md).
        max_time: this run's wall-clock budget, seconds or ``"2h"`` (docs/reliability.md).
        keep_models: only the best trials' models (checkpoints) stay on disk, default 10;
            ``None`` keeps every trial's (docs/reliability.md, "Bounded disk").

    Keras Tuner's own arguments are taken too (``oracle``, ``directory``, ``project_name``,
    ``max_retries_per_trial``, ``optimizer``/``loss``/``metrics``, ``max_model_size``,
    ``tune_new_entries``, ...: see ``raytune_hpt.keras_tuner``), so that ``kt.Tuner``
    subclasses run as written. A subclass that overrides :meth:`run_trial` runs each trial its
    own way on a Ray worker; Keras Tuner's hooks it overrides are called where Keras Tuner
    calls them (``keras_tuner/_tuner_methods.py``). Every argument is checked once, into
    :attr:`settings`.

    Example:
        >>> tuner = Tuner(build_model, objective="val_accuracy", searcher="bayesopt",
        ...               scheduler="asha", max_trials=20)          # doctest: +SKIP
        >>> tuner.search(x, y, validation_data=(xv, yv), epochs=10)  # doctest: +SKIP
        >>> tuner.get_best_hyperparameters()[0].values              # doctest: +SKIP
    """

    settings: Settings

    def __init__(self, hypermodel: Any = None, objective: Any = None,
                 **arguments: Any) -> None:
        # The keyword arguments are Settings' fields (settings.tuner_arguments, shown by
        # inspect.signature); any other name is Keras Tuner's (translate checks it).
        own = {name: field_default(item) for name, item in _ARGUMENTS.items()}
        own.update({name: arguments.pop(name) for name in list(arguments) if name in own})
        own["objective"], own["meta_optimizer"] = objective, bool(own["meta_optimizer"])
        own, oracle = translate(own, arguments)
        self.hypermodel = self._coerce_hypermodel(hypermodel)
        self._start(self._make_settings(own), oracle)

    @classmethod
    def from_settings(cls, hypermodel: Any, settings: Settings) -> Tuner:
        """A Tuner for settings made elsewhere (the experiment file makes its own)."""
        tuner = cls.__new__(cls)
        tuner.hypermodel = tuner._coerce_hypermodel(hypermodel)
        tuner._start(settings, None)
        return tuner

    def _start(self, settings: Settings, oracle: Any) -> None:
        self.settings = settings
        self.oracle = oracle  # Keras Tuner's, when one was given: it answers from this tuner
        if oracle is not None:
            oracle.attach(self)
        # Files written into the experiment folder once every check has passed (the CLI
        # keeps the experiment file there for `resume`).
        self.attachments: dict[str, str] = {}
        # The last search's run state: the space it found, the resources it settled ("auto"
        # resolved against the cluster). The settings stay as they were made.
        self._run: driver.SearchRun | None = None
        # Keras Tuner's rule: a project already on disk is reloaded (unless overwrite=True)
        self._results: ExperimentResults | None = driver.existing_results(settings)
        self.space: HyperParameters | None = self._results and self._results.space

    def reload(self) -> None:
        """Read this tuner's experiment back from disk (Keras Tuner's ``reload``): the
        ``get_best_*`` methods, ``results_summary`` and ``oracle`` answer from it.

        Raises:
            FileNotFoundError: no experiment at ``experiment_path``.
        """
        self._results = driver.reload_results(self.settings)
        self.space = self._results.space

    def _make_settings(self, arguments: dict[str, Any]) -> Settings:
        if arguments["objective"] is None:  # Keras Tuner's defaults
            arguments["objective"] = (Objective("default_objective", "min")
                                      if self.has_custom_run_trial() else Objective("val_loss"))
        if arguments["name"] is None:
            arguments["name"] = default_name(getattr(self.hypermodel, "name", None))
        return Settings.create(**arguments)

    def _coerce_hypermodel(self, hypermodel: Any) -> Any:
        if hypermodel is not None:
            return as_hypermodel(hypermodel)
        if not self.has_custom_run_trial():
            raise TypeError("hypermodel must be a build_model(hp) function or a HyperModel, "
                            "but got None (only a Tuner subclass that overrides run_trial "
                            "may leave it out).")
        return None

    def __getattr__(self, name: str) -> Any:
        # Only reached when the attribute is not the tuner's own: the settings' values.
        if name in _SETTINGS and "settings" in self.__dict__:
            return getattr(self.settings, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SETTINGS and "settings" in self.__dict__:
            self._change_settings(**{name: value})
        else:
            super().__setattr__(name, value)

    def _change_settings(self, **changes: Any) -> None:
        """New settings with ``changes``, every value checked again (``Settings.replace``);
        what the last search settled no longer describes them."""
        self.settings = self.settings.replace(**changes)
        self._run = None

    @property
    def resources(self) -> Resources | str:
        """Each trial's resources: as the last search placed them (``"auto"`` resolved
        against the cluster), else as asked (``settings.resources``)."""
        return self._run.resources if self._run is not None else self.settings.resources

    @property
    def experiment_path(self) -> str:
        """Where Ray Tune keeps this experiment: ``<storage_path>/<name>``."""
        return self.settings.experiment_path

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
        if self.hypermodel is not None or not self.has_custom_run_trial():
            import_tensorflow_quietly()  # the model needs it; its start-up notices are noise
        if self._results is not None and self.hypermodel is not None \
                and not self.has_custom_run_trial():  # a run_trial's space grows: not checked
            driver.check_same_space(self.settings, self._results, self._initial_space(),
                                    built_only=has_custom_fit(self.hypermodel))
        if driver.search_is_done(self.settings, self._results):
            return self._results
        hooks = {"attachments": self.attachments, "on_search_begin": self.on_search_begin}
        if self.has_custom_run_trial():
            trial_hooks = TrialHooks(self, frozenset(self.overridden_hooks()), Trial)
            run, self._results = driver.search_custom(self.settings, trial_hooks,
                                                      self._initial_space(), fit_args,
                                                      fit_kwargs, **hooks)
        else:
            called = self.hooks_called_in_trials()
            run, self._results = driver.search(self.settings, self.hypermodel, fit_args,
                                               fit_kwargs, **hooks, trial_hooks=TrialHooks(
                                                   self, called, Trial) if called else None)
        self._run, self.space = run, run.space
        self.on_search_end()
        return self._results

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        """Override to run each trial your own way (on a Ray worker); return the objective
        as a float or a dict, or report each epoch with ``self.on_epoch_end``."""
        raise NotImplementedError  # never called: not overriding keeps the standard trial

    def has_custom_run_trial(self) -> bool:
        return type(self).run_trial is not Tuner.run_trial

    # -- reading a search, in the driver ------------------------------------------------------
    def search_space(self) -> HyperParameters:
        """The search space: the last search's, else the one building the model declares."""
        return self.space if self.space is not None else self._initial_space()

    def search_space_summary(self, extended: bool = False) -> str:
        """Print and return the search space: every hyperparameter with its domain."""
        shown = list(self.search_space().space)
        declared = self.settings.hyperparameters
        if not self.settings.tune_new_entries:
            # As Keras Tuner: entries the model adds keep their default, outside the space.
            names = {hp.name for hp in declared.space} if declared is not None else set()
            shown = [hp for hp in shown if hp.name in names]
        text = space_summary(shown)
        say(text)
        return text

    def _initial_space(self) -> HyperParameters:
        declared = self.settings.hyperparameters
        if self.hypermodel is None:
            return declared.copy() if declared else HyperParameters()
        self.space = discover_space(self.hypermodel, declared)
        return self.space

    @property
    def last_results(self) -> ExperimentResults | None:
        """The last search's results (None before the first ``search``)."""
        return self._results

    @property
    def results(self) -> Any:
        """The underlying ``ray.tune.ResultGrid`` of the last search."""
        return self._require_results().result_grid

    def _require_results(self) -> ExperimentResults:
        if self._results is None:
            raise RuntimeError(f"No results yet: no experiment at {self.experiment_path}; call "
                               "search() first.")
        return self._results

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The best trials' hyperparameters, best first (``.values`` is a dict)."""
        results = self._require_results()
        return [self.space.copy(values) for values in results.best_hyperparameters(num_trials)]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' models at their best epoch (ModelNotKeptError: keep_models)."""
        results = self._require_results()
        ranked = results.ranked_trials()[:num_models]
        results.require_models(ranked, f"get_best_models({num_models})")
        if type(self).load_model is not Tuner.load_model:  # yours, as Keras Tuner calls it
            return [self.load_model(Trial.from_record(t, results.space, results.objective))
                    for t in ranked]
        return [results.load_model(t, build=self._builder(t)) for t in ranked]

    def results_summary(self, num_trials: int = 10) -> str:
        """Print and return a readable table of the best trials."""
        text = self._require_results().summary(num_trials)
        say(text)
        return text

    def load_model(self, trial: Any) -> Any:
        """The model of a trial (an ``oracle.get_best_trials`` entry) at its best epoch."""
        results = self._require_results()
        for record in results.trials:
            if record.trial_id == trial.trial_id:
                return results.load_model(record, build=self._builder(record))
        raise KeyError(f"No trial {trial.trial_id!r} in {results.path}.")

    def _builder(self, record: Any) -> Any:
        """Builds the trial's model for its checkpoint to be loaded into (None: no builder)."""
        if self.hypermodel is None:
            return None
        return checkpoint_builder(self.hypermodel, self.space.copy(record.hyperparameters))

    def __getstate__(self) -> dict:
        # The tuner travels to each worker for a custom run_trial: results stay here.
        return {**self.__dict__, "_results": None, "_run": None}


def _signature() -> inspect.Signature:
    """``Tuner(hypermodel=None, objective=None, *, <each argument>=<its default>,
    **keras_tuner_options)``, derived from :data:`_ARGUMENTS` (what ``help(Tuner)`` shows)."""
    kind = inspect.Parameter
    parameters = [kind("self", kind.POSITIONAL_OR_KEYWORD),
                  kind("hypermodel", kind.POSITIONAL_OR_KEYWORD, default=None),
                  kind("objective", kind.POSITIONAL_OR_KEYWORD, default=None)]
    for name, item in _ARGUMENTS.items():
        default = field_default(item)
        annotation = f"{item.type} | None" if default is None and "None" not in str(
            item.type) else item.type
        parameters.append(kind(name, kind.KEYWORD_ONLY, default=default, annotation=annotation))
    parameters.append(kind("keras_tuner_options", kind.VAR_KEYWORD))
    return inspect.Signature(parameters, return_annotation="None")


Tuner.__init__.__signature__ = _signature()  # type: ignore[attr-defined]
