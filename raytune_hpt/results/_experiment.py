"""Reading an experiment: trials, the best one, its model, a table.

One module reads results for everybody (``Tuner``, the ``best``/``results``/``resume``
commands): a finished run's ``ResultGrid``, or Ray's standard layout on disk or in object
storage (``<storage_path>/<name>/<trial>/{result.json,progress.csv,checkpoint_*}``) plus the
``raytune_hpt.json`` the Tuner writes beside it (objective and space).

A trial's score is its objective at its best epoch (Keras Tuner's rule) and its model is
the checkpoint of that epoch, so evaluating the best model reproduces the best score.
Metric history is read from ``progress.csv`` when it has more rows than ``result.json``
(after a HyperBand pause and resume, ``result.json`` loses the rows from before the pause).
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt import _ray_compat, storage
from raytune_hpt._checks import is_finite_number
from raytune_hpt._format import best_trial_lines, format_value
from raytune_hpt._record import METADATA_FILE, MODEL_FILE, TRIAL_ERROR, load_checkpoint
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.results._keys import is_metric_key

__all__ = ["ExperimentResults", "TrialRecord", "load"]


@dataclass
class TrialRecord:
    """One trial as a person reads it."""

    trial_id: str
    status: str  # finished | stopped | failed | running | pending | paused
    hyperparameters: dict[str, Any]
    metrics: dict[str, float]  # at the last epoch run
    best_metrics: dict[str, float]  # at the epoch where the objective was best
    epochs: int
    wall_time: float
    error: str | None = None
    checkpoint: str | None = None  # the best epoch's checkpoint folder (path or URI)
    node_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def score(self, objective: Objective) -> float:
        value = self.best_metrics.get(objective.name, math.nan)
        return value if isinstance(value, float) and math.isfinite(value) else math.nan


def _finite(value: Any) -> bool:
    return is_finite_number(value)


def _user_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The metrics of one report, without Ray's bookkeeping and the config columns."""
    return {k: float(v) for k, v in row.items() if _finite(v) and is_metric_key(k)}


def _progress_rows(trial_path: str) -> list[dict[str, Any]]:
    import pyarrow.csv

    path = storage.join(trial_path, "progress.csv")
    try:
        text = storage.read_text(path)
    except (FileNotFoundError, OSError):
        return []
    # Ray writes whole lines; a last line without its newline was cut short by a crash.
    text = text[: text.rfind("\n") + 1]
    if "\n" not in text.strip():  # no complete row under the header
        return []
    table = pyarrow.csv.read_csv(io.BytesIO(text.encode("utf-8")))
    return table.to_pylist()


def _metric_rows(result: Any) -> list[dict[str, Any]]:
    frame = result.metrics_dataframe
    rows = frame.to_dict("records") if frame is not None else []
    from_csv = _progress_rows(result.path) if result.path else []
    return from_csv if len(from_csv) > len(rows) else rows


class ExperimentResults:
    """All trials of one experiment.

    Args:
        result_grid: Ray Tune's ``ResultGrid`` for the experiment.
        metadata: what the Tuner recorded: objective, space, searcher, epochs.
    """

    def __init__(self, result_grid: Any, metadata: dict[str, Any], path: str | None = None) -> None:
        self.result_grid = result_grid
        self.metadata = metadata
        self.objective = Objective.coerce(metadata["objective"])
        self.space = HyperParameters.from_config(metadata.get("space", {"space": []}))
        self.path = path or result_grid.experiment_path
        self.trials = [self._record(trial, result) for trial, result in self._pairs()]

    @classmethod
    def from_result_grid(cls, result_grid: Any, metadata: dict[str, Any]) -> ExperimentResults:
        return cls(result_grid, metadata)

    def _pairs(self) -> list[tuple[Any, Any]]:
        return _ray_compat.result_grid_pairs(self.result_grid)

    def _record(self, trial: Any, result: Any) -> TrialRecord:
        name, mode = self.objective.name, self.objective.mode
        rows = _metric_rows(result)
        metrics = _user_metrics(rows[-1] if rows else result.metrics or {})
        scored = [r for r in rows if _finite(r.get(name))]
        best_row = (max if mode == "max" else min)(scored, key=lambda r: r[name]) if scored else {}
        best_metrics = _user_metrics(best_row)
        if rows and not scored and name in (rows[-1] or {}):
            best_metrics = {name: math.nan}
        checkpoint = None
        if result.best_checkpoints:
            finite = [(c, m) for c, m in result.best_checkpoints if _finite(m.get(name))]
            if finite:
                checkpoint = (max if mode == "max" else min)(
                    finite, key=lambda cm: cm[1][name]
                )[0].path
        if checkpoint is None and result.checkpoint is not None:
            checkpoint = result.checkpoint.path
        epochs = int(max((r.get("epoch") or 0) for r in rows)) if rows else 0
        max_epochs = self.metadata.get("epochs")
        status = {"TERMINATED": "finished", "ERROR": "failed", "RUNNING": "running",
                  "PENDING": "pending", "PAUSED": "paused"}.get(trial.status, trial.status.lower())
        last = rows[-1] if rows else (result.metrics or {})
        failed_in_trial = last.get(TRIAL_ERROR)  # FailedTrialError: reported, not raised
        failed_in_trial = failed_in_trial if isinstance(failed_in_trial, str) else None
        if (status == "finished" and max_epochs and epochs < max_epochs
                and _finite(metrics.get(name))):
            status = "stopped"
        if failed_in_trial:
            status = "failed"
        return TrialRecord(
            trial_id=trial.trial_id,
            status=status,
            hyperparameters=(
                self.space.active_values(trial.config) if self.space.space
                else dict(trial.config)
            ),
            metrics=metrics,
            best_metrics=best_metrics,
            epochs=epochs,
            wall_time=float(last.get("time_total_s") or 0.0),
            error=str(result.error).strip().splitlines()[-1][:500] if result.error
            else failed_in_trial or None,
            checkpoint=checkpoint,
            node_id=next((r["node_id"] for r in reversed(rows) if r.get("node_id")), None),
            history=rows,
        )

    # -- ranking ------------------------------------------------------------------------
    def ranked_trials(self) -> list[TrialRecord]:
        """Trials with a finite objective, best first; NaN/inf trials are never ranked.

        For a Pareto objective: by Pareto rank (the front first), then by the first
        objective; trials without a finite value of every objective are not ranked."""
        scored = [t for t in self.trials if not math.isnan(t.score(self.objective))]
        ordered = sorted(scored, key=lambda t: t.score(self.objective),
                         reverse=self.objective.direction == "max")
        if self.objective.is_pareto:
            ranks = self.pareto_ranks()
            ordered = sorted((t for t in ordered if ranks[t.trial_id] is not None),
                             key=lambda t: ranks[t.trial_id])  # type: ignore[arg-type,return-value]
        return ordered

    def pareto_ranks(self) -> dict[str, int | None]:
        """Each trial's non-domination rank over the objective's terms (0: the Pareto front;
        None: a value missing). A single objective has one term: rank = place among ties."""
        from raytune_hpt.results._pareto import pareto_ranks, trial_point

        cached = getattr(self, "_pareto_ranks", None)  # sorting is quadratic in the trials
        if cached is not None and cached[0] is self.trials and len(cached[1]) == len(self.trials):
            return cached[1]
        terms = self.objective.terms if self.objective.is_pareto else (self.objective,)
        ranks = pareto_ranks([trial_point(t, terms) for t in self.trials],
                             [t.direction for t in terms])
        by_id = {t.trial_id: r for t, r in zip(self.trials, ranks, strict=True)}
        self._pareto_ranks = (self.trials, by_id)
        return by_id

    def pareto_front(self) -> list[TrialRecord]:
        """The non-dominated trials (rank 0), by the first objective; see :meth:`pareto_ranks`."""
        ranks = self.pareto_ranks()
        return [t for t in self.ranked_trials() if ranks[t.trial_id] == 0]

    def best_trials(self) -> list[TrialRecord]:
        """The Pareto front for a Pareto objective, else ``[best_trial()]``."""
        return self.pareto_front() if self.objective.is_pareto else [self.best_trial()]

    def best_trial(self) -> TrialRecord:
        ranked = self.ranked_trials()
        if not ranked:
            failed = [t for t in self.trials if t.error]
            reason = f" The first error: {failed[0].error}" if failed else ""
            raise ValueError(
                f"No trial of {self.path} reported a finite '{self.objective.name}'.{reason}"
            )
        return ranked[0]

    def best_hyperparameters(self, num_trials: int = 1) -> list[dict[str, Any]]:
        """The best ``num_trials`` trials' values; for a Pareto objective at least the whole
        front (``Tuner.get_best_hyperparameters()`` returns the front)."""
        if self.objective.is_pareto:
            num_trials = max(num_trials, len(self.pareto_front()))
        return [dict(t.hyperparameters) for t in self.ranked_trials()[:num_trials]]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return counts

    def trials_at_once(self) -> int:
        """The most trials that ran at the same time (from when each started or resumed to
        its last report before a pause or the end)."""
        from raytune_hpt.results._intervals import max_trials_at_once, trial_runs

        return max_trials_at_once([run for t in self.trials for run in trial_runs(t.history)])

    # -- models ---------------------------------------------------------------------------
    def load_model(self, trial: TrialRecord, build: Callable[[], Any] | None = None) -> Any:
        """The trial's model at its best epoch.

        Args:
            build: builds the same model (weights and optimizer state are then loaded into
                it, so custom layers need no registration); without it the saved
                ``.keras`` file is loaded as it is.
        """
        if trial.checkpoint is None:
            raise ValueError(f"Trial {trial.trial_id} has no checkpoint.")
        from ray.tune import Checkpoint


        checkpoint = Checkpoint(trial.checkpoint, filesystem=self._filesystem())
        with checkpoint.as_directory() as folder:
            model = build() if build is not None else None
            # A model built without an Input (a Sequential starting with Flatten) has no
            # weights until it sees data: the saved .keras file, built, is loaded instead.
            if model is not None and model.built:
                load_checkpoint(folder, [model])
                return model
            import keras

            return keras.models.load_model(os.path.join(folder, MODEL_FILE))

    def _filesystem(self) -> Any:
        return _ray_compat.result_grid_filesystem(self.result_grid)

    def best_model(self) -> Any:
        return self.load_model(self.best_trial())

    def export_best_model(self, path: str) -> str:
        """Save the best model as a ``.keras`` file at ``path``."""
        if not path.endswith(".keras"):
            raise ValueError(f"The exported model's path must end with '.keras', but got {path!r}.")
        self.best_model().save(path)
        return path

    # -- tables -----------------------------------------------------------------------------
    def to_table(self) -> Any:
        """One row per trial as a ``pyarrow.Table``: id, status, each hyperparameter,
        final and best value of every metric, epochs, wall time, error."""
        import pyarrow as pa

        names = [hp.name for hp in self.space.space] or sorted(
            {k for t in self.trials for k in t.hyperparameters})
        metric_names = sorted({k for t in self.trials for k in t.metrics if "/" not in k})
        rows = []
        ranks = self.pareto_ranks() if self.objective.is_pareto else {}
        for t in self.trials:
            row: dict[str, Any] = {"trial_id": t.trial_id, "status": t.status}
            row.update({f"hp_{n}": t.hyperparameters.get(n) for n in names})
            row.update({f"final_{m}": t.metrics.get(m) for m in metric_names})
            row.update({f"best_{m}": t.best_metrics.get(m) for m in metric_names})
            row.update(epochs=t.epochs, wall_time_s=t.wall_time, error=t.error,
                       checkpoint=t.checkpoint, node_id=t.node_id)
            if self.objective.is_pareto:  # 0: on the front; None: an objective missing
                row["pareto_rank"] = ranks[t.trial_id]
            rows.append(row)
        columns: dict[str, list] = {
            key: [r.get(key) for r in rows] for key in (rows[0] if rows else {})
        }
        for key, values in columns.items():  # one hyperparameter may hold ints and floats
            kinds = {type(v) for v in values if v is not None}
            if kinds == {int, float}:
                columns[key] = [None if v is None else float(v) for v in values]
            elif len(kinds) > 1:
                columns[key] = [None if v is None else str(v) for v in values]
        return pa.table(columns)

    def summary(self, num_trials: int = 10) -> str:
        """A readable report: counts, the best trial, the top trials (the Pareto front)."""
        if self.objective.is_pareto:
            from raytune_hpt.results._pareto import front_lines

            counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
            return "\n".join([f"Experiment: {self.path}",
                              f"Objective: {self.objective!r}   Trials: {len(self.trials)} "
                              f"({counts})", *front_lines(self, num_trials)])
        name = self.objective.name
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        lines = [f"Experiment: {self.path}",
                 f"Objective: {name} ({self.objective.direction})   Trials: {len(self.trials)} "
                 f"({counts}); at most {self.trials_at_once()} at once"]
        ranked = self.ranked_trials()
        if ranked:
            best = ranked[0]
            at = int(best.best_metrics.get("epoch", best.epochs))
            lines += best_trial_lines(best, self.objective, note=f" at epoch {at}")
            lines.append("")
            hp_names = list(best.hyperparameters)
            header = ["trial", "status", "epochs", name, *hp_names]
            table = [header] + [
                [t.trial_id, t.status, str(t.epochs), f"{t.score(self.objective):.4f}",
                 *(format_value(t.hyperparameters.get(h, "-")) for h in hp_names)]
                for t in ranked[:num_trials]
            ]
            widths = [max(len(row[i]) for row in table) for i in range(len(header))]
            lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                      for row in table]
        failed = [t for t in self.trials if t.status == "failed"]
        for t in failed[:3]:
            lines.append(f"Failed trial {t.trial_id}: {t.error}")
        return "\n".join(lines)

    def report(self, path: str, objectives: list[Any] | None = None) -> str:
        """Write one self-contained HTML report (plots and the trial table) to ``path``.

        Needs plotly (``pip install 'raytune-hpt[report]'``); see ``_report.write_report``.
        """
        from raytune_hpt.results._report import write_report

        return write_report(self, path, objectives)




def load(path: str) -> ExperimentResults:
    """Read an experiment from ``<storage_path>/<name>`` (a folder or an ``s3://`` URI)."""
    from ray.tune import ExperimentAnalysis, ResultGrid

    path = storage.normalize(path)
    metadata_path = storage.join(path, METADATA_FILE)
    if not storage.exists(metadata_path):
        raise FileNotFoundError(
            f"{path} is not a raytune_hpt experiment: {METADATA_FILE} is missing."
        )
    metadata = json.loads(storage.read_text(metadata_path))
    fs, inner = storage.filesystem(path)
    objective = Objective.coerce(metadata["objective"])
    analysis = ExperimentAnalysis(inner if storage.is_uri(path) else path, storage_filesystem=fs,
                                  default_metric=objective.name, default_mode=objective.mode)
    return ExperimentResults(ResultGrid(analysis), metadata, path=path)

