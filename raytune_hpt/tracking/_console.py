"""The console of a search in the user's process: every line a search shows there.

:func:`say` prints the lines a search shows besides its live progress (the Ray it uses, the
start line with the resources placed, an experiment reloaded or already done) and the Keras
Tuner summaries (``search_space_summary``, ``results_summary``); the live progress is
:class:`~raytune_hpt.tracking._live_console.ConsoleReporter`, a Ray Tune callback. Imports
neither Ray nor rich, so a Tuner can speak before Ray is imported.

Other writers stay where they are, each for a reason (docs/architecture.md, "Console"): the
command line's output is its interface (``cli/``), ``_noise.py`` passes on TensorFlow's own
start-up lines it keeps, ``python -m raytune_hpt._job_env`` prints a hash for a shell, and
Ray's and Keras's own output is theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["say"]


def say(text: str, verbose: int = 1, *, otherwise: Callable[[str], Any] | None = None) -> None:
    """Show ``text`` on the user's console: standard output, flushed (so that it keeps its
    place among Ray's lines), when ``verbose >= 1``; at ``verbose=0`` it goes to
    ``otherwise`` (a logger's method) or nowhere."""
    if verbose >= 1:
        print(text, flush=True)
    elif otherwise is not None:
        otherwise(text)
