"""A warm worker says it is ready: the file that ends its preload, for ``raytune-hpt up``.

A Ray worker registers with its raylet before it runs Ray's ``preload_python_modules``, and
a script that asks for trial actors while the kept Ray's warm workers are still importing
TensorFlow does not get them: Ray starts new workers for its actors and ends the warm ones
as surplus idle workers (seen on Ray 2.60: the first search after ``up`` got none of its
4 warm workers). So ``up`` returns only once they are ready. The kept Ray's process names
a folder in :data:`READY_VARIABLE`; each worker that finishes the preload while the folder
exists leaves an empty file named by its process id there, and ``up`` counts them
(:func:`ready_workers`), then removes the folder so later workers leave nothing.
"""

from __future__ import annotations

import os

__all__ = ["READY_VARIABLE", "mark_ready", "ready_workers"]

#: The folder where warm workers say they are ready (set only for the kept Ray's raylet).
READY_VARIABLE = "RAYTUNE_HPT_WARM_READY"


def mark_ready() -> None:
    """In a worker at the end of its preload: leave this process's file, if asked to."""
    folder = os.environ.get(READY_VARIABLE, "")
    if folder and os.path.isdir(folder):
        try:
            with open(os.path.join(folder, str(os.getpid())), "w"):
                pass
        except OSError:  # the folder went away: no one is counting any more
            pass


def ready_workers(folder: str) -> int:
    """How many live workers have said they are ready in ``folder``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    return sum(1 for name in names if name.isdigit() and _alive(int(name)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, another user's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
