"""What ``raytune-hpt submit`` hands a job through its environment, and this package's build.

A submitted job gets two variables in its ``runtime_env`` (so its driver and every trial
worker see them):

* ``RAYTUNE_HPT_STORAGE_PATH``: where results go (``--storage-path``). It is how a job's
  storage reaches a Python script: :meth:`raytune_hpt.settings.Settings.create` reads it,
  once, and it wins over the script's ``storage_path`` / Keras Tuner ``directory``, whose
  relative paths would land in the job's temporary working directory.
* ``RAYTUNE_HPT_BUILD``: the :func:`build_hash` of the package on the machine that
  submitted. The version string stays ``0.1.0`` across commits; the hash tells builds apart.
  :func:`check_build` refuses a job that imports another build (an install on the cluster,
  or a ``raytune_hpt`` folder in the working directory, coming first on ``sys.path``).

``python -m raytune_hpt._job_env`` prints the build hash of the package it imports: the
cluster configs in ``cluster/`` put it on each node as the Ray label ``raytune-hpt-build``,
which ``submit`` reads to skip shipping a build the cluster already runs.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

from raytune_hpt import storage
from raytune_hpt.errors import ConfigurationError

__all__ = ["BUILD_ENV", "NODE_LABEL", "STORAGE_ENV", "build_hash", "check_build",
           "job_storage_path", "package_folder"]

logger = logging.getLogger(__name__)

STORAGE_ENV = "RAYTUNE_HPT_STORAGE_PATH"
BUILD_ENV = "RAYTUNE_HPT_BUILD"
NODE_LABEL = "raytune-hpt-build"

#: The files a wheel of the package holds besides its modules (pyproject's package-data).
_PACKAGE_DATA = ("py.typed", "examples/*.yaml")


def package_folder() -> Path:
    """The folder of the ``raytune_hpt`` this process imported."""
    return Path(__file__).resolve().parent


def build_hash(folder: str | os.PathLike | None = None) -> str:
    """A content hash of the package's modules and data (32 hex digits: a Ray label value),
    of the package this process imported unless ``folder`` names another copy.

    Equal for a source tree and a wheel built from it; caches and stray files do not count.
    """
    return _own_build() if folder is None else _hash(Path(folder))


@functools.cache
def _own_build() -> str:
    return _hash(package_folder())


def _hash(root: Path) -> str:
    files = {p for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    files.update(p for pattern in _PACKAGE_DATA for p in root.glob(pattern))
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def job_storage_path(given: str | os.PathLike | None = None) -> str | os.PathLike | None:
    """The storage ``raytune-hpt submit --storage-path`` gave this job, else ``given``.

    The job's storage wins: the command line that submitted it names where results go.
    """
    submitted = os.environ.get(STORAGE_ENV)
    if not submitted:
        return given
    if given is not None and _same_place(given) != _same_place(submitted):
        logger.warning("Results go to %s (raytune-hpt submit --storage-path), not to %s.",
                       submitted, os.fspath(given))
    return submitted


def _same_place(path: str | os.PathLike) -> str:
    try:
        return storage.normalize(path)
    except (TypeError, ValueError):  # refused where the Settings check it, with the reason
        return os.fspath(path)


def check_build() -> None:
    """In a submitted job, refuse a ``raytune_hpt`` other than the build that was sent.

    Raises:
        ConfigurationError: naming the folder imported, both builds and the fix.
    """
    expected = os.environ.get(BUILD_ENV)
    if not expected or expected == build_hash():
        return
    raise ConfigurationError(
        f"this job imports raytune_hpt from {package_folder()} (build {build_hash()}), but "
        f"`raytune-hpt submit` sent build {expected}: another copy comes first on sys.path "
        "(a raytune_hpt folder in the job's working directory, or the cluster's own install "
        "ahead of the shipped one). Remove that copy, or install this build on the cluster "
        "(rebuild its image from this source tree: cluster/Dockerfile)")


if __name__ == "__main__":
    print(build_hash())
