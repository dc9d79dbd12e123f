"""A search's wall-clock budget (``max_time``) and the time it has used over its runs.

``max_time`` counts this run's wall time, from the moment ``search()`` has checked its input
(resuming gives a new budget); the experiment's ``raytune_hpt.json`` records the total over
every run (``wall_time_s``) and, when the budget ended the run, ``"ended_by": "max_time"``.
``SearchGuard`` (``_supervision.py``) applies the budget; Ray's own
``TuneConfig(time_budget_s=...)`` is not used because it stops running trials at once, in the
middle of an epoch, and its clock starts again on every resume without a total. This module
imports neither Ray nor TensorFlow.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt import storage
from raytune_hpt._record import METADATA_FILE

__all__ = ["ENDED_BY_BUDGET", "SearchClock", "clock_text"]

#: ``raytune_hpt.json``'s ``"ended_by"`` when the time budget ended the last run.
ENDED_BY_BUDGET = "max_time"


def clock_text(seconds: float) -> str:
    """``"1:02:03"`` for 3723 seconds."""
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class SearchClock:
    """This run's start and budget, and the time earlier runs of the experiment used.

    Args:
        experiment_path: where an earlier run's total is read (once, lazily: before this
            run rewrites the metadata).
        max_time: this run's budget in seconds (None: none).
        fresh: the experiment starts afresh (``overwrite=True``): no earlier total.
    """

    experiment_path: str
    max_time: float | None = None
    fresh: bool = False
    started: float = field(default_factory=time.monotonic)
    #: Set by the guard when the budget ended the run.
    ended_by_budget: bool = False
    _earlier: float | None = None

    def elapsed(self) -> float:
        """This run's wall time so far, in seconds."""
        return time.monotonic() - self.started

    def over(self) -> bool:
        """Whether this run's budget is spent."""
        return self.max_time is not None and self.elapsed() >= self.max_time

    def earlier(self) -> float:
        """The wall time recorded by the experiment's earlier runs (0 for a new one)."""
        if self._earlier is None:
            self._earlier = 0.0 if self.fresh else _recorded_seconds(self.experiment_path)
        return self._earlier

    def metadata(self) -> dict[str, Any]:
        """What ``raytune_hpt.json`` records of the time: the total over runs, this run's
        budget, and who ended the run."""
        total = round(self.earlier() + self.elapsed(), 1)
        return {"wall_time_s": total, "max_time": self.max_time,
                **({"ended_by": ENDED_BY_BUDGET} if self.ended_by_budget else {})}


def _recorded_seconds(path: str) -> float:
    try:
        recorded = json.loads(storage.read_text(storage.join(path, METADATA_FILE)))
        seconds = float(recorded.get("wall_time_s") or 0.0)
    except Exception:  # no experiment yet, or one written before the total was kept
        return 0.0
    return seconds if seconds >= 0 else 0.0
