"""The results table: one row per trial (``ExperimentResults.to_table``)."""

from __future__ import annotations

from typing import Any

__all__ = ["model_column", "results_table"]


def results_table(results: Any) -> Any:
    """One row per trial as a ``pyarrow.Table``: id, status, each hyperparameter (``hp_*``),
    final and best value of every metric (``final_*``, ``best_*``), epochs, wall time, error,
    the best checkpoint, ``model`` (:func:`model_column`), the node; ``pareto_rank`` for a
    Pareto objective."""
    import pyarrow as pa

    names = [hp.name for hp in results.space.space] or sorted(
        {k for t in results.trials for k in t.hyperparameters})
    metric_names = sorted({k for t in results.trials for k in t.metrics if "/" not in k})
    rows = []
    ranks = results.pareto_ranks() if results.objective.is_pareto else {}
    for t in results.trials:
        row: dict[str, Any] = {"trial_id": t.trial_id, "status": t.status}
        row.update({f"hp_{n}": t.hyperparameters.get(n) for n in names})
        row.update({f"final_{m}": t.metrics.get(m) for m in metric_names})
        row.update({f"best_{m}": t.best_metrics.get(m) for m in metric_names})
        row.update(epochs=t.epochs, wall_time_s=t.wall_time, error=t.error,
                   checkpoint=t.checkpoint, model=model_column(t), node_id=t.node_id)
        if results.objective.is_pareto:  # 0: on the front; None: an objective missing
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


def model_column(record: Any) -> str | None:
    """A row's ``model``: ``"kept"``, ``"pruned"`` (its checkpoints were deleted under
    ``keep_models``: it has no model) or None (the trial never saved one)."""
    if getattr(record, "model_pruned", False):
        return "pruned"
    return "kept" if record.checkpoint else None
