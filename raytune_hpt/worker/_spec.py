"""What the driver ships to every trial besides its config and the data: one TrialSpec.

It travels pickled with each trial (``tune.with_parameters``); unpickled on a worker it first
imports Keras without what a trial does not need (``_tf_setup.import_keras_lean``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.worker._hooks import TrialHooks
from raytune_hpt.worker._tf_setup import import_keras_lean

__all__ = ["TrialSpec"]


@dataclass
class TrialSpec:
    """Everything a trial needs besides its config and the data."""
    hypermodel: Any
    space: HyperParameters
    objective: Objective
    epochs: int
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    cv: int | None = None
    cpus: float = 1.0
    seed: int | None = None
    checkpoint: bool = True
    meta_optimizer: bool = False
    gpus: float = 0.0  # the trial's GPU share; configure_tensorflow plans TensorFlow's GPUs
    gpu_memory_mb: int | None = None
    # numpy training data of at least this many bytes is fed batch by batch from the shared
    # object-store copy (_feeding.py); None: never (always Keras's array adapter). The
    # Tuner sets it from its shared_arrays_mb (default: settings.SHARED_ARRAYS_MB).
    shared_arrays_bytes: int | None = None
    # Keras Tuner's options: models trained per trial (the objective is their mean), and
    # compile arguments that replace those of build(hp)
    executions: int = 1
    compile_overrides: dict[str, Any] = field(default_factory=dict)
    max_model_size: int | None = None
    # A trial that raises is tried again this many times in the same worker (TensorFlow
    # stays imported), from its last checkpoint; Ray restarts only a worker that died.
    retries: int = 0
    # A Tuner subclass's overridden Keras Tuner hooks (worker/_hooks.py), called in the trial
    hooks: TrialHooks | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Unpickled in a worker, a spec with a model first imports Keras without the
        # libraries a trial does not need (import_keras_lean), before its hypermodel, whose
        # unpickling would import Keras in full. Arguments are unpickled in order.
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        first = _LeanKeras() if self.hypermodel is not None else None
        return _rebuilt_spec, (first, fields)


class _LeanKeras:
    """Unpickles to nothing, having called :func:`import_keras_lean` (see TrialSpec)."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return import_keras_lean, ()


def _rebuilt_spec(first: Any, fields: dict[str, Any]) -> TrialSpec:
    return TrialSpec(**fields)
