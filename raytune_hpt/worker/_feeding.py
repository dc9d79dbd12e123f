"""Feeding large numpy arrays to Keras without a private copy per trial worker.

The training arrays reach each worker from Ray's object store as read-only views of one
shared copy. Given to ``model.fit`` as they are, Keras's array adapter converts the whole
array to a TensorFlow tensor first (``ArrayDataAdapter.get_tf_dataset``): a private copy in
every worker, more than one with shuffling (docs/performance.md, "Memory"). A
:class:`SharedArrayFeed` hands Keras one batch at a time, gathered from the shared arrays,
so the data is held once per node however many trials run there.

Only ``run_trial`` uses this, for arrays of at least ``Tuner(shared_arrays_mb=...)`` and
fit arguments it can honour (no ``validation_split``, no custom ``HyperModel.fit``); a
cross-validation fold is then fed by its sample indices instead of copies of its rows.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

__all__ = ["SharedArrayFeed", "feed_in_batches", "first_batch", "fold_rows"]


def _leaves(data: Any) -> list[np.ndarray]:
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, (list, tuple)):
        return [leaf for value in data for leaf in _leaves(value)]
    return [data]


def _take(data: Any, index: np.ndarray | slice) -> Any:
    if isinstance(data, dict):
        return {key: _take(value, index) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_take(value, index) for value in data)
    return data[index]


def _nbytes(*parts: Any) -> int:
    return sum(leaf.nbytes for part in parts if part is not None for leaf in _leaves(part))


def _all_arrays(*parts: Any) -> bool:
    return all(isinstance(leaf, np.ndarray) for part in parts if part is not None
               for leaf in _leaves(part))


def first_batch(args: tuple) -> tuple | None:
    """``(x, y)`` of ``fit``'s first sample from its positional data (arrays, dicts or lists
    of arrays, or a :class:`SharedArrayFeed`), for shapes and dtypes; None for anything else
    (a ``tf.data.Dataset``, a generator: reading one would consume it)."""
    if not args:
        return None
    if isinstance(args[0], SharedArrayFeed):
        x, y = args[0][0][:2]
        return _take(x, slice(0, 1)), _take(y, slice(0, 1))
    x, y = args[0], args[1] if len(args) > 1 else None
    if not _all_arrays(x, y) or not _leaves(x) or any(len(a) == 0 for a in _leaves(x)):
        return None
    return _take(x, slice(0, 1)), None if y is None else _take(y, slice(0, 1))


class SharedArrayFeed(keras.utils.PyDataset):
    """Batches gathered from shared arrays: ``(x, y)`` or ``(x, y, sample_weight)``.

    Args:
        x, y, sample_weight: arrays (or dicts/lists of arrays) of one length.
        batch_size: samples per batch; the last batch may be smaller, as with arrays.
        shuffle: draw a new order of the samples every epoch (Keras's ``shuffle=True``).
        seed: makes the orders repeatable.
        rows: feed only these samples (ascending indices; a cross-validation fold).
    """

    def __init__(self, x: Any, y: Any, sample_weight: Any = None, *, batch_size: int = 32,
                 shuffle: bool = True, seed: int | None = None,
                 rows: np.ndarray | None = None) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.parts = tuple(part for part in (x, y, sample_weight) if part is not None)
        self.rows = None if rows is None else np.sort(np.asarray(rows))
        self.size = len(_leaves(x)[0]) if rows is None else len(self.rows)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order: np.ndarray | None = None
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def __getitem__(self, index: int) -> tuple:
        window = slice(index * self.batch_size, min((index + 1) * self.batch_size, self.size))
        if self.order is None:
            positions: np.ndarray | slice = window
        else:  # ascending rows read the shared pages in order
            positions = np.sort(self.order[window])
        rows = positions if self.rows is None else self.rows[positions]
        return tuple(_take(part, rows) for part in self.parts)

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(self.size) if self.shuffle else None


def fold_rows(args: tuple, extra: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
    """A cross-validation fold given by sample indices, as copies of its rows."""
    extra = dict(extra)
    rows, held_out = extra.pop("rows", None), extra.pop("validation_rows", None)
    if rows is None:
        return args, extra
    x, y = args
    extra["validation_data"] = (_take(x, held_out), _take(y, held_out))
    return (_take(x, rows), _take(y, rows)), extra


def feed_in_batches(args: tuple, extra: dict[str, Any], fit_kwargs: dict[str, Any], *,
                    min_bytes: int | None, seed: int | None) -> tuple[tuple, dict, dict]:
    """``fit``'s positional args, data kwargs and other kwargs, with large arrays as feeds.

    ``extra`` may hold ``rows``/``validation_rows``: a cross-validation fold of the arrays in
    ``args``, fed from them directly (or copied out when they are not fed).

    Returns the arguments as ``fit`` takes them, unchanged (fold rows copied out) when the
    data is small, not all numpy, or the fit arguments ask for something a feed cannot do
    (``validation_split``).
    """
    if min_bytes is None or len(args) != 2 or fit_kwargs.get("validation_split"):
        return (*fold_rows(args, extra), fit_kwargs)
    x, y = args
    sample_weight = fit_kwargs.get("sample_weight")
    if not _all_arrays(x, y, sample_weight) or _nbytes(x, y, sample_weight) < min_bytes:
        return (*fold_rows(args, extra), fit_kwargs)
    batch_size = fit_kwargs.get("batch_size") or 32
    kwargs = {k: v for k, v in fit_kwargs.items()
              if k not in ("batch_size", "sample_weight", "validation_batch_size")}
    extra = dict(extra)
    rows, held_out = extra.pop("rows", None), extra.pop("validation_rows", None)
    feed = SharedArrayFeed(x, y, sample_weight, batch_size=batch_size,
                           shuffle=bool(fit_kwargs.get("shuffle", True)), seed=seed, rows=rows)
    kwargs["shuffle"] = False  # the feed shuffles samples; Keras would only reorder batches
    validation_batch = fit_kwargs.get("validation_batch_size") or batch_size
    if held_out is not None:
        extra["validation_data"] = SharedArrayFeed(x, y, batch_size=validation_batch,
                                                   shuffle=False, rows=held_out)
    validation = extra.get("validation_data")
    if isinstance(validation, tuple) and _all_arrays(*validation):
        extra["validation_data"] = SharedArrayFeed(*validation, batch_size=validation_batch,
                                                   shuffle=False)
    return (feed,), extra, kwargs
