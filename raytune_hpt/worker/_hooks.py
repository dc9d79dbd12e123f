"""A Tuner subclass's Keras Tuner hooks, called in the trial on the Ray worker.

Keras Tuner calls ``on_trial_begin``/``on_trial_end`` around each trial and, through its
``TunerCallback``, ``on_epoch_*``/``on_batch_*`` during ``fit``. Here the user's tuner
travels to the worker with the trial (its results stay in the driver) and the hooks it
overrides run on that copy: what one sets on ``self`` is there for the trial's later hooks.
``keras_tuner/_tuner_methods.py`` says which hook is called when.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from raytune_hpt.errors import is_failed_trial_error, is_fatal_error
from raytune_hpt.keras_tuner import KerasTunerMethods, Trial

__all__ = ["TrialHooks"]

# The hooks a Keras callback calls during fit (save_model at each epoch's end)
_FIT_HOOKS = frozenset({"on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
                        "save_model"})


@dataclass
class TrialHooks:
    """The user's tuner and the names of the hooks its class overrides (only those are
    called: the others do nothing, and a batch hook left alone costs nothing per batch)."""

    tuner: KerasTunerMethods
    names: frozenset[str]

    @classmethod
    def of(cls, tuner: KerasTunerMethods) -> TrialHooks:
        """The hooks of a tuner whose ``run_trial`` runs here (a custom trial)."""
        return cls(tuner, frozenset(tuner.overridden_hooks()))

    @contextlib.contextmanager
    def around(self, trial: Trial, *, fit: bool = True) -> Iterator[list]:
        """``on_trial_begin`` before the block, ``on_trial_end`` after it (with the trial's
        status; not after a fatal error, as in Keras Tuner); yields the Keras callbacks that
        call the fit hooks (none with ``fit=False``: a run_trial calls them itself, and may
        not use Keras at all)."""
        if "on_trial_begin" in self.names:
            self.tuner.on_trial_begin(trial)
        try:
            yield self._callbacks(trial) if fit else []
        except Exception as error:
            if not is_fatal_error(error):
                trial.status = "FAILED" if is_failed_trial_error(error) else "INVALID"
                trial.message = f"{type(error).__name__}: {error}"
                self._end(trial)
            raise
        trial.status = "COMPLETED"
        self._end(trial)

    def _end(self, trial: Trial) -> None:
        if "on_trial_end" in self.names:
            self.tuner.on_trial_end(trial)

    def _callbacks(self, trial: Trial) -> list:
        names = self.names & _FIT_HOOKS
        if not names:
            return []
        from raytune_hpt.worker._callbacks import TunerCallback

        return [TunerCallback(self.tuner, trial, names)]


@contextlib.contextmanager
def no_hooks() -> Iterator[list]:
    """What :meth:`TrialHooks.around` is for a tuner that overrides none."""
    yield []
