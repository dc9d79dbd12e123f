"""Keras Tuner's ``Trial``: one trial's id, hyperparameters, score and status."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Trial"]

# raytune_hpt's statuses -> Keras Tuner's TrialStatus values
_STATUS = {"finished": "COMPLETED", "stopped": "STOPPED", "failed": "FAILED",
           "running": "RUNNING", "pending": "IDLE", "paused": "IDLE"}


@dataclass
class Trial:
    """A trial as Keras Tuner code reads it: ``trial_id``, ``hyperparameters``, ``score``,
    ``status``, ``metrics`` and ``best_step`` (the 0-based best epoch)."""

    trial_id: str
    hyperparameters: Any
    score: float | None = None
    status: str = "RUNNING"
    metrics: dict[str, float] = field(default_factory=dict)
    best_step: int | None = None
    message: str | None = None

    @classmethod
    def from_record(cls, record: Any, space: Any, objective: Any) -> Trial:
        score = record.score(objective)
        epoch = record.best_metrics.get("epoch")
        return cls(trial_id=record.trial_id,
                   hyperparameters=space.copy(record.hyperparameters),
                   score=None if math.isnan(score) else score,
                   status=_STATUS.get(record.status, record.status.upper()),
                   metrics=dict(record.best_metrics),
                   best_step=int(epoch) - 1 if epoch else None,
                   message=record.error)

    def summary(self) -> str:
        lines = [f"Trial {self.trial_id} summary", "Hyperparameters:"]
        lines += [f"{k}: {v}" for k, v in self.hyperparameters.values.items()]
        lines.append(f"Score: {self.score}")
        return "\n".join(lines)
