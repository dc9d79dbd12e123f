"""Serving an experiment's TensorBoard logs: local, or a snapshot of an ``s3://`` experiment."""

from __future__ import annotations

import os
from typing import Any

from raytune_hpt import storage
from raytune_hpt.results import METADATA_FILE
from raytune_hpt.tracking._tensorboard import TENSORBOARD_DIR, local_logdir

__all__ = ["serve_tensorboard", "tensorboard_logdir"]


def tensorboard_logdir(directory: str) -> str:
    """The local folder to serve for ``directory``.

    An experiment folder (it has ``tensorboard/`` or ``raytune_hpt.json``) gives its
    ``tensorboard/`` folder; any other folder is served whole (several experiments side by
    side). For an ``s3://``/``gs://`` experiment, the local copy this machine's driver
    writes is served if present, else a snapshot is downloaded into it.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
    """
    if storage.is_uri(directory):
        directory = storage.normalize(directory)
        local = local_logdir(directory)
        if not os.path.isdir(local):
            import pyarrow.fs

            remote = storage.join(directory, TENSORBOARD_DIR)
            if not storage.exists(remote):
                raise FileNotFoundError(f"no TensorBoard logs at {remote}")
            fs, inner = storage.filesystem(remote)
            os.makedirs(local, exist_ok=True)
            pyarrow.fs.copy_files(inner, local, source_filesystem=fs)
        return local
    directory = storage.normalize(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory} is not a folder")
    logdir = os.path.join(directory, TENSORBOARD_DIR)
    if os.path.isdir(logdir) or os.path.exists(os.path.join(directory, METADATA_FILE)):
        os.makedirs(logdir, exist_ok=True)  # a search just starting: its logs come soon
        return logdir
    return directory


def serve_tensorboard(logdir: str, *, port: int | None = None, host: str = "127.0.0.1") -> str:
    """Start TensorBoard on ``logdir`` in a background thread; returns its URL."""
    from tensorboard import program

    board = program.TensorBoard()
    options: dict[str, Any] = {"logdir": logdir, "host": host, "reload_interval": 5.0}
    if port is not None:
        options["port"] = port
    board.configure(**options)
    return board.launch()
