"""Keras Tuner's ``Tuner`` methods beyond searching and reading: its hooks and project paths.

:class:`raytune_hpt.Tuner` takes them from :class:`KerasTunerMethods`. A subclass overrides a
hook as in Keras Tuner and it is called where Keras Tuner calls it:

* ``on_trial_begin(trial)`` / ``on_trial_end(trial)`` around each trial (each attempt of a
  retried trial), and ``on_epoch_begin``/``on_epoch_end``/``on_batch_begin``/``on_batch_end``
  during its ``fit`` (Keras Tuner's ``TunerCallback``), on the Ray worker that runs the
  trial. They run on the worker's copy of the tuner: what one sets on ``self`` is seen by the
  same trial's later hooks (and its ``run_trial``), not by other trials nor by the tuner in
  your process.
* ``save_model(trial_id, model, step)`` at the end of each epoch of a standard trial (as Keras
  Tuner's docstring has it; its 1.4 trials checkpoint on their own and never call it), and
  wherever a ``run_trial`` override calls it.
* ``load_model(trial)`` by ``get_best_models``, for each best trial; ``on_search_end()`` in
  your process when ``search()`` has run its trials.

The driver gives the worker the overridden hooks (:meth:`KerasTunerMethods.overridden_hooks`);
inside a ``run_trial`` override, ``on_epoch_end`` and ``save_model`` report through the worker's
handle on the running trial (``raytune_hpt.worker.running_trial``). Nothing here imports the
Tuner or the driver.
"""

from __future__ import annotations

import os
from typing import Any

from raytune_hpt.errors import ConfigurationError
from raytune_hpt.worker import running_trial

__all__ = ["TRIAL_HOOKS", "KerasTunerMethods"]

#: Hooks called inside a trial, on the worker (``raytune_hpt.worker`` calls the overridden ones).
TRIAL_HOOKS = ("on_trial_begin", "on_trial_end", "on_epoch_begin", "on_epoch_end",
               "on_batch_begin", "on_batch_end", "save_model")

# Ray Tune's states of a trial that will not run again (a failed one is retried on resume)
_ENDED = ("finished", "stopped")


class KerasTunerMethods:
    """Keras Tuner's hooks (each does nothing unless overridden, as in Keras Tuner, except
    ``on_epoch_end``/``save_model`` inside a ``run_trial`` override, which report) and its
    ``project_dir``, ``get_trial_dir`` and ``remaining_trials``."""

    settings: Any

    def overridden_hooks(self) -> tuple[str, ...]:
        """The trial hooks (:data:`TRIAL_HOOKS`) this tuner's class overrides."""
        return tuple(name for name in TRIAL_HOOKS
                     if getattr(type(self), name) is not getattr(KerasTunerMethods, name))

    def hooks_called_in_trials(self) -> frozenset[str]:
        """The overridden trial hooks a standard trial calls, refused where it cannot.

        Raises:
            ConfigurationError: a hook is overridden and trials train on several workers.
        """
        names = self.overridden_hooks()
        if names and self.settings.workers_per_trial > 1:
            raise ConfigurationError(
                f"{type(self).__name__} overrides {names[0]}, which a trial trained on several "
                f"workers (workers_per_trial={self.settings.workers_per_trial}) does not call; "
                "use workers_per_trial=1, or move the hook's work into a keras callback.")
        return frozenset(names)

    # -- around a trial, on the worker ----------------------------------------------------
    def on_trial_begin(self, trial: Any) -> None:
        """Called before each trial runs (on its worker); ``trial`` is a Keras Tuner Trial."""

    def on_trial_end(self, trial: Any) -> None:
        """Called after each trial (on its worker), ``trial.status`` ``"COMPLETED"``,
        ``"FAILED"`` (a ``FailedTrialError``) or ``"INVALID"`` (another error)."""

    # -- during a trial's fit (or called by a run_trial override) -----------------------------
    def on_epoch_begin(self, trial: Any, model: Any, epoch: int, logs: Any = None) -> None:
        """A hook for subclasses; does nothing (as in Keras Tuner)."""

    def on_epoch_end(self, trial: Any, model: Any, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        """Inside a ``run_trial`` override: report this epoch's ``logs`` (they must hold the
        objective) and checkpoint ``model``. In a standard trial, nothing (the trial reports
        each epoch itself), as in Keras Tuner."""
        trial_reports = running_trial()
        if trial_reports is not None:
            trial_reports.epoch_end(model, epoch, logs)

    def on_batch_begin(self, trial: Any, model: Any, batch: int, logs: Any = None) -> None:
        """A hook for subclasses; does nothing (as in Keras Tuner)."""

    def on_batch_end(self, trial: Any, model: Any, batch: int, logs: Any = None) -> None:
        """A hook for subclasses; does nothing (as in Keras Tuner)."""

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Inside a ``run_trial`` override: name the model the next report checkpoints."""
        trial_reports = running_trial()
        if trial_reports is not None:
            trial_reports.use_model(model)

    def on_search_begin(self) -> None:
        """Called once in your process, every check passed, before Ray starts."""

    def on_search_end(self) -> None:
        """Called once in your process when ``search()`` has run its trials."""

    # -- Keras Tuner's project paths and counts ---------------------------------------------
    @property
    def project_dir(self) -> str:
        """The experiment's folder (Keras Tuner's ``<directory>/<project_name>``), created.

        Raises:
            ValueError: the experiment is stored at a URI (``s3://...``), not in a folder.
        """
        path = self.settings.experiment_path
        if "://" in path:
            raise ValueError(f"project_dir is a local folder, but this experiment is stored at "
                             f"{path}; read it with kt.load_results({path!r}), or give a "
                             "local directory (or a shared one, on a cluster).")
        os.makedirs(path, exist_ok=True)
        return path

    def get_trial_dir(self, trial_id: str) -> str:
        """``<project_dir>/trial_<trial_id>``, created (Keras Tuner's): a folder of your own
        for a trial's files (what ``save_model`` writes, for ``load_model`` to read). Ray
        Tune's own folder for the trial is beside it."""
        path = os.path.join(self.project_dir, f"trial_{trial_id}")
        os.makedirs(path, exist_ok=True)
        return path

    @property
    def remaining_trials(self) -> int:
        """``max_trials`` less the trials that ended (a failed trial runs again on resume)."""
        results = getattr(self, "last_results", None)
        ended = 0 if results is None else sum(1 for t in results.trials if t.status in _ENDED)
        return max(self.settings.max_trials - ended, 0)
