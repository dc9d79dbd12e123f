"""One self-contained HTML report of an experiment (plotly.js inlined: opens offline).

Sections: optimisation history, parallel coordinates, one slice per hyperparameter, learning
curves of the best trials, hyperparameter importance, the Pareto front (more than one
objective), failed trials with their errors and the table of every trial. The figures are
``_plots.py``'s, drawn from ``_plot_data.py``; importance is ``_importance.py``'s.
"""

from __future__ import annotations

import datetime
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raytune_hpt._format import best_trial_lines, format_value, format_values
from raytune_hpt.objective import Objective
from raytune_hpt.results import _plot_data as _data
from raytune_hpt.results import _plots
from raytune_hpt.results._importance import METHOD, MIN_TRIALS, hyperparameter_importance

__all__ = ["write_report"]

_INSTALL = "pip install 'raytune-hpt[report]'"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1320px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.meta { color: #555; } .note { color: #666; font-style: italic; }
.slices { display: flex; flex-wrap: wrap; gap: 8px; }
table.trials { border-collapse: collapse; font-size: 0.9em; }
table.trials th, table.trials td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
table.trials th { background: #f3f3f3; }
tr.status-failed, tr.status-diverged { background: #fde8e8; }
tr.status-stopped { background: #fff6dd; }
table.trials td { white-space: nowrap; } table.trials td:last-child { white-space: normal; }
td.absent { color: #999; } pre.error { white-space: pre-wrap; background: #fde8e8; padding: 6px; }
"""


def _require_plotly() -> None:
    try:
        import plotly  # noqa: F401
    except ImportError as error:
        raise ImportError(f"The report needs plotly: {_INSTALL}") from error


def write_report(
    results: Any, path: str | Path, objectives: Sequence[Objective | str | tuple] | None = None
) -> str:
    """Write one self-contained HTML report of ``results`` to ``path``.

    Args:
        results: an :class:`~raytune_hpt.results.ExperimentResults` (finished or running).
        path: the HTML file to write (its folder is created).
        objectives: the metrics to trade off; default the experiment's objective alone (a
            Pareto objective's terms). With two or more, a Pareto front of the first two is
            drawn.

    Returns:
        The path written, as a string.

    Raises:
        ImportError: plotly is not installed (``pip install 'raytune-hpt[report]'``).

    Example:
        >>> write_report(load("results/digits"), "report.html")  # doctest: +SKIP
        'report.html'
    """
    _require_plotly()
    default = (list(results.objective.terms) if results.objective.is_pareto  # its front
               else [results.objective])
    chosen = [Objective.coerce(o) for o in (objectives or default)]
    views = _data.trial_views(results)
    axes = _data.hp_axes(results)
    body = [_header(results, views)]
    body += _plot_sections(results, views, axes, chosen)
    body += [_failed_section(views), _table_section(results, views, axes)]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_page(results, "\n".join(body)), encoding="utf-8")
    return str(target)


def _page(results: Any, body: str) -> str:
    from plotly.offline import get_plotlyjs

    title = html.escape(f"raytune-hpt report: {results.path}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _figure(fig: Any, div_id: str) -> str:
    width = fig.layout.width
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
        default_height=f"{fig.layout.height or 450}px",
        default_width=f"{width}px" if width else "100%",
    )


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _header(results: Any, views: list[_data.TrialView]) -> str:
    objective = results.objective
    counts = ", ".join(f"{n} {s}" for s, n in sorted(results.counts().items()))
    said = repr(objective) if objective.is_pareto else f"{objective.name} ({objective.direction})"
    lines = [
        f"Folder: {results.path}",
        f"Objective: {said}. "
        f"Trials: {len(views)} ({counts or 'none yet'}); "
        f"epoch budget {results.metadata.get('epochs', '?')}.",
        f"Written {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; a running "
        "experiment shows the trials reported so far.",
    ]
    ranked, front = results.ranked_trials(), ""
    if ranked and objective.is_pareto:  # every trial of the front, not one winner
        from raytune_hpt.results._pareto import front_lines

        front = f"<pre>{html.escape(chr(10).join(front_lines(results)))}</pre>"
    elif ranked:
        lines += [line.strip() for line in best_trial_lines(ranked[0], objective)]
    paragraphs = "".join(f'<p class="meta">{html.escape(line)}</p>' for line in lines)
    name = str(results.path).rstrip("/").rsplit("/", 1)[-1]
    return f"<h1>Experiment {html.escape(name)}</h1>\n{paragraphs}{front}"


def _plot_sections(
    results: Any,
    views: list[_data.TrialView],
    axes: list[_data.HpAxis],
    objectives: list[Objective],
) -> list[str]:
    objective = results.objective
    history = _section(
        "Optimisation history",
        _figure(_plots.history_figure(views, objective), "plot-history"),
        _note(
            "Markers: circles finished, crosses stopped early by the scheduler; the line is "
            "the best so far. Failed trials have no objective and are listed below."
        ),
    )
    if not any(math.isfinite(v.score) for v in views):
        return [history, _note(f"No trial has reported a finite {objective.name} yet.")]
    sections = [history]
    if axes:
        sections.append(
            _section(
                "Hyperparameters against the objective",
                _figure(_plots.parallel_figure(views, axes, objective), "plot-parallel"),
                _note(
                    f"A conditional hyperparameter that was inactive in a trial sits at "
                    f"'{_data.ABSENT}', below its axis' values."
                ),
            )
        )
        slices = "".join(
            _figure(_plots.slice_figure(views, a, objective), f"plot-slice-{k}")
            for k, a in enumerate(axes)
        )
        sections.append(
            _section(
                "Slices: the objective against each hyperparameter",
                f'<div class="slices">{slices}</div>',
            )
        )
    sections.append(
        _section(
            f"Learning curves of the {_data.CURVES} best trials",
            _figure(_plots.curves_figure(results, views), "plot-curves"),
            _note("Dashed lines ending in a cross: trials the scheduler stopped early."),
        )
    )
    sections.append(_importance_section(views, axes))
    if len(objectives) > 1:
        sections.append(
            _section(
                "Pareto front", _figure(_plots.pareto_figure(views, objectives), "plot-pareto")
            )
        )
    return sections


def _importance_section(views: list[_data.TrialView], axes: list[_data.HpAxis]) -> str:
    scored = [v for v in views if math.isfinite(v.score)]
    rows = [[a.encode(v.record.hyperparameters.get(a.name)) for a in axes] for v in scored]
    shares = hyperparameter_importance(rows, [v.score for v in scored], [a.name for a in axes])
    if not shares:
        return _section(
            "Hyperparameter importance",
            _note(
                f"Needs at least {MIN_TRIALS} trials with a finite objective that differ; "
                f"{len(scored)} so far."
            ),
        )
    return _section(
        "Hyperparameter importance",
        _figure(_plots.importance_figure(shares), "plot-importance"),
        f'<p class="meta" id="importance-method">Method: {html.escape(METHOD)}, '
        f"over {len(scored)} trials.</p>",
    )


def _failed_section(views: list[_data.TrialView]) -> str:
    failed = [v for v in views if v.record.status in ("failed", "diverged")]
    title = ("Failed or diverged trials" if any(v.record.status == "diverged" for v in failed)
             else "Failed trials")
    if not failed:
        return _section(title, _note("None."))
    items = "".join(
        f'<li id="failed-{html.escape(v.record.trial_id)}">#{v.number} '
        f"{html.escape(v.record.trial_id)} "
        f"({html.escape(format_values(v.record.hyperparameters))})"
        f'<pre class="error">{html.escape(v.record.error or "no error recorded")}</pre></li>'
        for v in failed
    )
    return _section(f"{title} ({len(failed)})", f'<ul class="failed">{items}</ul>')


def _cell(value: Any, css: str = "") -> str:
    text = "" if value is None else format_value(value)
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{html.escape(text)}</td>"


def _table_section(results: Any, views: list[_data.TrialView], axes: list[_data.HpAxis]) -> str:
    objective = results.objective
    header = [
        "#",
        "trial",
        "status",
        f"{objective.name} (best epoch)",
        "epochs",
        "wall time (s)",
        *(a.name for a in axes),
        "error",
    ]
    rows = []
    for v in views:
        t = v.record
        status = _data.STATUS_NAMES.get(t.status, t.status)
        hps = "".join(
            _cell(t.hyperparameters[a.name])
            if a.name in t.hyperparameters
            else _cell(_data.ABSENT, "absent")
            for a in axes
        )
        rows.append(
            f'<tr class="status-{html.escape(t.status)}" data-trial="{html.escape(t.trial_id)}"'
            f' data-status="{html.escape(t.status)}">{_cell(v.number)}{_cell(t.trial_id)}'
            f"{_cell(status)}{_cell(v.score if math.isfinite(v.score) else None)}"
            f"{_cell(t.epochs)}{_cell(round(t.wall_time, 1))}{hps}{_cell(t.error)}</tr>"
        )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return _section(
        "All trials",
        f'<table class="trials"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>",
    )
