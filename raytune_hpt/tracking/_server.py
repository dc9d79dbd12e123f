"""Serving an experiment's TensorBoard logs: local, or a mirror of an ``s3://`` experiment
refreshed while its search runs."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from raytune_hpt import storage
from raytune_hpt._record import METADATA_FILE
from raytune_hpt.tracking._tensorboard import TENSORBOARD_DIR

__all__ = ["REFRESH_S", "RemoteLogs", "serve_tensorboard", "tensorboard_logdir"]

logger = logging.getLogger(__name__)

#: How often the mirror of a remote experiment's logs is refreshed while its search runs.
#: The driver uploads them every 20 s (``tracking._tensorboard.UPLOAD_S``) and TensorBoard
#: reloads every 5 s: a running trial shows in TensorBoard at most about 45 s behind.
REFRESH_S = 15.0


def mirror_folder(uri: str) -> str:
    """Where ``raytune-hpt tensorboard URI`` keeps its copy of the experiment's logs:
    ``~/ray_results/tensorboard-downloads/<scheme>/<bucket>/<prefix>`` (apart from the logs
    a driver on this machine writes, ``tracking._tensorboard.local_logdir``)."""
    scheme, _, rest = uri.partition("://")
    return os.path.join(os.path.expanduser("~"), "ray_results", "tensorboard-downloads",
                        scheme, *[part for part in rest.split("/") if part])


class RemoteLogs:
    """The TensorBoard logs of an ``s3://``/``gs://`` experiment, mirrored into a local folder.

    Every file is listed before any is copied, and a name that would land outside the
    folder is refused (``storage.download``). :meth:`refresh` copies only what changed.
    """

    def __init__(self, uri: str) -> None:
        self.uri = storage.normalize(uri)
        self.remote = storage.join(self.uri, TENSORBOARD_DIR)
        self.local = mirror_folder(self.uri)
        self._known: dict[str, tuple[int, Any]] = {}

    def start(self) -> str:
        """The first copy; returns the local folder to serve.

        Raises:
            FileNotFoundError: the experiment has no TensorBoard logs (yet).
            ValueError: a remote file name that would be written outside the folder.
        """
        if not storage.exists(self.remote):
            raise FileNotFoundError(f"no TensorBoard logs at {self.remote}")
        self.refresh()
        return self.local

    def refresh(self) -> int:
        """Copy what changed since the last call; returns how many files were copied."""
        os.makedirs(self.local, exist_ok=True)
        return storage.download(self.remote, self.local, known=self._known)

    def ended(self) -> bool:
        """Whether the experiment's search has ended (``raytune_hpt.json`` says so)."""
        try:
            text = storage.read_text(storage.join(self.uri, METADATA_FILE))
            return bool(json.loads(text).get("ended"))
        except (OSError, ValueError, AttributeError):
            return False

    def follow(self, stop: threading.Event, every: float = REFRESH_S) -> None:
        """Refresh every ``every`` seconds until the search has ended (then once more) or
        ``stop`` is set. A failed refresh is logged and tried again at the next turn."""
        while not stop.wait(every):
            ended = self.ended()
            try:
                self.refresh()
            except OSError as error:
                logger.warning("Could not refresh the TensorBoard logs from %s: %s",
                               self.remote, error)
            except ValueError as error:  # a name that would land outside: copy no more
                logger.error("Stopped refreshing the TensorBoard logs: %s", error)
                return
            if ended:
                return


def tensorboard_logdir(directory: str) -> str:
    """The local folder to serve for ``directory``.

    An experiment folder (it has ``tensorboard/`` or ``raytune_hpt.json``) gives its
    ``tensorboard/`` folder; any other folder is served whole (several experiments side by
    side). For an ``s3://``/``gs://`` experiment, the logs are copied into a local mirror
    (:class:`RemoteLogs`; ``raytune-hpt tensorboard`` refreshes it while the search runs).

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        ValueError: a remote file name that would be written outside the mirror.
    """
    if storage.is_uri(directory):
        return RemoteLogs(directory).start()
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
