"""Keras Tuner's ``Tuner`` methods, mixed into ``raytune_hpt.Tuner``.

Hooks a ``run_trial`` override calls on the worker (``on_epoch_end``, ``save_model``, the
no-op ``on_epoch_begin``/``on_batch_*``) and the driver-side reading methods Keras Tuner
code uses (``search_space_summary``, ``load_model``, ``get_best_models``, ...).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raytune_hpt.hyperparameters import HyperParameters
    from raytune_hpt.results import ExperimentResults

__all__ = ["KerasTunerMethods"]

logger = logging.getLogger(__name__)

# A failed trial is not done: resuming retries it (the CLI's `resume`, Ray's resume_errored).
_ENDED = ("finished", "stopped")


class KerasTunerMethods:
    """The part of Keras Tuner's ``Tuner`` API that is not a search option."""

    _session: Any = None

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        """Override to run each trial your own way (on a Ray worker); return the objective
        as a float or a dict, or report each epoch with ``self.on_epoch_end``."""
        raise NotImplementedError  # never called: not overriding keeps the standard trial

    def has_custom_run_trial(self) -> bool:
        return type(self).run_trial is not KerasTunerMethods.run_trial

    # -- hooks called inside run_trial, on the worker ----------------------------------------
    def on_epoch_end(self, trial: Any, model: Any, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        """Report this epoch's ``logs`` (they must hold the objective) and checkpoint ``model``."""
        self._require_session().epoch_end(model, epoch, logs)

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Name the model the next report checkpoints."""
        self._require_session().model = model

    def on_epoch_begin(self, trial: Any, model: Any, epoch: int, logs: Any = None) -> None:
        """A hook for subclasses; does nothing (as in Keras Tuner)."""

    def on_batch_begin(self, trial: Any, model: Any, batch: int, logs: Any = None) -> None:
        """A hook for subclasses; does nothing (as in Keras Tuner)."""

    def on_batch_end(self, trial: Any, model: Any, batch: int, logs: Any = None) -> None:
        """A hook for subclasses; does nothing (as in Keras Tuner)."""

    def _require_session(self) -> Any:
        if self._session is None:
            raise RuntimeError("on_epoch_end and save_model are called inside run_trial.")
        return self._session

    # -- an experiment on disk (Keras Tuner's reload rule) --------------------------------------
    def reload(self) -> None:
        """Read this tuner's experiment back from disk (Keras Tuner's ``reload``): the
        ``get_best_*`` methods, ``results_summary`` and ``oracle`` answer from it.

        Raises:
            FileNotFoundError: no experiment at ``experiment_path``.
        """
        from raytune_hpt.results import load

        results = load(self.experiment_path)
        self._results = self.oracle._results = results
        self.space = results.space

    def _reload_if_exists(self) -> None:
        """As Keras Tuner's constructor: a project already on disk is reloaded (and says so)
        unless ``overwrite=True``; ``search()`` then runs only what it still lacks."""
        from raytune_hpt import storage
        from raytune_hpt.results import METADATA_FILE

        if self.overwrite:
            return
        try:
            if not storage.exists(storage.join(self.experiment_path, METADATA_FILE)):
                return
        except Exception as error:  # an unreachable store: search() says so, with its error
            logger.warning("Could not look for an experiment at %s: %s", self.experiment_path,
                           error)
            return
        print(f"Reloading Tuner from {self.experiment_path}", flush=True)
        try:
            self.reload()
        except Exception as error:  # a folder a search was interrupted in: search() resumes it
            logger.warning("Could not read the experiment at %s yet (%s); search() resumes it.",
                           self.experiment_path, error)

    def _search_is_done(self) -> bool:
        """True when the reloaded experiment already ended ``max_trials`` trials: ``search()``
        trains nothing (Keras Tuner's oracle stops at once too)."""
        if self._results is None or self.overwrite:
            return False
        ended = sum(1 for t in self._results.trials if t.status in _ENDED)
        if ended < self.max_trials:
            return False
        if self.verbose >= 1:
            print(f"Search already done: {ended} trials ended in {self.experiment_path} "
                  f"(max_trials={self.max_trials}); nothing to run. overwrite=True searches "
                  "afresh.", flush=True)
        return True

    # -- reading a search, in the driver ------------------------------------------------------
    def search_space_summary(self, extended: bool = False) -> str:
        """Print and return the search space: every hyperparameter with its domain."""
        space = self.space if self.space is not None else self._initial_space()
        shown = list(space.space)
        options = self.keras_tuner
        if not (options.tune_new_entries and options.allow_new_entries):
            # As Keras Tuner: entries the model adds keep their default, outside the space.
            declared = {hp.name for hp in self.hyperparameters.space} \
                if self.hyperparameters is not None else set()
            shown = [hp for hp in shown if hp.name in declared]
        lines = ["Search space summary", f"Default search space size: {len(shown)}"]
        for hp in shown:
            config = {k: v for k, v in hp.get_config().items() if k not in ("name", "class")}
            lines.append(f"{hp.name} ({type(hp).__name__})")
            lines.append(str(config))
        text = "\n".join(lines)
        print(text)
        return text

    def _initial_space(self) -> Any:
        from raytune_hpt.hypermodel import discover_space
        from raytune_hpt.hyperparameters import HyperParameters

        if self.hypermodel is None:
            return self.hyperparameters.copy() if self.hyperparameters else HyperParameters()
        self.space = discover_space(self.hypermodel, self.hyperparameters)
        return self.space

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
        """The best trials' models at their best epoch, restored from checkpoints."""
        results = self._require_results()
        models = []
        for trial in results.ranked_trials()[:num_models]:
            models.append(results.load_model(trial, build=self._builder(trial)))
        return models

    def results_summary(self, num_trials: int = 10) -> str:
        """Print and return a readable table of the best trials."""
        text = self._require_results().summary(num_trials)
        print(text)
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
        hp = self.space.copy(record.hyperparameters)

        def build() -> Any:
            model = self.hypermodel.build(hp)
            if not hasattr(model, "optimizer"):
                # Uncompiled (a HyperModel.fit with its own training loop): Keras 3 has no
                # `optimizer` before compile, and loading a checkpoint reads it.
                model.optimizer = None
            return model

        return build

    def __getstate__(self) -> dict:
        # The tuner travels to each worker for a custom run_trial: results stay here.
        state = dict(self.__dict__)
        state["_results"], state["_session"] = None, None
        return state
