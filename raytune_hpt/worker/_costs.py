"""What a trial's model costs, measured inside the trial: size and latency (no user code).

* ``params``: trainable parameter count. Always reported (counting is free).
* ``model_bytes``: the size of the model saved as ``.keras`` (weights, config and optimizer
  state, as ``model.save`` writes it). Measured only when the objective names it.
* ``inference_ms``: median wall time of ``predict_on_batch`` on one batch (the ``fit``
  ``batch_size``, else 32 rows, from the training data, else zeros of the model's input
  shape) on the trial's device, after 3 warm-up calls, over 15 calls. Measured only when
  the objective names it.

None of the three depends on the weights' values (and a ``.keras`` file is stored
uncompressed), so each is measured once, at the trial's first report after it starts (or
resumes), when the model is built and trained, and the same value is repeated in every
epoch's report: a Pareto front or a scheduler reads it at any epoch. A metric the model
logs itself under one of these names wins.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any

import numpy as np

from raytune_hpt.objective import COST_METRICS, Objective

__all__ = ["ModelCosts", "inference_ms", "saved_bytes", "trainable_params", "trial_costs"]

_WARMUP, _REPEATS, _DEFAULT_BATCH = 3, 15, 32


def trainable_params(model: Any) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def saved_bytes(model: Any) -> int:
    with tempfile.TemporaryDirectory(prefix="rth-size-") as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        return os.path.getsize(path)


def _rows(x: Any, count: int) -> Any:
    """The first ``count`` rows of numpy input (an array, a list or a dict of arrays)."""
    if isinstance(x, np.ndarray):
        return x[:count]
    if isinstance(x, (list, tuple)) and x and all(isinstance(a, np.ndarray) for a in x):
        return [a[:count] for a in x]
    if isinstance(x, dict) and x and all(isinstance(a, np.ndarray) for a in x.values()):
        return {k: a[:count] for k, a in x.items()}
    return None


def _zeros_batch(model: Any, count: int) -> Any:
    """Zeros shaped like the model's inputs (for data that is not numpy)."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    batch = [np.zeros((count, *tuple(t.shape)[1:]), dtype=t.dtype) for t in inputs]
    return batch[0] if len(batch) == 1 else batch


def inference_ms(model: Any, batch: Any) -> float:
    """Median milliseconds of ``model.predict_on_batch(batch)``, after warm-up calls."""
    for _ in range(_WARMUP):  # tracing the predict function and first-call allocations
        model.predict_on_batch(batch)
    times = []
    for _ in range(_REPEATS):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


class ModelCosts:
    """Measures the wanted costs of a trial's model once and repeats them.

    Args:
        wanted: among :data:`~raytune_hpt.objective.COST_METRICS`.
        sample: input rows for the latency batch (None: zeros of the input shape).
        batch_size: rows per latency batch.
    """

    def __init__(self, wanted: tuple[str, ...], sample: Any = None,
                 batch_size: int = _DEFAULT_BATCH) -> None:
        self.wanted, self.sample, self.batch_size = wanted, sample, batch_size
        self._values: dict[str, float] | None = None

    def metrics(self, model: Any) -> dict[str, float]:
        """The costs of ``model``: measured at the first call, the same values afterwards."""
        if self._values is None and model is not None and getattr(model, "built", True):
            self._values = self._measure(model)
        return dict(self._values or {})

    def _measure(self, model: Any) -> dict[str, float]:
        values: dict[str, float] = {}
        if "params" in self.wanted:
            values["params"] = float(trainable_params(model))
        if "model_bytes" in self.wanted:
            values["model_bytes"] = float(saved_bytes(model))
        if "inference_ms" in self.wanted:
            batch = self.sample if self.sample is not None else _zeros_batch(
                model, self.batch_size)
            if batch is not None:
                values["inference_ms"] = inference_ms(model, batch)
        return values


def trial_costs(objective: Objective, fit_kwargs: dict[str, Any], folds: list) -> ModelCosts:
    """The costs a trial reports: ``params`` always, the others when ``objective`` names them.

    ``folds`` are ``run_trial``'s (positional fit arguments, fit kwargs) pairs; the latency
    batch is taken from the first one's ``x``.
    """
    named = set(objective.metric_names())
    wanted = tuple(m for m in COST_METRICS if m == "params" or m in named)
    batch_size = fit_kwargs.get("batch_size") or _DEFAULT_BATCH
    sample = None
    if "inference_ms" in wanted and folds and folds[0][0]:
        sample = _rows(folds[0][0][0], int(batch_size))
    return ModelCosts(wanted, sample, int(batch_size))
