"""Every trial in the trackers: a real ``tensorboard`` server read over HTTP, and MLflow.

One small experiment serves every test here: it runs in a background thread while a
``raytune-hpt tensorboard`` subprocess serves its folder. A Keras callback holds the first
trials after their first epoch (until a file is removed), so the live view is read while
the search is certainly still running; afterwards the same server shows the finished one.
With mlflow installed the experiment also logs to a local MLflow file store, read back with
the MLflow client.
The space has a conditional hyperparameter (``momentum`` only with ``sgd``) and one trial
fails in its second epoch.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import keras
import pytest

import raytune_hpt as rth
from raytune_hpt.tracking import TrialTensorBoard

pytestmark = pytest.mark.slow  # one live search with TensorBoard (and MLflow) served

EPOCHS = 2
HPS = {"optimizer", "momentum", "units"}
SERIES = {("train", "epoch_loss"), ("train", "epoch_accuracy"),
          ("validation", "epoch_loss"), ("validation", "epoch_accuracy")}
ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def conditional_builder(hp):
    units = hp.Fixed("units", 16)
    optimizer = hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        momentum = hp.Float("momentum", 0.5, 0.9, step=0.4)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    opt = (keras.optimizers.SGD(0.05, momentum=momentum) if optimizer == "sgd"
           else keras.optimizers.Adam(0.01))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class HoldThenMaybeFail(keras.callbacks.Callback):
    """Waits after the first epoch while ``hold`` exists; SGD with momentum 0.9 then fails."""

    def __init__(self, hold: str) -> None:
        super().__init__()
        self.hold = hold

    def on_epoch_end(self, epoch, logs=None):
        deadline = time.time() + 150
        while epoch == 0 and os.path.exists(self.hold) and time.time() < deadline:
            time.sleep(0.2)

    def on_epoch_begin(self, epoch, logs=None):
        momentum = float(getattr(self.model.optimizer, "momentum", 0.0) or 0.0)
        if epoch == 1 and momentum > 0.8:
            raise RuntimeError("planned failure of the momentum=0.9 trial")


class Board:
    """A ``raytune-hpt tensorboard`` subprocess and its JSON endpoints."""

    def __init__(self, directory: str) -> None:
        # --port 0: the OS picks a free port (a port found free here beforehand was taken by
        # one of the running search's Ray workers once, in a full-suite run)
        self.errors = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "raytune_hpt", "tensorboard", directory, "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.errors, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.banner = self.process.stdout.readline()  # printed once the server listens
        match = re.search(r"127\.0\.0\.1:(\d+)", self.banner)
        self.errors.seek(0)
        assert match, (f"raytune-hpt tensorboard printed {self.banner!r}; its stderr ends: "
                       f"{self.errors.read()[-2000:]}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **params: str):
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict):
        request = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def experiment(self) -> dict:
        return self.post("/data/plugin/hparams/experiment", {"experimentName": ""})

    def sessions(self) -> dict[str, dict]:
        """Session name -> {"hparams", "status", "metrics": {(group, tag): (step, value)}}."""
        groups = self.post("/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": ALL_STATUSES, "colParams": [],
            "startIndex": 0, "sliceSize": 1000})["sessionGroups"]
        sessions = {}
        for group in groups:
            for session in group["sessions"]:
                metrics = {(m["name"].get("group", ""), m["name"]["tag"]):
                           (m["trainingStep"], m["value"])
                           for m in session.get("metricValues", [])}
                sessions[session["name"]] = {"hparams": group["hparams"], "metrics": metrics,
                                             "status": session.get("status", "STATUS_UNKNOWN")}
        return sessions

    def steps(self, run: str, tag: str) -> list[int]:
        return [step for _, step, _ in self.get("/data/plugin/scalars/scalars", run=run, tag=tag)]

    def wait_for(self, condition, what: str, timeout: float = 150):
        deadline, last = time.time() + timeout, None
        while time.time() < deadline:
            try:
                last = condition()
                if last:
                    return last
            except (OSError, KeyError, ValueError):  # not serving yet, or a run half-loaded
                pass
            time.sleep(1)
        raise AssertionError(f"TensorBoard never showed {what}; last seen: {last!r}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.errors.close()


@pytest.fixture(scope="module")
def live(ray_local, digits, tmp_path_factory):
    """The search, started in a thread and held after the first epoch; and the board."""
    (x, y), (xv, yv) = digits
    root = tmp_path_factory.mktemp("tracking")
    hold = root / "hold"
    hold.write_text("")
    mlflow_uri = None
    saved_env = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    try:
        import mlflow  # noqa: F401

        mlflow_uri = (root / "mlruns").as_uri()
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 wants an opt-in for files
    except ImportError:
        pass
    tuner = rth.Tuner(conditional_builder, objective="val_accuracy", searcher="grid",
                      max_trials=3, storage_path=str(root), name="tb", seed=0, verbose=0,
                      tracking={"mlflow": mlflow_uri} if mlflow_uri else None)
    outcome: dict = {}

    def search():
        try:
            outcome["results"] = tuner.search(
                x[:600], y[:600], validation_data=(xv, yv), epochs=EPOCHS, batch_size=64,
                callbacks=[HoldThenMaybeFail(str(hold)), TrialTensorBoard(histogram_freq=1)])
        except BaseException as error:  # reported by the tests that need the results
            outcome["error"] = error

    thread = threading.Thread(target=search, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not os.path.isdir(root / "tb" / "tensorboard") and time.time() < deadline:
        time.sleep(0.5)
    board = Board(str(root / "tb"))
    state = {"tuner": tuner, "thread": thread, "hold": hold, "outcome": outcome,
             "board": board, "mlflow_uri": mlflow_uri}
    yield state
    if hold.exists():
        hold.unlink()
    thread.join(timeout=300)
    board.close()
    if saved_env is None:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    else:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = saved_env


@pytest.fixture(scope="module")
def finished(live):
    """The same experiment once the search has returned (its results), and the board."""
    if live["hold"].exists():
        live["hold"].unlink()
    live["thread"].join(timeout=300)
    assert not live["thread"].is_alive(), "the search did not finish"
    if "error" in live["outcome"]:
        raise live["outcome"]["error"]
    results = live["outcome"]["results"]
    board = live["board"]
    board.wait_for(lambda: sum(s["status"] != "STATUS_UNKNOWN" for s in board.sessions().values())
                   == len(results.trials), "every session ended")
    return results


def _run_of(sessions: dict, trial_id: str) -> str:
    names = [name for name in sessions if name.startswith(f"{trial_id}_")]
    assert len(names) == 1, (trial_id, list(sessions))
    return names[0]


def test_running_trials_show_their_sessions_and_epochs_so_far(live):
    board = live["board"]
    assert board.banner.startswith("TensorBoard for ") and f"127.0.0.1:{board.port}" in board.banner

    def two_running_with_an_epoch():
        if not live["thread"].is_alive():
            raise AssertionError(f"the search ended early: {live['outcome']}")
        sessions = board.sessions()
        running = {n: s for n, s in sessions.items() if s["status"] == "STATUS_UNKNOWN"
                   and {(g, t) for g, t in SERIES} <= set(s["metrics"])}
        return running if len(running) == 2 else None

    running = board.wait_for(two_running_with_an_epoch, "two running trials after one epoch")
    assert live["thread"].is_alive() and live["hold"].exists()  # the search is still running
    for name, session in running.items():
        assert {step for step, _ in session["metrics"].values()} == {1}, session
        assert session["hparams"]["units"] == 16
        for group, tag in SERIES:
            assert board.steps(f"{name}/{group}", tag) == [1]
    experiment = board.experiment()
    assert {info["name"] for info in experiment["hparamInfos"]} == HPS
    metrics = {(m["name"].get("group", ""), m["name"]["tag"]) for m in experiment["metricInfos"]}
    assert SERIES <= metrics
    live["hold"].unlink()  # let the search finish


def test_finished_experiment_has_every_trial_series_and_session(live, finished):
    board, trials = live["board"], finished.trials
    assert len(trials) == 3
    runs = set(board.get("/data/runs"))
    sessions = board.sessions()
    assert len(sessions) == 3
    tags = board.get("/data/plugin/scalars/tags")
    for trial in trials:
        name = _run_of(sessions, trial.trial_id)
        assert {name, f"{name}/train", f"{name}/validation"} <= runs
        epochs = list(range(1, EPOCHS + 1)) if trial.status == "finished" else [1]
        for group, tag in SERIES:
            assert tag in tags[f"{name}/{group}"]
            assert board.steps(f"{name}/{group}", tag) == epochs, (trial.trial_id, group, tag)
        session = sessions[name]
        assert session["hparams"] == pytest.approx(
            {k: (float(v) if isinstance(v, (int, float)) else v)
             for k, v in trial.hyperparameters.items()})
        step, value = session["metrics"][("validation", "epoch_accuracy")]
        assert step == epochs[-1]
        assert value == pytest.approx(trial.history[-1]["val_accuracy"], rel=1e-6)
        assert session["metrics"][("", "epochs")][1] == epochs[-1]
    statuses = sorted(s["status"] for s in sessions.values())
    assert statuses == ["STATUS_FAILURE", "STATUS_SUCCESS", "STATUS_SUCCESS"]
    failed = [t for t in trials if t.status == "failed"]
    assert len(failed) == 1 and failed[0].hyperparameters["momentum"] == pytest.approx(0.9)


def test_experiment_lists_every_hyperparameter_with_its_domain_and_every_metric(live, finished):
    experiment = live["board"].experiment()
    infos = {info["name"]: info for info in experiment["hparamInfos"]}
    assert set(infos) == HPS
    assert infos["optimizer"]["domainDiscrete"] == ["adam", "sgd"]
    assert infos["momentum"]["domainInterval"] == {"minValue": 0.5, "maxValue": 0.9}
    assert infos["units"]["domainDiscrete"] == [16.0]
    metrics = {(m["name"].get("group", ""), m["name"]["tag"]): m.get("displayName")
               for m in experiment["metricInfos"]}
    assert metrics == {("train", "epoch_loss"): "loss", ("train", "epoch_accuracy"): "accuracy",
                       ("validation", "epoch_loss"): "val_loss",
                       ("validation", "epoch_accuracy"): "val_accuracy",
                       ("model", "params"): "params", ("", "epochs"): "epochs run"}


def test_conditional_hyperparameter_is_absent_where_inactive(live, finished):
    sessions = live["board"].sessions()
    by_optimizer: dict[str, list[dict]] = {"adam": [], "sgd": []}
    for session in sessions.values():
        by_optimizer[session["hparams"]["optimizer"]].append(session["hparams"])
    assert len(by_optimizer["adam"]) == 1 and len(by_optimizer["sgd"]) == 2
    assert "momentum" not in by_optimizer["adam"][0]
    assert sorted(h["momentum"] for h in by_optimizer["sgd"]) == pytest.approx([0.5, 0.9])


def test_keras_tensorboard_options_pass_through_without_duplicate_scalars(live, finished):
    board = live["board"]
    histograms = board.get("/data/plugin/histograms/tags")
    keras_runs = [run for run in histograms if run.endswith("/keras/train")]
    assert len(keras_runs) == 3, list(histograms)
    finished_run = next(run for run in keras_runs if "momentum=0.9" not in run)
    tag = next(t for t in histograms[finished_run] if t.endswith("/histogram"))
    steps = [step for _, step, _ in board.get("/data/plugin/histograms/histograms",
                                                run=finished_run, tag=tag)]
    assert steps == [1, 2]  # the same 1-based epochs as the scalars
    scalar_runs = board.get("/data/plugin/scalars/tags")
    assert not [run for run in scalar_runs if "/keras/" in run]


def test_mlflow_round_trip_has_every_trial_params_and_metric_history(live, finished):
    if live["mlflow_uri"] is None:
        pytest.skip("mlflow is not installed (pip install 'raytune-hpt[mlflow]')")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=live["mlflow_uri"])
    experiment = client.get_experiment_by_name("tb")
    assert experiment is not None
    runs = {run.data.tags["trial_id"]: run
            for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {trial.trial_id for trial in finished.trials}
    for trial in finished.trials:
        run = runs[trial.trial_id]
        assert run.info.run_name.startswith(f"{trial.trial_id}_")
        assert run.data.params == {k: str(v) for k, v in trial.hyperparameters.items()}
        assert run.info.status == ("FAILED" if trial.status == "failed" else "FINISHED")
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == \
            [row["epoch"] for row in trial.history]
        assert sorted(history, key=lambda m: m.step)[-1].value == pytest.approx(
            trial.history[-1]["val_accuracy"], rel=1e-6)
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(run.data.metrics)
        assert not {"pid", "time_this_iter_s", "epoch"} & set(run.data.metrics)
