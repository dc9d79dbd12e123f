"""The ``raytune-hpt`` command: argument parsing only; the work is the public Python API's.

Each subcommand is two functions, ``_add_<name>(subparsers)`` declaring its arguments and
``cmd_<name>(args) -> int`` doing it, registered in :data:`SUBCOMMANDS`. Exit codes:
``0`` success, ``2`` a bad file or argument (one line on stderr, nothing started, nothing
written), ``1`` the search itself failed (or a submitted job did, or the cluster could not be
reached), ``130`` interrupted. The cluster subcommands (``submit``, ``jobs``) are in
:mod:`raytune_hpt.cli_cluster`.

``--help`` and validating an experiment file import neither TensorFlow nor Ray.

Example:
    $ raytune-hpt run --example digits
    $ raytune-hpt run experiment.yaml --set max_trials=2 --set fit.epochs=1
    $ raytune-hpt best results/digits --json --export-model best.keras
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from raytune_hpt import __version__
from raytune_hpt.cli._cluster import _add_jobs, _add_submit, cmd_jobs, cmd_submit
from raytune_hpt.cli._common import PROG, _one_line, _Parser
from raytune_hpt.errors import ConfigurationError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

logger = logging.getLogger(__name__)


# -- run ----------------------------------------------------------------------------------
def _add_run(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "run",
        help="run the experiment a YAML file (or a bundled example) describes",
        description="Validate an experiment file, run its search on Ray and summarize it. "
        "Re-running an existing experiment name resumes it (use --overwrite to start afresh).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="the experiment file (YAML)")
    source.add_argument("--example", metavar="NAME", help="run a bundled example (see `examples`)")
    parser.add_argument("--name", help="the experiment's folder name under the storage path")
    parser.add_argument("--storage-path", help="where results go: a folder or s3://bucket/prefix")
    parser.add_argument(
        "--address", help="a Ray cluster to connect to, e.g. auto or ray://host:10001"
    )
    parser.add_argument("--max-trials", type=int, metavar="N", help="the trial budget")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, dotted paths allowed, values read as YAML "
        "(e.g. --set fit.epochs=1 --set searcher.type=grid)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="delete an existing experiment of that name first"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and show the experiment; run nothing"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Ray Tune's progress display: 0 silent, 1 status (default), 2 every result",
    )
    return parser


def _experiment_from_args(args: argparse.Namespace) -> Any:
    from raytune_hpt.experiment import ExperimentError, load_experiment

    if args.max_trials is not None and args.max_trials < 1:
        raise ExperimentError("--max-trials", f"must be >= 1; got {args.max_trials}")
    if args.example:
        from raytune_hpt.examples import example_path

        try:
            path = example_path(args.example)
        except ValueError as error:
            raise ExperimentError("--example", str(error)) from None
    else:
        path = Path(args.file)
    return load_experiment(
        path,
        args.overrides,
        name=args.name,
        storage_path=args.storage_path,
        max_trials=args.max_trials,
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Validate, resolve (import the model, load the data), then search and summarize."""
    from raytune_hpt.experiment import storage_path

    experiment = _experiment_from_args(args)
    if args.dry_run:
        print(experiment.to_yaml().rstrip())
        print(f"# valid; results would go to {storage_path(experiment)}/{experiment.name}")
        return 0
    return _search(experiment, overwrite=args.overwrite, address=args.address,
                   verbose=args.verbose)


def _search(
    experiment: Any,
    *,
    overwrite: bool,
    address: str | None,
    verbose: int,
    resumed_from: str | None = None,
) -> int:
    from raytune_hpt import storage
    from raytune_hpt.errors import SearchAbortedError
    from raytune_hpt.experiment import (
        EXPERIMENT_FILE,
        build_tuner,
        experiment_yaml,
        resolve,
    )

    resolved = resolve(experiment)  # loads the data, imports the model: errors exit 2
    try:
        tuner = build_tuner(experiment, resolved.hypermodel, verbose=verbose, address=address)
    except (ValueError, TypeError) as error:  # the Tuner's own argument checks
        raise ConfigurationError(str(error)) from error
    tuner.overwrite = overwrite
    path = tuner.experiment_path
    existing = storage.exists(path) and not overwrite
    # Written by the Tuner into the experiment folder only once every check has passed.
    tuner.attachments[EXPERIMENT_FILE] = experiment_yaml(experiment)
    # Announced once every check has passed, before Ray starts.
    tuner.on_search_begin = lambda: print(
        f"{'Resuming' if existing else 'Starting'} experiment {experiment.name!r}: "
        f"{experiment.max_trials} trials, searcher {experiment.searcher.type}, "
        f"scheduler {experiment.scheduler.type}, objective {experiment.objective.name}; "
        f"results in {path}",
        flush=True,
    )
    started = time.monotonic()
    try:
        results = tuner.search(**resolved.search_kwargs)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Continue it with: {PROG} resume {path}", file=sys.stderr)
        return 130
    except (ValueError, TypeError) as error:
        if isinstance(error, ConfigurationError):
            raise
        # Raised before any trial starts (data the Tuner rejects); trial errors are recorded.
        raise ConfigurationError(f"data: {error}") from error
    except SearchAbortedError as error:
        print(f"{PROG}: the search was stopped: {error}", file=sys.stderr)
        print(
            f"Fix the model or data, then start again with --overwrite, or continue: "
            f"{PROG} resume {path}",
            file=sys.stderr,
        )
        return 1
    print(_summary(results, path, time.monotonic() - started))
    if _interrupted():
        print(f"\nInterrupted; the state is saved. Continue it with: {PROG} resume {path}")
        return 130
    return 0 if _any_finished(results) else 1


def _interrupted() -> bool:
    """Whether Ctrl+C ended the search early.

    Ray Tune catches the first SIGINT in the main thread, saves the experiment and returns
    normally; its handler then uninstalls itself (after a normal end it stays installed).
    """
    if os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0") not in ("", "0"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    return getattr(signal.getsignal(signal.SIGINT), "__name__", "") != "signal_interrupt_tune_run"


def _any_finished(results: Any) -> bool:
    return bool(results.ranked_trials())


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary(results: Any, path: str, seconds: float) -> str:
    """What happened, the best trial, where the results are and what to do next."""
    counts = results.counts()
    described = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    objective = results.objective
    lines = ["", f"Search done in {seconds:.0f} s: {len(results.trials)} trials ({described}); "
             f"at most {results.trials_at_once()} ran at once."]
    ranked = results.ranked_trials()
    if ranked:
        best = ranked[0]
        at = best.best_metrics.get("epoch")
        epoch = f" at epoch {int(at)}" if isinstance(at, (int, float)) else ""
        lines.append(
            f"Best trial {best.trial_id}: {objective.name} = "
            f"{best.score(objective):.4f} ({objective.direction}){epoch}"
        )
        lines.append(
            "  hyperparameters: "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in best.hyperparameters.items())
        )
        shown = {k: v for k, v in best.best_metrics.items() if k != "epoch" and "/" not in k}
        lines.append("  metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(shown.items())))
    else:
        lines.append(f"No trial reported a finite {objective.name!r}.")
    failed = [t for t in results.trials if t.status == "failed"]
    if failed:
        lines.append(f"{len(failed)} trial(s) failed; the first error: {failed[0].error}")
    lines += ["", f"Results: {path}", "Next:"]
    if ranked:
        lines.append(f"  {PROG} best {path} --export-model best.keras   # save the best model")
    lines.append(
        f"  {PROG} results {path} -o trials.parquet   # every trial as a table (or .csv, .json)"
    )
    if "tensorboard" in SUBCOMMANDS:
        lines.append(f"  {PROG} tensorboard {path}   # learning curves")
    if failed or not ranked:
        lines.append(f"  fix the error above, then: {PROG} resume {path}   # retries failed trials")
    return "\n".join(lines)


# -- resume -------------------------------------------------------------------------------
def _add_resume(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "resume",
        help="continue an interrupted experiment",
        description="Rebuild the run from the experiment file saved in DIR and continue it: "
        "unfinished and failed trials are resumed, and new trials run up to the saved budget.",
    )
    parser.add_argument("dir", help="the experiment folder (<storage_path>/<name>), local or s3://")
    parser.add_argument("--address", help="a Ray cluster to connect to")
    parser.add_argument("-v", "--verbose", type=int, default=1, choices=(0, 1, 2))
    return parser


def cmd_resume(args: argparse.Namespace) -> int:
    from raytune_hpt import storage
    from raytune_hpt.experiment import load_saved_experiment

    path = storage.normalize(args.dir)
    experiment = load_saved_experiment(path)
    base, _, name = path.rstrip("/").rpartition("/")
    experiment = experiment.model_copy(update={"storage_path": base or "/", "name": name})
    return _search(experiment, overwrite=False, address=args.address, verbose=args.verbose)


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
        objective = results.objective
        print(f"Best trial {best.trial_id}: {objective.name} = {best.score(objective):.4f}")
        print(
            "  hyperparameters: "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in best.hyperparameters.items())
        )
        print(
            "  metrics: "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(best.best_metrics.items()))
        )
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


# -- examples -----------------------------------------------------------------------------
def _add_examples(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "examples",
        help="list the bundled examples, or print one",
        description="Bundled experiments; run one with `run --example NAME`.",
    )
    parser.add_argument("name", nargs="?", help="print this example's experiment file")
    return parser


def cmd_examples(args: argparse.Namespace) -> int:
    from raytune_hpt.examples import EXAMPLES, example_path
    from raytune_hpt.experiment import ExperimentError

    if args.name is not None:
        try:
            path = example_path(args.name)
        except ValueError as error:
            raise ExperimentError("NAME", str(error)) from None
        print(f"# {path}")
        print(path.read_text(encoding="utf-8").rstrip())
        return 0
    width = max(len(name) for name in EXAMPLES)
    for name, example in sorted(EXAMPLES.items()):
        print(f"{name.ljust(width)}  {example.description}")
    print(f"\nRun one with `{PROG} run --example NAME`; see its file with `{PROG} examples NAME`.")
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


# -- the parser ---------------------------------------------------------------------------
Subcommand = tuple[Callable[[Any], argparse.ArgumentParser], Callable[[argparse.Namespace], int]]

SUBCOMMANDS: dict[str, Subcommand] = {
    "run": (_add_run, cmd_run),
    "resume": (_add_resume, cmd_resume),
    "best": (_add_best, cmd_best),
    "results": (_add_results, cmd_results),
    "examples": (_add_examples, cmd_examples),
    "tensorboard": (_add_tensorboard, cmd_tensorboard),
    "submit": (_add_submit, cmd_submit),
    "jobs": (_add_jobs, cmd_jobs),
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser: one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = _Parser(
        prog=PROG,
        description="Tune Keras models' hyperparameters on Ray Tune.",
        epilog=f"Start with: {PROG} run --example digits",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for add, handler in SUBCOMMANDS.values():
        add(subparsers).set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ start-up chatter buries the progress display; set before TF or Ray
    # (whose workers inherit it) start, unless the user chose a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except ConfigurationError as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
