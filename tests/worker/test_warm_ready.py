"""A warm worker says it is ready (``worker._warm_ready``), and ``raytune-hpt up`` counts
the live ones and waits for them, within its bound (issue 32)."""

from __future__ import annotations

import logging
import subprocess
import sys

from raytune_hpt.driver import _kept_ray
from raytune_hpt.worker import _warm_ready


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_worker_marks_itself_ready_only_where_someone_counts(tmp_path, monkeypatch):
    folder = tmp_path / "ready"
    monkeypatch.setenv(_warm_ready.READY_VARIABLE, str(folder))
    _warm_ready.mark_ready()  # no folder: no one is counting, nothing is made
    assert not folder.exists()
    folder.mkdir()
    _warm_ready.mark_ready()
    (folder / str(_dead_pid())).touch()  # a worker that ended since
    (folder / "notes.txt").touch()
    assert _warm_ready.ready_workers(str(folder)) == 1
    assert _warm_ready.ready_workers(str(tmp_path / "missing")) == 0
    monkeypatch.delenv(_warm_ready.READY_VARIABLE)
    (folder / "stale").mkdir()
    _warm_ready.mark_ready()  # without the variable: nothing
    assert _warm_ready.ready_workers(str(folder)) == 1


def test_up_waits_a_bounded_time_and_says_how_many_are_ready(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "ready"
    folder.mkdir()
    (folder / str(_dead_pid())).touch()
    monkeypatch.setenv(_warm_ready.READY_VARIABLE, str(folder))
    _warm_ready.mark_ready()
    monkeypatch.setattr(_kept_ray, "WARM_READY_TIMEOUT_S", 0.5)
    with caplog.at_level(logging.WARNING):
        assert _kept_ray._wait_for_warm_workers(str(folder), 3) == 1
    assert "1 of 3 warm workers imported TensorFlow within 0 s" in caplog.text
    assert not folder.exists()  # later workers leave nothing behind
    again = tmp_path / "again"
    again.mkdir()
    (again / "1").touch()  # pid 1: alive (another user's process counts as alive)
    assert _kept_ray._wait_for_warm_workers(str(again), 1) == 1
