"""A trial's model read back from its checkpoint, wherever the experiment is stored.

A checkpoint is a folder of ``_record``'s files (the ``.keras`` model and its state) on a
local disk, in object storage (``s3://...``), or inside the filesystem of the ``ResultGrid``
this process's own search returned; it is read where it is on a local disk, else from a
temporary copy that keeps every file inside it (``storage.download``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from raytune_hpt import _ray_compat, storage
from raytune_hpt._record import MODEL_FILE, load_checkpoint

__all__ = ["checkpoint_folder", "model_from"]


@contextlib.contextmanager
def checkpoint_folder(path: str, result_grid: Any = None) -> Iterator[str]:
    """A local folder with the checkpoint's files: the folder itself on a local disk, else a
    temporary copy. ``result_grid``: the search's own ``ResultGrid``, whose filesystem a
    plain path is read from."""
    import pyarrow.fs

    inner, fs = _location(path, result_grid)
    if isinstance(fs, pyarrow.fs.LocalFileSystem):
        yield inner
        return
    with tempfile.TemporaryDirectory(prefix="raytune_hpt-checkpoint-") as folder:
        storage.download(inner, folder, source_filesystem=fs)
        yield folder


def model_from(folder: str, build: Callable[[], Any] | None = None) -> Any:
    """The model in a checkpoint ``folder``: its weights and optimizer state loaded into what
    ``build()`` makes (custom layers need no registration), or the ``.keras`` file as it is."""
    model = build() if build is not None else None
    # A model built without an Input (a Sequential starting with Flatten) has no weights
    # until it sees data: the saved .keras file, built, is loaded instead.
    if model is not None and model.built:
        load_checkpoint(folder, [model])
        return model
    import keras

    return keras.models.load_model(os.path.join(folder, MODEL_FILE))


def _location(path: str, result_grid: Any) -> tuple[str, Any]:
    """``(path, filesystem)`` of a checkpoint: a path or URI read from storage, or one inside
    the filesystem Ray's ``ResultGrid`` read from."""
    if storage.is_uri(path) or result_grid is None:
        fs, inner = storage.filesystem(path)
        return inner, fs
    return path, _ray_compat.result_grid_filesystem(result_grid)
