"""The report's figures (plotly): one function per figure, drawn from ``_plot_data.py``."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from raytune_hpt._format import format_values
from raytune_hpt.objective import Objective
from raytune_hpt.results._plot_data import (
    COLORS,
    CURVES,
    STATUS_NAMES,
    SYMBOLS,
    HpAxis,
    TrialView,
    best_so_far,
    parallel_dimension,
    pareto_front,
)

# The importance chart: pixels per bar, and for the axis title and ticks below the bars
_IMPORTANCE_BAR, _IMPORTANCE_MARGIN = 44, 96

__all__ = [
    "curves_figure",
    "history_figure",
    "importance_figure",
    "parallel_figure",
    "pareto_figure",
    "slice_figure",
]


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _hover(view: TrialView) -> str:
    """Plotly renders tags in hover text (``<b>``, ``<a href>``): the values a results folder
    holds are escaped, only our own ``<br>`` stays markup."""
    record = view.record
    hps = html.escape(format_values(record.hyperparameters))
    return f"#{view.number} {html.escape(record.trial_id)} ({html.escape(record.status)})<br>{hps}"


def history_figure(views: list[TrialView], objective: Objective) -> Any:
    """Each trial's objective and the best so far, by trial number and by wall time."""
    from plotly.subplots import make_subplots

    go = _go()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("by trial number", "by wall time (s)"))
    scored = [v for v in views if math.isfinite(v.score)]
    for column, key in ((1, lambda v: v.number), (2, lambda v: v.end)):
        shown = sorted((v for v in scored if key(v) is not None), key=key)
        for status, symbol in SYMBOLS.items():
            group = [v for v in shown if v.record.status == status]
            if group:
                fig.add_trace(
                    go.Scatter(
                        x=[key(v) for v in group],
                        y=[v.score for v in group],
                        mode="markers",
                        name=STATUS_NAMES[status],
                        legendgroup=status,
                        showlegend=column == 1,
                        marker={"symbol": symbol, "size": 9, "color": COLORS[status]},
                        text=[_hover(v) for v in group],
                        hoverinfo="text+y",
                    ),
                    row=1,
                    col=column,
                )
        fig.add_trace(
            go.Scatter(
                x=[key(v) for v in shown],
                y=best_so_far([v.score for v in shown], objective.direction),
                mode="lines",
                line={"shape": "hv"},
                name="best so far",
                legendgroup="best",
                showlegend=column == 1,
            ),
            row=1,
            col=column,
        )
    fig.update_xaxes(title_text="trial", row=1, col=1)
    fig.update_xaxes(title_text="seconds since the first trial started", row=1, col=2)
    fig.update_yaxes(title_text=objective.name)
    fig.update_layout(height=420)
    return fig


def parallel_figure(views: list[TrialView], axes: list[HpAxis], objective: Objective) -> Any:
    """Hyperparameters against the objective, one line per scored trial."""
    go = _go()
    scored = [v for v in views if math.isfinite(v.score)]
    dimensions = [
        parallel_dimension(a, [v.record.hyperparameters.get(a.name) for v in scored]) for a in axes
    ]
    dimensions.append({"label": objective.name, "values": [v.score for v in scored]})
    line = {
        "color": [v.score for v in scored],
        "colorscale": "Viridis",
        "showscale": True,
        "reversescale": objective.direction == "min",
    }
    fig = go.Figure(go.Parcoords(line=line, dimensions=dimensions))
    fig.update_layout(height=460, margin={"l": 80, "r": 80, "t": 60, "b": 40})
    return fig


def slice_figure(views: list[TrialView], axis: HpAxis, objective: Objective) -> Any:
    """The objective against one hyperparameter (trials where it was inactive left out)."""
    go = _go()
    fig = go.Figure()
    scored = [v for v in views if math.isfinite(v.score)]
    active = [v for v in scored if axis.name in v.record.hyperparameters]
    for status, symbol in SYMBOLS.items():
        group = [v for v in active if v.record.status == status]
        if group:
            fig.add_trace(
                go.Scatter(
                    x=[_axis_value(axis, v.record.hyperparameters[axis.name]) for v in group],
                    y=[v.score for v in group],
                    mode="markers",
                    name=STATUS_NAMES[status],
                    marker={"symbol": symbol, "size": 9, "color": COLORS[status]},
                    text=[_hover(v) for v in group],
                    hoverinfo="text+y",
                )
            )
    inactive = len(scored) - len(active)
    title = axis.name + (f" (inactive in {inactive} trials)" if inactive else "")
    xaxis: dict[str, Any] = {"title": {"text": axis.name}}
    if axis.log:
        xaxis.update(type="log", exponentformat="e")
    elif not axis.numeric:
        xaxis.update(
            type="category", categoryorder="array", categoryarray=[str(c) for c in axis.categories]
        )
    fig.update_layout(
        title={"text": title},
        xaxis=xaxis,
        yaxis={"title": {"text": objective.name}},
        height=340,
        width=440,
        margin={"t": 70, "l": 60, "r": 20},
        showlegend=False,
    )
    return fig


def _axis_value(axis: HpAxis, value: Any) -> Any:
    return value if axis.numeric else str(value)


def curves_figure(results: Any, views: list[TrialView]) -> Any:
    """The objective per epoch of the best trials; stopped trials dashed and marked."""
    go = _go()
    name = results.objective.name
    number = {id(v.record): v.number for v in views}
    fig = go.Figure()
    for trial in results.ranked_trials()[:CURVES]:
        rows = [r for r in trial.history if isinstance(r.get(name), (int, float))]
        epochs = [r.get("epoch", k + 1) for k, r in enumerate(rows)]
        stopped = trial.status == "stopped"
        label = f"#{number.get(id(trial), '?')} {trial.trial_id}" + (
            f" (stopped at epoch {trial.epochs})" if stopped else ""
        )
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=[r[name] for r in rows],
                mode="lines+markers",
                name=label,
                line={"dash": "dash" if stopped else "solid"},
                marker={
                    "symbol": ["circle"] * (len(rows) - 1) + ["x" if stopped else "circle"],
                    "size": [5] * (len(rows) - 1) + [12 if stopped else 5],
                },
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": "epoch"}, "dtick": 1}, yaxis={"title": {"text": name}}, height=420
    )
    return fig


def importance_figure(importance: dict[str, float]) -> Any:
    """One bar per hyperparameter: the share of the objective's variance it explains alone.

    Every bar is named: each name is a tick of its own (plotly's automatic ticks skip
    categories when the plot is short), the margin grows to the longest name, and each bar
    gets a fixed height, so two bars are not squeezed under the title and legend space.
    """
    go = _go()
    ordered = sorted(importance.items(), key=lambda item: item[1])
    names = [k for k, _ in ordered]
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in ordered],
            y=names,
            orientation="h",
            text=[f"{v:.0%}" for _, v in ordered],
            textposition="auto",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={
            "title": {"text": "share of variance", "standoff": 4},
            "tickformat": ".0%",
            "range": [0, max(1.0, *(v for _, v in ordered))],
        },
        yaxis={"type": "category", "tickmode": "array", "tickvals": names, "ticktext": names,
               "automargin": True, "ticksuffix": " "},
        height=_IMPORTANCE_MARGIN + _IMPORTANCE_BAR * len(ordered),
        margin={"t": 40, "b": 56, "l": 20, "r": 24},  # the top: plotly's mode bar
        bargap=0.3,
    )
    return fig


def pareto_figure(views: list[TrialView], objectives: Sequence[Objective]) -> Any:
    """The first two objectives of every scored trial, the non-dominated ones joined."""
    go = _go()
    first, second = objectives[0], objectives[1]
    points = [
        (
            v.record.best_metrics.get(first.name, math.nan),
            v.record.best_metrics.get(second.name, math.nan),
        )
        for v in views
    ]
    front = sorted(
        pareto_front(points, [first.direction, second.direction]), key=lambda i: points[i][0]
    )
    fig = go.Figure(
        go.Scatter(
            x=[p[0] for p in points],
            y=[p[1] for p in points],
            mode="markers",
            name="trials",
            text=[_hover(v) for v in views],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[points[i][0] for i in front],
            y=[points[i][1] for i in front],
            mode="lines+markers",
            name="Pareto front",
            line={"shape": "hv"},
            marker={"size": 11},
            text=[_hover(views[i]) for i in front],
        )
    )
    fig.update_layout(
        xaxis={"title": {"text": f"{first.name} ({first.direction})"}},
        yaxis={"title": {"text": f"{second.name} ({second.direction})"}},
        height=420,
    )
    return fig
