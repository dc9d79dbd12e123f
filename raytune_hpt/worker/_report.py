"""Reporting each epoch to Ray Tune, with a checkpoint, from inside a trial.

Ray's own Keras callbacks print deprecation warnings on every checkpoint (they go through
the deprecated ``TensorflowCheckpoint``); this reporter (driven by ``_callbacks``'
``ReportCallback``) uses ``ray.tune.report`` and ``ray.tune.Checkpoint`` directly, and
imports no Keras.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from ray import tune

from raytune_hpt._record import (
    DIVERGED,
    DIVERGED_ON,
    EPOCH,
    STATE_FILE,
    model_file,
)
from raytune_hpt.errors import ObjectiveNotLoggedError
from raytune_hpt.objective import Objective

__all__ = ["EpochReporter", "scalar_logs"]


def scalar_logs(logs: dict[str, Any] | None) -> dict[str, float]:
    metrics = {}
    for key, value in (logs or {}).items():
        try:
            metrics[key] = float(value)
        except (TypeError, ValueError):  # non-scalar logs (e.g. per-class arrays) are skipped
            continue
    return metrics


def not_finite(metrics: dict[str, float], names: Sequence[str]) -> str:
    """``"loss=nan, val_loss=inf"`` for the ``names`` whose value in ``metrics`` is NaN or
    infinite (``""``: none): what makes a trial diverged."""
    return ", ".join(f"{n}={metrics[n]}" for n in dict.fromkeys(names)
                     if n in metrics and not math.isfinite(metrics[n]))


class EpochReporter:
    """Turns one epoch's Keras logs into a Ray Tune report with a checkpoint.

    Args:
        objective: checked at the first report; a missing one fails loudly.
        models: one model, or one per cross-validation fold (saved side by side).
        extra: fields added to the first report of each (re)start: where the trial runs.
        checkpoint: save the models with each report (needed to pause, resume and pick
            the best model).
        defer_missing: when the epoch logs lack the objective, keep them instead of failing:
            a custom ``HyperModel.fit`` may return the objective only at its end.
        costs: measures the model's costs (``params``, ...; ``_costs.ModelCosts``) added to
            every report; the model's own logs win.
    """

    def __init__(self, objective: Objective, models: Sequence[Any],
                 extra: dict[str, Any] | None = None,
                 checkpoint: bool = True, defer_missing: bool = False, costs: Any = None) -> None:
        self.objective = objective
        self.defer_missing = defer_missing
        self.deferred: dict[str, float] = {}
        self.models = list(models)
        self.extra = dict(extra or {})
        self.checkpoint = checkpoint
        self.costs = costs
        self.reports = 0
        self.stop = False

    def report(self, epoch: int, logs: dict[str, Any] | None,
               fold_logs: Sequence[dict[str, Any]] = (), info: dict[str, Any] | None = None,
               ) -> None:
        """Report 0-based ``epoch``; sets :attr:`stop` when the trial diverged: its loss,
        objective or any metric it logs is NaN or infinite (the report then carries
        ``DIVERGED``, the epoch, and ``DIVERGED_ON``, the values). ``info`` adds non-metric
        fields as they are (strings)."""
        logged = scalar_logs(logs)
        metrics = dict(logged)
        if self.costs is not None and self.models:
            metrics = {**self.costs.metrics(self.models[0]), **metrics}
        metrics = self.objective.add_to(metrics)
        missing = [n for n in self.objective.metric_names() if n not in metrics]
        if missing:
            if self.defer_missing:
                self.deferred = metrics
                return
            raise ObjectiveNotLoggedError(missing[0], list(metrics))
        for k, fold in enumerate(fold_logs):
            metrics.update({f"fold{k}/{key}": v for key, v in scalar_logs(fold).items()})
        metrics[EPOCH] = epoch + 1
        if self.reports == 0:  # where the trial runs: once per (re)start, not every epoch
            metrics.update(self.extra)
        metrics.update(info or {})
        metrics["tf_reported_at"] = time.time()  # when it ran: Ray's timestamp is whole seconds
        diverged = not_finite(metrics, [*self.objective.metric_names(), *logged])
        if diverged:  # no more compute: a NaN loss stays NaN (results never rank it)
            self.stop = True
            metrics[DIVERGED], metrics[DIVERGED_ON] = epoch + 1, diverged
        self.reports += 1
        if not self.checkpoint:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="rth-ckpt-") as folder:
            for k, model in enumerate(self.models):
                model.save(os.path.join(folder, model_file(k)))
            with open(os.path.join(folder, STATE_FILE), "w") as file:
                json.dump({EPOCH: epoch + 1, "metrics": metrics,  # trial_id: PBT's exploit
                           "trial_id": tune.get_context().get_trial_id()}, file)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
