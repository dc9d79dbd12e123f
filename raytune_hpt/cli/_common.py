"""What every ``raytune-hpt`` subcommand module shares: the program's name, a parser that
reports a bad argument in one line, and the one-line form of an error message.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["PROG"]

PROG = "raytune-hpt"


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument as one line (``raytune-hpt: error: ...``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see {self.prog} --help)"
        self.exit(2, f"{PROG}: error: {message}{hint}\n")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
