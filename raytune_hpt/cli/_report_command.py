"""``raytune-hpt report DIR [-o report.html]``: one self-contained HTML report of an experiment.

Works on a finished or a running experiment, in a folder or in object storage (``s3://``):
the page shows what the trials have reported so far. Needs plotly (the ``report`` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

from raytune_hpt.cli._common import add_command

__all__ = ["_add_report", "cmd_report"]

_SUFFIXES = (".html", ".htm")


def _add_report(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "report",
        "write an HTML report with plots (history, parallel coordinates, importance...)",
        "Write one self-contained HTML file (opens offline) about the experiment "
        "in DIR, finished or running: optimisation history, parallel coordinates, a slice per "
        "hyperparameter, learning curves, hyperparameter importance, failed trials and the "
        "table of every trial. Needs plotly: pip install 'raytune-hpt[report]'.",
        experiment_dir=True)
    parser.add_argument(
        "-o",
        "--output",
        default="report.html",
        metavar="FILE.html",
        help="the HTML file to write (default: report.html in the current folder)",
    )
    return parser


def cmd_report(args: argparse.Namespace) -> int:
    from raytune_hpt.cli._results import _load_results
    from raytune_hpt.experiment import ExperimentError

    if Path(args.output).suffix.lower() not in _SUFFIXES:
        raise ExperimentError("--output", f"must end with .html; got {args.output!r}")
    if importlib.util.find_spec("plotly") is None:
        raise ExperimentError("report", "needs plotly: pip install 'raytune-hpt[report]'")
    results = _load_results(args.dir)
    path = results.report(args.output)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(results.counts().items()))
    print(f"Wrote the report of {len(results.trials)} trials ({counts or 'none yet'}) to {path}")
    return 0
