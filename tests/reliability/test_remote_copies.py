"""Copying a remote search's files to this machine keeps every file inside the destination
(issue 31): ``storage.download`` lists first and refuses a name with ``..``, ``.`` or empty
segments before writing anything. pyarrow's own ``copy_files`` wrote such a key outside the
destination (seen with its mock filesystem, used here as the remote store)."""

from __future__ import annotations

import os

import pytest
from pyarrow._fs import _MockFileSystem

from raytune_hpt import storage


def _put(fs, path: str, data: bytes) -> None:
    fs.create_dir(path.rsplit("/", 1)[0])
    with fs.open_output_stream(path) as stream:
        stream.write(data)


def _files(folder) -> list[str]:
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names)


@pytest.mark.parametrize("bad", ["../../escaped.txt", "run/../../escaped.txt",
                                 "..\\escaped.txt", "run/./escaped.txt"])
def test_a_name_that_would_land_outside_is_refused_before_any_write(tmp_path, bad):
    fs = _MockFileSystem()
    _put(fs, "bucket/exp/tensorboard/run/train/events.1", b"ok")
    _put(fs, f"bucket/exp/tensorboard/{bad}", b"planted")
    destination = tmp_path / "a" / "b" / "mirror"
    with pytest.raises(ValueError, match=r"1 file name\(s\) that would be written outside") \
            as raised:
        storage.download("bucket/exp/tensorboard", str(destination), source_filesystem=fs)
    assert repr(bad) in str(raised.value)
    assert "nothing was copied" in str(raised.value)
    assert _files(tmp_path) == []  # not even the good file: the check comes first


def test_a_refreshed_copy_takes_only_what_changed(tmp_path):
    fs = _MockFileSystem()
    _put(fs, "bucket/exp/tensorboard/run/train/events.1", b"epoch 1")
    _put(fs, "bucket/exp/tensorboard/events.hparams", b"space")
    known: dict = {}
    assert storage.download("bucket/exp/tensorboard", str(tmp_path), source_filesystem=fs,
                            known=known) == 2
    assert storage.download("bucket/exp/tensorboard", str(tmp_path), source_filesystem=fs,
                            known=known) == 0
    _put(fs, "bucket/exp/tensorboard/run/train/events.1", b"epoch 1, epoch 2")
    assert storage.download("bucket/exp/tensorboard", str(tmp_path), source_filesystem=fs,
                            known=known) == 1
    assert (tmp_path / "run" / "train" / "events.1").read_bytes() == b"epoch 1, epoch 2"
    assert _files(tmp_path) == ["events.hparams", os.path.join("run", "train", "events.1")]
