"""A live view from the laptop (issue 31): while a search writes to ``s3://`` storage (a real
moto server), ``raytune-hpt results URI`` shows a trial that is running with at least one
epoch, and ``raytune-hpt tensorboard URI`` (read over HTTP) shows that trial's scalars
before it has finished. The trials hold after their first epoch while a file exists, so the
view is read while the search certainly runs; nothing here is timed.

Every command is a subprocess with its own HOME (the driver's local logs and the laptop's
mirror stay in the test's folder) and its own RAY_TMPDIR.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from tests._helpers.cluster import BIN, cli

pytestmark = pytest.mark.slow

SEARCH = r"""
import os, sys, time
import keras
import raytune_hpt as kt
from sklearn.datasets import load_digits


class HoldAfterFirstEpoch(keras.callbacks.Callback):
    def __init__(self, hold):
        super().__init__()
        self.hold = hold

    def on_epoch_end(self, epoch, logs=None):
        deadline = time.time() + 400
        while epoch == 0 and os.path.exists(self.hold) and time.time() < deadline:
            time.sleep(0.5)


def build(hp):
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Int("units", 8, 32, step=8),
                                                 activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


x, y = load_digits(return_X_y=True)
tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=2, directory=sys.argv[1],
                        project_name="exp", overwrite=True, seed=0, verbose=0,
                        resources={"cpu": 1, "gpu": 0})
tuner.search(x / 16, y, validation_split=0.2, epochs=2, batch_size=64,
             callbacks=[HoldAfterFirstEpoch(sys.argv[2])])
print("searched")
"""


def _wait(condition, what: str, process: subprocess.Popen, timeout: float = 300):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the search ended before {what} was seen"
        try:
            last = condition()
        except (OSError, ValueError, KeyError):  # not there yet, or half written
            last = None
        if last:
            return last
        time.sleep(2)
    raise AssertionError(f"never saw {what}; last: {last!r}")


def _get(url: str, path: str, **params: str):
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{query}", timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def ray_tmpdir():
    folder = tempfile.mkdtemp(prefix="rthl-", dir="/tmp")  # short: Unix socket paths
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_results_and_tensorboard_show_running_trials_of_a_search_on_s3(s3_server, tmp_path,
                                                                       ray_tmpdir):
    env = s3_server.env(HOME=str(tmp_path / "home"), RAY_TMPDIR=ray_tmpdir)
    (tmp_path / "home").mkdir()
    hold = tmp_path / "hold"
    hold.write_text("")
    uri = f"s3://{s3_server.bucket}/live/exp"
    (tmp_path / "search.py").write_text(SEARCH)
    search = subprocess.Popen([sys.executable, str(tmp_path / "search.py"),
                               f"s3://{s3_server.bucket}/live", str(hold)], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    board = None
    try:
        def a_running_trial_with_an_epoch():
            done = cli("results", uri, "-o", tmp_path / "trials.json", env=env, timeout=120)
            trials = json.loads((tmp_path / "trials.json").read_text()) if done.returncode == 0 \
                else []
            return [t for t in trials if t["status"] == "running" and (t["epochs"] or 0) >= 1]

        running = _wait(a_running_trial_with_an_epoch, "a running trial in `results`", search)
        trial_id = running[0]["trial_id"]

        _wait(lambda: any("/tensorboard/" in k for k in s3_server.keys("live/exp/")),
              "TensorBoard logs in storage", search)
        board = subprocess.Popen(
            [str(BIN / "raytune-hpt"), "tensorboard", uri, "--port", "0"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        banner = board.stdout.readline()
        port = re.search(r"127\.0\.0\.1:(\d+)", banner)
        assert port, f"raytune-hpt tensorboard printed {banner!r}"
        url = f"http://127.0.0.1:{port.group(1)}"

        def scalars_of_the_running_trial():
            runs = _get(url, "/data/plugin/scalars/tags")
            run = next((r for r in runs if r.startswith(trial_id) and r.endswith("/validation")
                        and "epoch_loss" in runs[r]), None)
            return run and _get(url, "/data/plugin/scalars/scalars", run=run, tag="epoch_loss")

        points = _wait(scalars_of_the_running_trial, f"scalars of trial {trial_id}", search)
        assert [step for _, step, _ in points] == [1]  # its first epoch; it is held there
        still = cli("results", uri, "-o", tmp_path / "again.json", env=env, timeout=120)
        assert still.returncode == 0, still.stderr
        statuses = {t["trial_id"]: t["status"]
                    for t in json.loads((tmp_path / "again.json").read_text())}
        assert statuses[trial_id] == "running"  # the view came before the trial's end
    finally:
        hold.unlink(missing_ok=True)
        try:
            out, err = search.communicate(timeout=400)
        finally:
            if board is not None:
                board.terminate()
                board.wait(timeout=30)
    assert search.returncode == 0 and "searched" in out, err[-3000:]
