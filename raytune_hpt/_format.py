"""How values and the best trial read as text: the console, summaries, the CLI and the report."""

from __future__ import annotations

from typing import Any

__all__ = ["best_trial_lines", "format_value", "format_values"]


def format_value(value: Any) -> str:
    """Floats to four significant digits, whole ones from 10,000 on as integers (a parameter
    count reads 24010, not 2.401e+04), anything else as ``str``."""
    if isinstance(value, float) and value.is_integer() and 1e4 <= abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_values(values: dict[str, Any]) -> str:
    """``name=value, ...`` in the dict's order."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in values.items())


def best_trial_lines(trial: Any, objective: Any, metrics: dict[str, Any] | None = None,
                     note: str = "") -> list[str]:
    """``Best trial ID: name = score<note>``, its hyperparameters and, given, ``metrics``
    (sorted): the one way a best trial is printed (summary, ``best``, ``run``, the report)."""
    lines = [f"Best trial {trial.trial_id}: {objective.name} = {trial.score(objective):.4f}{note}",
             "  hyperparameters: " + format_values(trial.hyperparameters)]
    if metrics is not None:
        lines.append("  metrics: " + format_values(dict(sorted(metrics.items()))))
    return lines
