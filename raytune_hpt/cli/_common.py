"""What every ``raytune-hpt`` subcommand module shares: the program's name, a parser that
reports a bad argument in one line, a subcommand's parser, and the one-line form of an error
message.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

__all__ = ["PROG", "add_command", "add_experiment_options"]

PROG = "raytune-hpt"
_EXPERIMENT_DIR = "the experiment folder (<storage_path>/<name>), local or s3://"


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument as one line (``raytune-hpt: error: ...``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see {self.prog} --help)"
        self.exit(2, f"{PROG}: error: {message}{hint}\n")


def add_command(subparsers: Any, name: str, summary: str, description: str, *,
                experiment_dir: bool = False) -> argparse.ArgumentParser:
    """A subcommand's parser: its line in ``--help``, its own description and, for a command
    that reads an experiment, the ``dir`` argument."""
    parser = subparsers.add_parser(name, help=summary, description=description)
    if experiment_dir:
        parser.add_argument("dir", help=_EXPERIMENT_DIR)
    return parser


def add_experiment_options(parser: argparse.ArgumentParser, *, storage_help: str,
                           set_help: str) -> None:
    """The options that override an experiment file's fields (``run`` and ``submit``)."""
    parser.add_argument("--name", help="the experiment's folder name under the storage path")
    parser.add_argument("--storage-path", help=storage_help)
    parser.add_argument("--max-trials", type=int, metavar="N", help="the trial budget")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help=set_help)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
