"""A Tuner subclass's Keras Tuner hooks, called in the trial on the Ray worker.

Keras Tuner calls ``on_trial_begin``/``on_trial_end`` around each trial and, through its
``TunerCallback``, ``on_epoch_*``/``on_batch_*`` during ``fit``. Here the user's tuner
travels to the worker with the trial (its results stay in the driver) and the hooks it
overrides run on that copy: what one sets on ``self`` is there for the trial's later hooks.
``keras_tuner/_tuner_methods.py`` says which hook is called when. The worker does not
import ``keras_tuner/`` (which reaches the running trial through this package's
``running_trial``): the tuner and Keras Tuner's ``Trial`` class come in a :class:`TrialHooks`
made in the driver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from raytune_hpt.errors import is_failed_trial_error, is_fatal_error
from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["HookedTrial", "HookedTuner", "TrialHooks"]


class HookedTrial(Protocol):
    """Keras Tuner's ``Trial`` as the hooks see it (``keras_tuner.Trial``)."""

    trial_id: str
    hyperparameters: Any
    status: str
    message: str | None


class HookedTuner(Protocol):
    """The user's tuner on the worker (``raytune_hpt.Tuner``): its Keras Tuner hooks and, for
    a custom trial, its ``run_trial``."""

    def on_trial_begin(self, trial: Any) -> None: ...
    def on_trial_end(self, trial: Any) -> None: ...
    def on_epoch_begin(self, trial: Any, model: Any, epoch: int, logs: Any = None) -> None: ...
    def on_epoch_end(self, trial: Any, model: Any, epoch: int, logs: Any = None) -> None: ...
    def on_batch_begin(self, trial: Any, model: Any, batch: int, logs: Any = None) -> None: ...
    def on_batch_end(self, trial: Any, model: Any, batch: int, logs: Any = None) -> None: ...
    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None: ...
    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any: ...

# The hooks a Keras callback calls during fit (save_model at each epoch's end)
_FIT_HOOKS = frozenset({"on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
                        "save_model"})


@dataclass
class TrialHooks:
    """The user's tuner, the names of the hooks its class overrides (only those are called:
    the others do nothing, and a batch hook left alone costs nothing per batch) and Keras
    Tuner's ``Trial`` class, which makes the trial the hooks and ``run_trial`` are given."""

    tuner: HookedTuner
    names: frozenset[str]
    trial_class: Callable[..., HookedTrial]

    def new_trial(self, trial_id: str, hyperparameters: HyperParameters) -> HookedTrial:
        return self.trial_class(trial_id=trial_id, hyperparameters=hyperparameters)

    @contextlib.contextmanager
    def around(self, trial: HookedTrial, *, fit: bool = True) -> Iterator[list]:
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

    def _end(self, trial: HookedTrial) -> None:
        if "on_trial_end" in self.names:
            self.tuner.on_trial_end(trial)

    def _callbacks(self, trial: HookedTrial) -> list:
        names = self.names & _FIT_HOOKS
        if not names:
            return []
        from raytune_hpt.worker._callbacks import TunerCallback

        return [TunerCallback({name: getattr(self.tuner, name) for name in names}, trial)]

