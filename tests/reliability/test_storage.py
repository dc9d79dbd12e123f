"""Storage: a checkpoint or results file is either whole or absent, and nothing reads a torn one.

The crash test (test_driver_crash.py) also plants a torn checkpoint folder in a killed run
and shows that resume ignores it: Ray registers a checkpoint in the experiment state only
after it is fully persisted, so an unregistered folder is never restored from.
"""

from __future__ import annotations

import builtins
import os

import pytest

from raytune_hpt import storage
from raytune_hpt.results._files import progress_rows as _progress_rows


def test_a_results_row_cut_short_by_a_crash_is_not_read(tmp_path):
    whole = "epoch,val_accuracy,trial_id\n1,0.5,abc\n2,0.625,abc\n"
    (tmp_path / "progress.csv").write_text(whole + "3,0.")  # killed while writing row 3
    rows = _progress_rows(str(tmp_path))
    assert [(r["epoch"], r["val_accuracy"]) for r in rows] == [(1, 0.5), (2, 0.625)]
    (tmp_path / "progress.csv").write_text("epoch,val_acc")  # killed while writing the header
    assert _progress_rows(str(tmp_path)) == []


def test_write_text_leaves_the_old_file_whole_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "raytune_hpt.json"
    storage.write_text(str(target), '{"version": 1}')
    real_open = builtins.open

    class Crash(Exception):
        pass

    class HalfWriter:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()
            return False

        def write(self, text):
            self.file.write(text[: len(text) // 2])
            raise Crash("killed mid-write")

    def crashing_open(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return HalfWriter(file) if "w" in mode and str(path).startswith(str(target)) else file

    monkeypatch.setattr(builtins, "open", crashing_open)
    with pytest.raises(Crash):
        storage.write_text(str(target), '{"version": 2, "much": "longer text"}')
    monkeypatch.undo()
    assert target.read_text() == '{"version": 1}'  # the old file, whole
    storage.write_text(str(target), '{"version": 3}')
    assert target.read_text() == '{"version": 3}'
    assert sorted(os.listdir(tmp_path))[0] == "raytune_hpt.json"
