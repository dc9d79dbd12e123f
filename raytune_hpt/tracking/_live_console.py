"""The live console of a search (driver side): a progress line and one line per ended trial.

Ray Tune's own reporter prints a box per trial and per status update; at the default
verbosity it is off and this callback prints what a Keras Tuner user expects instead::

    Trial 3/10 7f3a2b1c finished in 12.3s  val_accuracy=0.9812 (epoch 5)  best 0.9812
        units=256, act=relu, lr=0.0021
    [3/10] running 2, pending 0, paused 0, finished 2, stopped 1, failed 0 | 0:00:24 elapsed, ~0:00:55 left

In a terminal the progress line is a ``rich`` progress bar that redraws; in a log file or
CI (not a terminal) every line is plain text without control characters. A failed trial
prints its error's last line and where the full traceback is; a diverged one (its loss or a
metric became NaN/inf) prints the epoch and the values, and is never the best. The counts
are Ray's trial states at that moment, the trial that is ending counted as ended (Ray still
calls it running while its end is reported): ``paused`` are trials a scheduler (HyperBand,
PBT) holds between rungs.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from ray.tune import Callback

from raytune_hpt._checks import is_finite_number
from raytune_hpt._format import format_value, format_values
from raytune_hpt._record import DIVERGED, DIVERGED_ON, TRIAL_ERROR, trial_cause
from raytune_hpt.objective import Objective

__all__ = ["ConsoleReporter"]


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ConsoleReporter(Callback):
    """Prints the search's progress and a line per finished, stopped or failed trial.

    Args:
        objective: what is compared ("best so far").
        max_trials: the trial budget (the progress bar's total).
        epochs: each trial's epoch budget (a trial that reports fewer was stopped early).
        stream: where to print (default: standard output).
    """

    def __init__(self, objective: Objective, max_trials: int, epochs: int | None,
                 stream: TextIO | None = None) -> None:
        self.objective, self.max_trials, self.epochs = objective, max_trials, epochs
        self.stream = stream
        self._reset()

    def _reset(self) -> None:
        self.started = time.monotonic()
        self.numbers: dict[str, int] = {}
        self.best_of: dict[str, tuple[float, int]] = {}  # trial -> (best value, its epoch)
        self.ended = {"finished": 0, "stopped": 0, "failed": 0, "diverged": 0, "not started": 0}
        self.best: float | None = None
        self._progress: Any = None
        self._redrawn = 0.0

    def __getstate__(self) -> dict:  # Ray pickles the run config; the console stays here
        return {"objective": self.objective, "max_trials": self.max_trials,
                "epochs": self.epochs, "stream": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    # -- Ray Tune hooks ----------------------------------------------------------------------
    def setup(self, *args: Any, **kwargs: Any) -> None:
        out = self.stream or sys.stdout
        if out.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"),
                                      TimeRemainingColumn(), transient=True)
            self._task = self._progress.add_task("trials", total=self.max_trials)
            self._progress.start()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # Ray's list holds a resumed search's earlier trials too: numbers go on from them
        number = next((k for k, t in enumerate(trials, 1) if t is trial), len(self.numbers) + 1)
        self.numbers.setdefault(trial.trial_id, number)
        self._refresh(trials)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        value = result.get(self.objective.name)
        if not is_finite_number(value):
            return
        held = self.best_of.get(trial.trial_id)
        if held is None or self.objective.better(float(value), held[0]):
            self.best_of[trial.trial_id] = (float(value), int(result.get("epoch") or 0))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self._progress is not None and time.monotonic() - self._redrawn >= 1.0:
            self._refresh(trials)  # the bar's counts follow pauses and resumptions

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = (trial.last_result or {}).get(TRIAL_ERROR)
        if error:
            self._ended(trials, trial, "failed", f"FAILED: {error}")
            return
        last = trial.last_result or {}
        if is_finite_number(last.get(DIVERGED)):
            self._ended(trials, trial, "diverged",
                        f"DIVERGED at epoch {int(last[DIVERGED])} in {self._duration(trial)}: "
                        f"{last.get(DIVERGED_ON) or 'NaN/inf'} (stopped there, not ranked)")
            return
        epoch = int(last.get("epoch") or 0)
        if not epoch:  # ended before its first report: the search stopped (a time budget)
            self._ended(trials, trial, "not started", "not started: the search ended first")
            return
        status = "stopped" if self.epochs and epoch < self.epochs else "finished"
        held = self.best_of.get(trial.trial_id)
        if held is not None and (self.best is None or self.objective.better(held[0], self.best)):
            self.best = held[0]
        score = (f"{self.objective.name}={format_value(held[0])} (epoch {held[1]})" if held
                 else f"{self.objective.name}=n/a")
        best = f"best {format_value(self.best)}" if self.best is not None else ""
        where = f" at epoch {epoch}/{self.epochs}" if status == "stopped" else ""
        self._ended(trials, trial, status, f"{status}{where} in {self._duration(trial)}  "
                    f"{score}  {best}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        cause = trial_cause(trial)
        lines = str(cause).strip().splitlines() if cause is not None else []
        last = f"{type(cause).__name__}: {lines[-1]}" if lines else "see the error file"
        self._ended(trials, trial, "failed",
                    f"FAILED after {self._duration(trial)}: {last[:300]} "
                    f"(traceback: {getattr(trial, 'error_file', None) or 'error.txt'})")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- printing ---------------------------------------------------------------------------
    def _ended(self, trials: list, trial: Any, status: str, text: str) -> None:
        self.ended[status] += 1
        number = self.numbers.setdefault(trial.trial_id, len(self.numbers) + 1)
        values = format_values(trial.config or {})
        self._print(f"Trial {number}/{self.max_trials} {trial.trial_id} {text}")
        if values:
            self._print(f"    {values}")
        self._refresh(trials, line=self._progress is None, ending=trial)

    def _refresh(self, trials: list, line: bool = False, ending: Any = None) -> None:
        done = sum(self.ended.values())
        states = [t.status for t in trials if t is not ending]
        elapsed = time.monotonic() - self.started
        self._redrawn = time.monotonic()
        left = (elapsed / done * (self.max_trials - done)) if done else math.nan
        text = (f"[{done}/{self.max_trials}] running {states.count('RUNNING')}, "
                f"pending {states.count('PENDING')}, paused {states.count('PAUSED')}, "
                + ", ".join(f"{k} {v}" for k, v in self.ended.items()
                            if v or k in ("finished", "stopped", "failed"))
                + f" | {_clock(elapsed)} elapsed"
                + (f", ~{_clock(left)} left" if math.isfinite(left) and done < self.max_trials
                   else ""))
        if self._progress is not None:
            self._progress.update(self._task, completed=done, description=text.split(" |")[0])
        elif line:
            self._print(text)

    def _print(self, text: str) -> None:
        out = self.stream or sys.stdout
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=out, flush=True)

    @staticmethod
    def _duration(trial: Any) -> str:
        seconds = (trial.last_result or {}).get("time_total_s")
        return f"{seconds:.1f}s" if is_finite_number(seconds) else "?"
