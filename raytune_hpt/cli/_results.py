"""The commands that read an experiment's results: ``best``, ``results`` and ``tensorboard``.

Each is ``_add_<name>(subparsers)`` and ``cmd_<name>(args) -> int``, registered in
``_main.SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from raytune_hpt._format import best_trial_lines
from raytune_hpt.cli._common import PROG, add_command

__all__ = [
    "_add_best",
    "_load_results",
    "_add_results",
    "_add_tensorboard",
    "cmd_best",
    "cmd_results",
    "cmd_tensorboard",
]


# -- best ---------------------------------------------------------------------------------
def _add_best(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "best", "show the best trial; export its model",
        "The best trial of a finished (or running) experiment.", experiment_dir=True)
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
        return load(directory)  # plain data only: a shared folder runs no code
    except (FileNotFoundError, ValueError) as error:
        raise ExperimentError("DIR", str(error).rstrip(".")) from None


def cmd_best(args: argparse.Namespace) -> int:
    from raytune_hpt.experiment import ExperimentError

    if args.export_model is not None and not args.export_model.endswith(".keras"):
        raise ExperimentError("--export-model", f"must end with .keras; got {args.export_model!r}")
    results = _load_results(args.dir)
    if results.objective.is_pareto:  # the front: a table, or with --json a list
        return _print_front(results, args)
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
        target = _export(results, args.export_model)
        print(f"Saved the best model to {target}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _export(results: Any, path: str) -> str:
    """The best model saved at ``path``; a checkpoint that cannot be copied safely (a file
    name that would land outside the download folder) is one error, not a traceback."""
    from raytune_hpt.experiment import ExperimentError

    try:
        return results.export_best_model(path)
    except ValueError as error:
        raise ExperimentError("--export-model", str(error).rstrip(".")) from None


def _print_front(results: Any, args: argparse.Namespace) -> int:
    """``best`` on a Pareto experiment: every non-dominated trial (--export-model: the
    front's best by the first objective)."""
    from raytune_hpt.results import front_lines

    front = results.pareto_front()
    if args.json:
        print(json.dumps([{"trial_id": t.trial_id, "hyperparameters": t.hyperparameters,
                           "metrics": t.best_metrics, "checkpoint": t.checkpoint}
                          for t in front], default=str))
    else:
        print("\n".join(front_lines(results)))
    if not front:
        return 1
    if args.export_model:
        target = _export(results, args.export_model)
        print(f"Saved the model of trial {front[0].trial_id} (the front's best "
              f"{results.objective.name}) to {target}", file=sys.stderr if args.json else
              sys.stdout)
    return 0


# -- results ------------------------------------------------------------------------------
_FORMATS = (".parquet", ".csv", ".json")


def _add_results(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "results", "every trial as a table (Parquet, CSV or JSON)",
        "One row per trial: id, status, hyperparameters, final "
        "and best metrics, epochs, wall time, error.", experiment_dir=True)
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
    parser = add_command(
        subparsers, "tensorboard", "open TensorBoard on an experiment (running or finished)",
        "Serve TensorBoard on DIR's tensorboard/ folder: every trial's learning curves and "
        "the HParams dashboard. DIR may also hold several experiments.", experiment_dir=True)
    parser.add_argument("--port", type=int, help="the port (default: 6006 or the next free one)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to bind (default 127.0.0.1; 0.0.0.0 serves the network)",
    )
    return parser


def cmd_tensorboard(args: argparse.Namespace) -> int:
    """Serve the logs; a remote experiment's are mirrored and refreshed while it runs."""
    import threading

    from raytune_hpt import storage
    from raytune_hpt.experiment import ExperimentError
    from raytune_hpt.tracking import RemoteLogs, serve_tensorboard, tensorboard_logdir

    if args.port is not None and not 0 <= args.port <= 65535:
        raise ExperimentError("--port", f"must be between 0 and 65535; got {args.port}")
    remote = RemoteLogs(args.dir) if storage.is_uri(args.dir) else None
    try:
        logdir = remote.start() if remote is not None else tensorboard_logdir(args.dir)
    except (FileNotFoundError, ValueError) as error:
        raise ExperimentError("DIR", str(error).rstrip(".")) from None
    url = serve_tensorboard(logdir, port=args.port, host=args.host)
    print(f"TensorBoard for {args.dir if remote else logdir} at {url} (Ctrl-C to stop)",
          flush=True)
    stop = threading.Event()
    try:
        if remote is not None:  # until its search ends: then the copy is complete
            remote.follow(stop)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
