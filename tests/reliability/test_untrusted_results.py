"""A results folder from someone else runs no code (issue 23, finding 1), and the readers
tell what a person must know: failed trials never rank (finding 7), trials HyperBand left
paused in an ended search are stopped early (issue 22, item 3).

One real experiment (two trials on digits) is copied and doctored the way an attacker (or
Ray) would leave it: every pickled blob of Ray's trial state and each trial's ``error.pkl``
become a pickle whose loading writes a marker file. ``best``, ``results``, ``report`` and
``load_results`` must answer from the plain files, locally and on a real S3 server (moto),
and the marker must never appear.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import socket
from pathlib import Path

import pytest

import raytune_hpt as rth
from tests._helpers.cluster import clean_env, cli

pytestmark = pytest.mark.slow

_PICKLED = "CLOUDPICKLE_FALLBACK"
_PAUSED = re.compile(r"\bpaused\b", re.IGNORECASE)  # the word, not a path holding it


class _WritesFile:
    """Unpickling this writes ``path``: the stand-in for any code a pickle can run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))


def _poison(value, blob: str):
    if isinstance(value, dict):
        if value.get("_type") == _PICKLED:
            return {"_type": _PICKLED, "value": blob}
        return {k: _poison(v, blob) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, blob) for v in value]
    return value


def _edit_state(folder: Path, edit) -> None:
    """Apply ``edit(trial_state, run_metadata)`` to every trial of Ray's newest state file."""
    state_path = max(folder.glob("experiment_state-*.json"))
    state = json.loads(state_path.read_text())
    entries = []
    for trial_json, run_json in state["trial_data"]:
        trial, run = json.loads(trial_json), json.loads(run_json)
        edit(trial, run)
        entries.append([json.dumps(trial), json.dumps(run)])
    state["trial_data"] = entries
    state_path.write_text(json.dumps(state))


def _poisoned_copy(source: Path, target: Path, marker: Path) -> Path:
    shutil.copytree(source, target)
    payload = pickle.dumps(_WritesFile(str(marker)))
    blob = payload.hex()

    def edit(trial, run):
        # Ray hex-encodes pickles of the non-JSON fields (placement group factory,
        # resources, results...) and keeps them in the trial's JSON state.
        for key, value in list(trial.items()):
            if isinstance(value, str) and value.startswith("8005"):
                trial[key] = blob
        trial.update(_poison(trial, blob))
        run.update(_poison(run, blob))
        run["pickled_error_filename"] = "error.pkl"

    _edit_state(target, edit)
    for trial_dir in target.iterdir():
        if (trial_dir / "params.json").exists():
            (trial_dir / "error.pkl").write_bytes(payload)
            (trial_dir / "params.pkl").write_bytes(payload)
    return target


@pytest.fixture(scope="module")
def experiment(ray_local, digits, tmp_path_factory):
    """A real finished experiment of two trials; returns (folder, best trial id)."""
    (x, y), (xv, yv) = digits

    def build(hp):
        import keras

        model = keras.Sequential([keras.Input((64,)),
                                  keras.layers.Dense(hp.Choice("units", [4, 32]),
                                                     activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    storage = tmp_path_factory.mktemp("untrusted")
    tuner = rth.Tuner(build, objective="val_accuracy", searcher="grid", max_trials=2,
                      storage_path=str(storage), name="shared", seed=0, verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=2)
    return storage / "shared", results.best_trial().trial_id


def _answers(target: str, env: dict[str, str], tmp_path: Path, best_id: str,
             marker: Path) -> None:
    """Each command answers from the plain files, and none of them ran the pickles."""
    best = cli("best", target, "--json", env=env)
    table = cli("results", target, env=env)
    report = cli("report", target, "-o", tmp_path / "report.html", env=env)
    assert not marker.exists(), "a command unpickled a blob from the results"
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["trial_id"] == best_id
    assert table.returncode == 0, table.stderr
    assert best_id in table.stdout and "2 finished" in table.stdout
    assert report.returncode == 0, report.stderr
    assert best_id in (tmp_path / "report.html").read_text()


def test_reading_a_doctored_local_folder_runs_no_code(experiment, tmp_path):
    source, best_id = experiment
    marker = tmp_path / "ran.txt"
    folder = _poisoned_copy(source, tmp_path / "shared", marker)
    try:
        results = rth.load_results(str(folder))
    finally:
        assert not marker.exists(), "load_results unpickled a blob from the folder"
    assert results.best_trial().trial_id == best_id
    assert {t.status for t in results.trials} == {"finished"}
    assert results.best_trial().checkpoint and Path(results.best_trial().checkpoint).is_dir()
    _answers(str(folder), clean_env(), tmp_path, best_id, marker)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """A real S3-compatible server (moto) on 127.0.0.1 with one bucket; AWS_* set for it."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing",
                 ).create_bucket(Bucket="shared")
    try:
        yield env
    finally:
        server.stop()


def test_reading_a_doctored_s3_prefix_runs_no_code(experiment, tmp_path, s3):
    import pyarrow.fs

    source, best_id = experiment
    marker = tmp_path / "ran.txt"
    folder = _poisoned_copy(source, tmp_path / "shared", marker)
    fs, inner = pyarrow.fs.FileSystem.from_uri("s3://shared/team/exp")
    pyarrow.fs.copy_files(str(folder), inner, destination_filesystem=fs)
    uri = "s3://shared/team/exp"
    try:
        results = rth.load_results(uri)
    finally:
        assert not marker.exists(), "load_results unpickled a blob from the bucket"
    assert results.best_trial().trial_id == best_id
    assert results.best_trial().checkpoint.startswith(uri)
    _answers(uri, clean_env(**s3), tmp_path, best_id, marker)


# -- what the readers show ------------------------------------------------------------------
def test_a_failed_trial_is_never_ranked_best(experiment, tmp_path):
    source, best_id = experiment
    folder = tmp_path / "shared"
    shutil.copytree(source, folder)

    def fail_the_best(trial, run):
        if trial["trial_id"] == best_id:
            trial["status"] = "ERROR"

    _edit_state(folder, fail_the_best)
    results = rth.load_results(str(folder))
    failed = next(t for t in results.trials if t.trial_id == best_id)
    assert failed.status == "failed"
    assert results.best_trial().trial_id != best_id
    assert best_id not in [t.trial_id for t in results.ranked_trials()]
    best = cli("best", folder, "--json", env=clean_env())
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["trial_id"] != best_id


def _pause_one(folder: Path, trial_id: str, ended: bool) -> None:
    def pause(trial, run):
        if trial["trial_id"] == trial_id:
            trial["status"] = "PAUSED"

    _edit_state(folder, pause)
    metadata = json.loads((folder / "raytune_hpt.json").read_text())
    metadata.pop("ended", None)
    metadata.update({"ended": True} if ended else {})
    (folder / "raytune_hpt.json").write_text(json.dumps(metadata))


def test_a_trial_left_paused_by_an_ended_search_shows_as_stopped(experiment, tmp_path):
    source, best_id = experiment
    folder = tmp_path / "shared"
    shutil.copytree(source, folder)
    other = next(t.trial_id for t in rth.load_results(str(source)).trials
                 if t.trial_id != best_id)
    _pause_one(folder, other, ended=True)
    results = rth.load_results(str(folder))
    assert {t.trial_id: t.status for t in results.trials}[other] == "stopped"
    assert "1 stopped" in results.summary() and not _PAUSED.search(results.summary())
    row = {r["trial_id"]: r for r in results.to_table().to_pylist()}[other]
    assert row["status"] == "stopped"
    shown = cli("results", folder, env=clean_env())
    assert "1 stopped" in shown.stdout and not _PAUSED.search(shown.stdout)
    best = cli("best", folder, env=clean_env())
    assert best.returncode == 0 and not _PAUSED.search(best.stdout)
    cli("report", folder, "-o", tmp_path / "r.html", env=clean_env())
    page = (tmp_path / "r.html").read_text()
    assert "stopped" in page and not _PAUSED.search(page[page.rfind("</script>"):])


def test_a_paused_trial_of_a_running_search_stays_paused(experiment, tmp_path):
    source, best_id = experiment
    folder = tmp_path / "shared"
    shutil.copytree(source, folder)
    _pause_one(folder, best_id, ended=False)  # no "ended": the search may still run
    results = rth.load_results(str(folder))
    assert {t.trial_id: t.status for t in results.trials}[best_id] == "paused"


def test_a_finished_search_records_that_it_ended(experiment):
    source, _ = experiment
    assert json.loads((source / "raytune_hpt.json").read_text()).get("ended") is True


def test_copies_from_a_doctored_s3_prefix_stay_inside_their_folder(experiment, tmp_path, s3,
                                                                   monkeypatch):
    """A key with '..' beside a checkpoint and in the TensorBoard logs (issue 31): the
    export and the TensorBoard mirror refuse it before writing anything, anywhere."""
    import tempfile

    import boto3
    import pyarrow.fs

    source, _ = experiment
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where the TensorBoard mirror goes
    uri = "s3://shared/crafted/exp"
    fs, inner = pyarrow.fs.FileSystem.from_uri(uri)
    pyarrow.fs.copy_files(str(source), inner, destination_filesystem=fs)
    checkpoint = rth.load_results(uri).best_trial().checkpoint
    planted = f"escaped-{tmp_path.name}.txt"
    client = boto3.client("s3", endpoint_url=s3["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for key in (f"{checkpoint.removeprefix('s3://shared/')}/../{planted}",
                f"crafted/exp/tensorboard/../{planted}"):
        client.put_object(Bucket="shared", Key=key, Body=b"planted")

    exported = cli("best", uri, "--export-model", tmp_path / "best.keras",
                   env=clean_env(**s3, HOME=str(tmp_path / "home")))
    assert exported.returncode == 2, exported.stderr
    assert "--export-model:" in exported.stderr and f"'../{planted}'" in exported.stderr
    from raytune_hpt.tracking import RemoteLogs

    with pytest.raises(ValueError, match="would be written outside"):
        RemoteLogs(uri).start()
    assert not (tmp_path / "best.keras").exists()
    assert not list(tmp_path.rglob(planted))
    assert not (Path(tempfile.gettempdir()) / planted).exists()
