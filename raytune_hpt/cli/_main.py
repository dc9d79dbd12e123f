"""The ``raytune-hpt`` parser, its exit codes and the ``examples`` subcommand.

Argument parsing only; the work is the public Python API's.

Each subcommand is two functions, ``_add_<name>(subparsers)`` declaring its arguments and
``cmd_<name>(args) -> int`` doing it, registered in :data:`SUBCOMMANDS`. Exit codes:
``0`` success, ``2`` a bad file or argument (one line on stderr, nothing started, nothing
written), ``1`` the search itself failed (or a submitted job did, or the cluster could not be
reached), ``130`` interrupted. Here: ``examples`` and the parser; ``run`` and ``resume``
(a search in this process, from an experiment file) are in ``_run.py``, the commands reading
results (``best``, ``results``, ``tensorboard``) are in ``_results.py``,
``report`` in ``_report_command.py``, the cluster's (``submit``, ``jobs``) in ``_cluster.py``, the
local Ray kept between scripts (``up``, ``down``) in ``_up_down.py``.

``--help`` and validating an experiment file import neither TensorFlow nor Ray.

Example:
    $ raytune-hpt run --example digits
    $ raytune-hpt run experiment.yaml --set max_trials=2 --set fit.epochs=1
    $ raytune-hpt best results/digits --json --export-model best.keras
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from raytune_hpt import __version__
from raytune_hpt.cli._cluster import _add_jobs, _add_submit, cmd_jobs, cmd_submit
from raytune_hpt.cli._common import PROG, _one_line, _Parser, add_command
from raytune_hpt.cli._report_command import _add_report, cmd_report
from raytune_hpt.cli._results import (
    _add_best,
    _add_results,
    _add_tensorboard,
    cmd_best,
    cmd_results,
    cmd_tensorboard,
)
from raytune_hpt.cli._run import _add_resume, _add_run, cmd_resume, cmd_run
from raytune_hpt.cli._up_down import _add_down, _add_up, cmd_down, cmd_up
from raytune_hpt.errors import ConfigurationError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

logger = logging.getLogger(__name__)


# -- examples -----------------------------------------------------------------------------
def _add_examples(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "examples", "list the bundled examples, or print one",
        "Bundled experiments; run one with `run --example NAME`.")
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


# -- the parser ---------------------------------------------------------------------------
Subcommand = tuple[Callable[[Any], argparse.ArgumentParser], Callable[[argparse.Namespace], int]]

SUBCOMMANDS: dict[str, Subcommand] = {
    "run": (_add_run, cmd_run),
    "resume": (_add_resume, cmd_resume),
    "best": (_add_best, cmd_best),
    "results": (_add_results, cmd_results),
    "examples": (_add_examples, cmd_examples),
    "tensorboard": (_add_tensorboard, cmd_tensorboard),
    "report": (_add_report, cmd_report),
    "submit": (_add_submit, cmd_submit),
    "jobs": (_add_jobs, cmd_jobs),
    "up": (_add_up, cmd_up),
    "down": (_add_down, cmd_down),
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
