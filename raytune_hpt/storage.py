"""Paths that may be local folders or ``s3://``/``gs://`` URIs, through pyarrow's filesystems.

Ray Tune resolves ``storage_path`` the same way (``pyarrow.fs.FileSystem.from_uri``), so
whatever Ray can write to, these helpers can read from.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

__all__ = [
    "delete", "download", "exists", "filesystem", "is_uri", "join", "list_dir", "normalize",
    "read_text", "write_text",
]


def is_uri(path: str) -> bool:
    return "://" in path


def normalize(path: str | os.PathLike, field: str = "a storage path") -> str:
    """An absolute local path, or the URI as given (without a trailing slash).

    Raises:
        TypeError: ``path`` is not a string or a path; ``field`` names it in the message.
        ValueError: a URI with a query string, credentials (``user:password@``) or
            ``.``/``..`` segments.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{field} must be a folder or a URI (a string), but got {path!r}.")
    path = os.fspath(path)
    if is_uri(path):
        from raytune_hpt._secrets import redact_uri

        shown = redact_uri(path)  # an error message must not print the secret it refuses
        if "?" in path:
            raise ValueError(
                f"A storage URI must not carry a query string, but got {shown!r}; give the "
                "endpoint and credentials through AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY instead."
            )
        scheme, _, rest = path.partition("://")
        if ":" in rest.split("/", 1)[0].rpartition("@")[0]:
            raise ValueError(
                f"A storage URI must not carry credentials (user:password@), but got "
                f"{shown!r}; they would be printed and saved with the results. Give them "
                "through the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, an IAM "
                "role, GOOGLE_APPLICATION_CREDENTIALS) instead."
            )
        if any(part in (".", "..") for part in rest.split("/")):
            raise ValueError(
                f"A storage URI must not hold '.' or '..' segments (object stores do not "
                f"resolve them), but got {shown!r}."
            )
        return path.rstrip("/")
    return os.path.abspath(os.path.expanduser(path))


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_uri(base) else os.path.join(base, *parts)


def filesystem(path: str):
    """``(pyarrow filesystem, path inside it)`` for a local path or a URI."""
    import pyarrow.fs

    if is_uri(path):
        return pyarrow.fs.FileSystem.from_uri(path)
    return pyarrow.fs.LocalFileSystem(), normalize(path)


def exists(path: str) -> bool:
    import pyarrow.fs

    fs, inner = filesystem(path)
    return fs.get_file_info(inner).type != pyarrow.fs.FileType.NotFound


def delete(path: str) -> None:
    fs, inner = filesystem(path)
    fs.delete_dir(inner)


def read_text(path: str) -> str:
    fs, inner = filesystem(path)
    with fs.open_input_stream(inner) as stream:
        return stream.read().decode("utf-8")


def write_text(path: str, text: str) -> None:
    """Write whole or not at all: into a temporary name, then renamed (on local disks)."""
    fs, inner = filesystem(path)
    fs.create_dir(posixpath.dirname(inner) if is_uri(path) else os.path.dirname(inner))
    if is_uri(path):  # object stores publish an object only when its upload completes
        with fs.open_output_stream(inner) as stream:
            stream.write(text.encode("utf-8"))
        return
    temporary = f"{inner}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, inner)


def list_dir(path: str) -> list[tuple[str, bool]]:
    """``(name, is a folder)`` of each entry directly in ``path``; empty if it is missing."""
    import pyarrow.fs

    fs, inner = filesystem(path)
    try:
        infos = fs.get_file_info(pyarrow.fs.FileSelector(inner, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [(info.base_name, info.type == pyarrow.fs.FileType.Directory) for info in infos]


def download(source: str, destination: str, *, source_filesystem: Any = None,
             known: dict[str, tuple[int, Any]] | None = None) -> int:
    """Copy every file under ``source`` into the local folder ``destination``, keeping each
    one inside it; returns how many files were copied.

    The names are listed first: one that would land outside ``destination`` (a ``..`` or
    ``.`` segment, an empty one, an absolute name, a backslash) is refused before anything is
    written. A results folder from someone else may hold such a key on purpose.

    Args:
        source: a folder or URI; with ``source_filesystem``, a path inside that filesystem.
        source_filesystem: a pyarrow filesystem to read ``source`` from.
        known: ``{name: (size, mtime)}`` of the files copied by an earlier call, updated
            here: a file whose size and time are unchanged is not copied again (a mirror
            refreshed while a search writes to it).

    Raises:
        ValueError: names that would be written outside ``destination`` (nothing copied).
    """
    import pyarrow.fs

    fs, inner = ((source_filesystem, source) if source_filesystem is not None
                 else filesystem(source))
    inner = inner.rstrip("/")
    infos = fs.get_file_info(pyarrow.fs.FileSelector(inner, recursive=True))
    files = [(info, info.path[len(inner) + 1:]) for info in infos
             if info.type == pyarrow.fs.FileType.File]
    unsafe = [name for info, name in files if not info.path.startswith(inner + "/")
              or _unsafe_name(name)]
    if unsafe:
        shown = ", ".join(repr(name) for name in unsafe[:3]) + (" ..." if len(unsafe) > 3 else "")
        raise ValueError(
            f"{source} holds {len(unsafe)} file name(s) that would be written outside "
            f"{destination}: {shown}; nothing was copied. Each name under it must be a plain "
            "relative path (no '..', '.' or empty segments, no leading '/', no '\\'); a "
            "results folder from someone else may be crafted this way.")
    copied = 0
    for info, name in files:
        stamp = (info.size, info.mtime)
        if known is not None and known.get(name) == stamp:
            continue
        target = os.path.join(destination, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with fs.open_input_stream(info.path) as stream, open(target, "wb") as file:
            while chunk := stream.read(1 << 20):
                file.write(chunk)
        copied += 1
        if known is not None:
            known[name] = stamp
    return copied


def _unsafe_name(name: str) -> bool:
    return (not name or name.startswith("/") or "\\" in name
            or any(part in ("", ".", "..") for part in name.split("/")))
