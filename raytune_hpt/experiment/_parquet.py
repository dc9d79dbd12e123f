"""Parquet training data, local or ``s3://``: named feature and label columns as arrays.

A feature column holding lists (an image as a vector) is stacked into a matrix; pyarrow reads
the file and, for ``s3://``, the options of the experiment file's ``data.s3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from raytune_hpt import storage
from raytune_hpt.errors import ExperimentError

__all__ = ["read_parquet"]


def _filesystem(path: str, filesystem_options: dict | None = None) -> tuple[Any, str]:
    import pyarrow.fs

    if not storage.is_uri(path):
        return pyarrow.fs.LocalFileSystem(), path
    if path.startswith("s3://") and filesystem_options:
        bucket_and_key = path[len("s3://") :]
        return pyarrow.fs.S3FileSystem(**filesystem_options), bucket_and_key
    return pyarrow.fs.FileSystem.from_uri(path)


def _column_to_array(table: Any, name: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    import pyarrow as pa

    if (
        pa.types.is_list(column.type)
        or pa.types.is_large_list(column.type)
        or pa.types.is_fixed_size_list(column.type)
    ):
        return np.stack([np.asarray(row, dtype=np.float32) for row in column.to_pylist()])
    return column.to_numpy(zero_copy_only=False)


def read_parquet(
    path: str,
    *,
    label: str,
    features: Sequence[str] | None = None,
    filesystem_options: dict | None = None,
    field_name: str = "data.parquet",
) -> tuple[np.ndarray, np.ndarray]:
    """Read features and labels from a Parquet file or folder, local or on ``s3://``.

    Args:
        path: a local path or a URI pyarrow understands (``s3://bucket/key``; options such as
            ``?endpoint_override=...&scheme=http`` may follow).
        label: the label column.
        features: the feature columns; all other columns when ``None``. A column of lists is
            stacked into a matrix, scalar columns become one feature each.
        filesystem_options: keyword arguments for ``pyarrow.fs.S3FileSystem`` (an endpoint,
            credentials) when ``path`` is on S3.
        field_name: the setting reported in errors.

    Returns:
        ``(x, y)`` with ``x`` as ``float32`` of shape ``(rows, features)``.

    Raises:
        ExperimentError: when the file cannot be read or a column is missing.
    """
    import pyarrow.parquet as pq

    try:
        filesystem, inner = _filesystem(path, filesystem_options)
        table = pq.read_table(inner, filesystem=filesystem)
    except (OSError, ValueError) as error:
        raise ExperimentError(field_name, f"cannot read Parquet from {path!r}: {error}") from None
    names = table.column_names
    wanted = list(features) if features else [n for n in names if n != label]
    missing = [n for n in [label, *wanted] if n not in names]
    if missing:
        raise ExperimentError(field_name, f"columns {missing} are not in {path!r}; it has {names}")
    if not wanted:
        raise ExperimentError(
            field_name, f"{path!r} has no feature columns besides the label {label!r}"
        )
    parts = [_column_to_array(table, n) for n in wanted]
    x = np.column_stack([p.reshape(len(p), -1) for p in parts]).astype(np.float32)
    return x, _column_to_array(table, label)
