"""The commands that read an experiment's results: ``best``, ``results`` and ``tensorboard``.

Each is ``_add_<name>(subparsers)`` and ``cmd_<name>(args) -> int``, registered in
``_main.SUBCOMMANDS``; :func:`best_trial_lines` is the one way the command line prints a best
trial (``best`` and ``run``'s summary).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from raytune_hpt.cli._common import PROG

__all__ = [
    "_add_best",
    "_add_results",
    "_add_tensorboard",
    "best_trial_lines",
    "cmd_best",
    "cmd_results",
    "cmd_tensorboard",
]


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_trial_lines(
    best: Any, objective: Any, metrics: dict[str, Any], note: str = ""
) -> list[str]:
    """``Best trial ID: name = score<note>``, its hyperparameters and ``metrics``, sorted."""
    return [
        f"Best trial {best.trial_id}: {objective.name} = {best.score(objective):.4f}{note}",
        "  hyperparameters: "
        + ", ".join(f"{k}={_fmt(v)}" for k, v in best.hyperparameters.items()),
        "  metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(metrics.items())),
    ]


# -- best ---------------------------------------------------------------------------------
def _add_best(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "best",
        help="show the best trial; export its model",
        description="The best trial of a finished (or running) experiment.",
    )
    parser.add_argument("dir", help="the experiment folder, local or s3://")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"trial_id", "hyperparameters", "metrics", "checkpoint"}',
    )
    parser.add_argument(
        "--export-model", metavar="PATH.keras", help="save the best model to PATH.keras"
    )
    return parser


def _load_results(directory: str) -> Any:
    from raytune_hpt.experiment import ExperimentError
    from raytune_hpt.results import load

    try:
        return load(directory)
    except FileNotFoundError as error:
        raise ExperimentError("DIR", str(error).rstrip(".")) from None


def cmd_best(args: argparse.Namespace) -> int:
    from raytune_hpt.experiment import ExperimentError

    if args.export_model is not None and not args.export_model.endswith(".keras"):
        raise ExperimentError("--export-model", f"must end with .keras; got {args.export_model!r}")
    results = _load_results(args.dir)
    try:
        best = results.best_trial()
    except ValueError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "trial_id": best.trial_id,
                    "hyperparameters": best.hyperparameters,
                    "metrics": best.best_metrics,
                    "checkpoint": best.checkpoint,
                },
                default=str,
            )
        )
    else:
        print("\n".join(best_trial_lines(best, results.objective, best.best_metrics)))
        print(f"  checkpoint: {best.checkpoint}")
    if args.export_model:
        target = results.export_best_model(args.export_model)
        print(f"Saved the best model to {target}", file=sys.stderr if args.json else sys.stdout)
    return 0


# -- results ------------------------------------------------------------------------------
_FORMATS = (".parquet", ".csv", ".json")


def _add_results(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "results",
        help="every trial as a table (Parquet, CSV or JSON)",
        description="One row per trial: id, status, hyperparameters, final "
        "and best metrics, epochs, wall time, error.",
    )
    parser.add_argument("dir", help="the experiment folder, local or s3://")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write FILE.parquet, FILE.csv or FILE.json"
    )
    return parser


def cmd_results(args: argparse.Namespace) -> int:
    from raytune_hpt.experiment import ExperimentError

    suffix = Path(args.output).suffix.lower() if args.output else None
    if args.output is not None and suffix not in _FORMATS:
        raise ExperimentError(
            "--output", f"must end with {', '.join(_FORMATS)}; got {args.output!r}"
        )
    results = _load_results(args.dir)
    if args.output is None:
        print(results.summary())
        return 0
    table = results.to_table()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, args.output)
    elif suffix == ".csv":
        import pyarrow.csv

        pyarrow.csv.write_csv(table, args.output)
    else:
        Path(args.output).write_text(json.dumps(table.to_pylist(), indent=2, default=str) + "\n")
    print(f"Wrote {table.num_rows} trials to {args.output}")
    return 0


# -- tensorboard --------------------------------------------------------------------------
def _add_tensorboard(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "tensorboard",
        help="open TensorBoard on an experiment (running or finished)",
        description="Serve TensorBoard on DIR's tensorboard/ folder: every trial's learning "
        "curves and the HParams dashboard. DIR may also hold several experiments.",
    )
    parser.add_argument("dir", help="the experiment folder (<storage_path>/<name>), local or s3://")
    parser.add_argument("--port", type=int, help="the port (default: 6006 or the next free one)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to bind (default 127.0.0.1; 0.0.0.0 serves the network)",
    )
    return parser


def cmd_tensorboard(args: argparse.Namespace) -> int:
    from raytune_hpt.experiment import ExperimentError
    from raytune_hpt.tracking import serve_tensorboard, tensorboard_logdir

    if args.port is not None and not 0 <= args.port <= 65535:
        raise ExperimentError("--port", f"must be between 0 and 65535; got {args.port}")
    try:
        logdir = tensorboard_logdir(args.dir)
    except FileNotFoundError as error:
        raise ExperimentError("DIR", str(error).rstrip(".")) from None
    url = serve_tensorboard(logdir, port=args.port, host=args.host)
    print(f"TensorBoard for {logdir} at {url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
