"""The ``raytune-hpt`` command, run as a real subprocess that starts its own local Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

GOOD = """\
model: raytune_hpt.examples.digits:build_model
data: digits
objective: val_accuracy
max_trials: 2
fit: {epochs: 1}
"""


def cli(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "raytune_hpt", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# -- bad files and arguments: exit 2, one line naming the field, nothing started or written --
# (experiment file text or None, arguments with FILE for the file, the field the line names)
MALFORMED = [
    (None, ["run", "missing.yaml"], "missing.yaml"),
    ("model: a:b\ndata: [digits\n", ["run", "FILE"], "FILE"),
    ("", ["run", "FILE"], "FILE"),
    ("- model\n", ["run", "FILE"], "FILE"),
    (GOOD + "searcher: bayes\n", ["run", "FILE"], "searcher.type"),
    (GOOD + "scheduler: {type: bohb}\n", ["run", "FILE"], "scheduler.type"),
    (GOOD, ["run", "FILE", "--set", "max_trials=0"], "max_trials"),
    (GOOD.replace("{epochs: 1}", "{epoch: 1}"), ["run", "FILE"], "fit.epoch"),
    (GOOD.replace("val_accuracy", "val_top3"), ["run", "FILE"], "objective"),
    (GOOD.replace("data: digits", "data: cifar10"), ["run", "FILE"], "data.dataset"),
    (
        GOOD.replace("data: digits", "data: {dataset: digits, cv: 3, validation_split: 0.2}"),
        ["run", "FILE"],
        "data.cv",
    ),
    (
        GOOD + "space: {units: {type: int, min_value: 9, max_value: 1}}\n",
        ["run", "FILE"],
        "space.units",
    ),
    (GOOD + "resources: {cpu: 0}\n", ["run", "FILE"], "resources.cpu"),
    (GOOD + "colour: blue\n", ["run", "FILE"], "colour"),
    (
        GOOD.replace("raytune_hpt.examples.digits:build_model", "build_model"),
        ["run", "FILE"],
        "model",
    ),
    (GOOD.replace("raytune_hpt.examples.digits", "no_such_pkg.models"), ["run", "FILE"], "model"),
    (GOOD.replace("raytune_hpt.examples.digits", "models/missing.py"), ["run", "FILE"], "model"),
    (GOOD.replace("build_model", "build_nothing"), ["run", "FILE"], "model"),
    (
        GOOD.replace("data: digits", "data: {parquet: none.parquet, label: y}"),
        ["run", "FILE"],
        "data.parquet",
    ),
    (GOOD + "searcher: {type: random, colour: 1}\n", ["run", "FILE"], "searcher"),
    (GOOD + "scheduler: {type: asha, grace_period: 5}\n", ["run", "FILE"], "scheduler"),
    (GOOD, ["run", "FILE", "--set", "fit.epochs"], "--set"),
    (GOOD, ["run", "FILE", "--max-trials", "0"], "--max-trials"),
    (GOOD, ["run", "FILE", "--max-trials", "many"], "argument --max-trials"),
    (GOOD, ["run", "FILE", "--name", "a/b"], "name"),
    (None, ["run", "--example", "cifar"], "--example"),
    (GOOD, ["run", "FILE", "--example", "digits"], "argument --example"),
    (None, ["run"], "one of the arguments file --example is required"),
    (None, ["best", "."], "DIR"),
    (None, ["best", ".", "--export-model", "best.h5"], "--export-model"),
    (None, ["results", ".", "-o", "trials.xlsx"], "--output"),
    (None, ["resume", "."], "DIR"),
    (None, ["examples", "cifar"], "NAME"),
    (None, ["tune"], "argument COMMAND"),
]


# Found only once the model is imported (TensorFlow with it): seconds each, so `slow`.
_AFTER_IMPORT = {"model", "data.parquet", "searcher", "scheduler"}


def _malformed_params() -> list:
    return [
        pytest.param(*case, id=f"{i}-{case[2]}",
                     marks=[pytest.mark.slow] if case[2] in _AFTER_IMPORT else [])
        for i, case in enumerate(MALFORMED)
    ]


@pytest.mark.parametrize(("text", "args", "field"), _malformed_params())
def test_malformed_input_exits_2_with_one_line_and_no_side_effects(tmp_path, text, args, field):
    work = tmp_path / "work"
    work.mkdir()
    if text is not None:
        (work / "experiment.yaml").write_text(text)
    before = _files(work)
    ray_tmp = tmp_path / "ray"  # Ray would create its session folder here if it started
    args = [("experiment.yaml" if a == "FILE" else a) for a in args]
    field = "experiment.yaml" if field == "FILE" else field
    result = (
        cli(
            *args,
            "--storage-path",
            str(tmp_path / "results"),
            cwd=work,
            env={"RAY_TMPDIR": str(ray_tmp)},
        )
        if args[0] == "run"
        else cli(*args, cwd=work, env={"RAY_TMPDIR": str(ray_tmp)})
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"raytune-hpt: error: {field}"), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not ray_tmp.exists(), "Ray was started"
    assert not (tmp_path / "results").exists()
    assert _files(work) == before


def test_help_and_validation_stay_light(tmp_path):
    """--help on every subcommand and a dry run import neither TensorFlow nor Ray."""
    script = textwrap.dedent("""
        import contextlib, io, sys
        from raytune_hpt.cli import SUBCOMMANDS, main
        for argv in [["--help"]] + [[name, "--help"] for name in SUBCOMMANDS]:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    main(argv)
                except SystemExit as exit:
                    assert exit.code == 0, argv
            assert "usage: raytune-hpt" in out.getvalue(), argv
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["run", "--example", "mnist-cnn", "--dry-run"]) == 0
            assert main(["examples"]) == 0
        print("tensorflow" in sys.modules, "ray" in sys.modules)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_version_and_examples_listing(tmp_path):
    from raytune_hpt import __version__
    from raytune_hpt.examples import EXAMPLES

    assert cli("--version", cwd=tmp_path).stdout.strip() == f"raytune-hpt {__version__}"
    listing = cli("examples", cwd=tmp_path)
    assert listing.returncode == 0
    for name in EXAMPLES:
        assert any(line.startswith(name) for line in listing.stdout.splitlines())
    shown = cli("examples", "digits", cwd=tmp_path)
    assert "model: raytune_hpt.examples.digits:build_model" in shown.stdout


# -- a finished experiment: run, best, results, export ------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The digits example, shortened, run through the command; (stdout, experiment dir)."""
    root = tmp_path_factory.mktemp("finished")
    result = cli(
        "run",
        "--example",
        "digits",
        "--set",
        "max_trials=2",
        "--set",
        "fit.epochs=2",
        "--set",
        "data.shared_arrays_mb=0",  # digits is small: fed from the shared copy only when told
        "--storage-path",
        str(root / "results"),
        "--name",
        "quick",
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, root / "results" / "quick", root


@pytest.mark.slow
def test_run_summary_says_what_happened_and_what_next(finished):
    stdout, path, _ = finished
    tail = stdout[stdout.index("Search done") :]
    assert "2 trials (2 finished)" in tail
    assert "Best trial" in tail and "val_accuracy = " in tail and "units=" in tail
    assert f"Results: {path}" in tail
    assert f"raytune-hpt best {path} --export-model" in tail
    assert f"raytune-hpt results {path} -o" in tail
    assert (path / "raytune_hpt_experiment.yaml").is_file()


@pytest.mark.slow
def test_data_shared_arrays_mb_reaches_the_trials_and_the_saved_file(finished):
    _, path, _ = finished
    firsts = [json.loads(f.read_text().splitlines()[0]) for f in path.glob("*/result.json")]
    assert len(firsts) == 2
    assert {first["data_feed"] for first in firsts} == {"batches"}  # default 32 MB: "arrays"
    from raytune_hpt.experiment import load_saved_experiment

    assert load_saved_experiment(str(path)).data.shared_arrays_mb == 0  # resume keeps it


@pytest.mark.slow
def test_best_json_names_the_best_trial(finished):
    _, path, root = finished
    result = cli("best", str(path), "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    best = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(best) == {"trial_id", "hyperparameters", "metrics", "checkpoint"}
    assert set(best["hyperparameters"]) == {"units", "learning_rate"}
    assert 0.0 <= best["metrics"]["val_accuracy"] <= 1.0
    assert Path(best["checkpoint"]).is_dir()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json"])
def test_results_table_has_one_row_per_trial(finished, suffix):
    _, path, root = finished
    target = root / f"trials{suffix}"
    result = cli("results", str(path), "-o", str(target), cwd=root)
    assert result.returncode == 0, result.stderr
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(target).to_pylist()
    elif suffix == ".csv":
        import pyarrow.csv

        rows = pyarrow.csv.read_csv(target).to_pylist()
    else:
        rows = json.loads(target.read_text())
    assert len(rows) == 2
    for column in (
        "trial_id",
        "status",
        "hp_units",
        "hp_learning_rate",
        "final_val_accuracy",
        "best_val_accuracy",
        "epochs",
        "wall_time_s",
        "error",
    ):
        assert column in rows[0], column
    assert {row["status"] for row in rows} == {"finished"}
    assert all(row["epochs"] == 2 for row in rows)


@pytest.mark.slow
def test_exported_model_reproduces_the_best_objective(finished):
    _, path, root = finished
    target = root / "best.keras"
    result = cli("best", str(path), "--json", "--export-model", str(target), cwd=root)
    assert result.returncode == 0, result.stderr
    best = json.loads(result.stdout.strip().splitlines()[-1])
    import keras

    from raytune_hpt.experiment import load_saved_experiment, resolve

    model = keras.models.load_model(target)
    x_val, y_val = resolve(load_saved_experiment(str(path))).search_kwargs["validation_data"]
    scores = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(best["metrics"]["val_accuracy"], abs=1e-4)


# -- resume, custom files, a failing search -------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_saves_the_run_and_resume_finishes_it(tmp_path):
    storage = tmp_path / "results"
    args = ["run", "--example", "digits", "--set", "max_trials=3", "--set", "fit.epochs=4"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "raytune_hpt", *args, "--storage-path", str(storage), "-v", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and process.poll() is None:
        rows = [p.read_text().count("\n") for p in storage.glob("digits/*/progress.csv")]
        if any(count >= 2 for count in rows):  # a header and one epoch
            break
        time.sleep(0.5)
    assert process.poll() is None, "the search ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-3000:]
    assert f"Continue it with: raytune-hpt resume {storage / 'digits'}" in stdout
    resumed = cli("resume", str(storage / "digits"), "-v", "0", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming experiment 'digits'" in resumed.stdout
    assert "3 trials (3 finished)" in resumed.stdout


@pytest.mark.slow
def test_model_and_tf_data_loader_from_files(tmp_path):
    """Files outside any package reach the workers (pickled by value); tf.data built there."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "my_model.py").write_text(
        textwrap.dedent("""
        import keras

        def build(hp):
            model = keras.Sequential([keras.Input((4,)),
                                      keras.layers.Dense(hp.Int("units", 4, 8, step=4),
                                                         activation="relu"),
                                      keras.layers.Dense(2, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    """)
    )
    (tmp_path / "code" / "my_data.py").write_text(
        textwrap.dedent("""
        import numpy as np
        import tensorflow as tf

        def load(rows):
            rng = np.random.default_rng(0)
            x = rng.normal(size=(rows, 4)).astype("float32")
            y = (x[:, 0] > 0).astype("int64")
            data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
            return data.skip(2), data.take(2)
    """)
    )
    (tmp_path / "exp.yaml").write_text(
        textwrap.dedent("""
        name: files
        model: code/my_model.py:build
        data: {loader: code/my_data.py:load, kwargs: {rows: 128}}
        objective: val_accuracy
        max_trials: 2
        fit: {epochs: 2}
    """)
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli(
        "run",
        str(tmp_path / "exp.yaml"),
        "--storage-path",
        str(tmp_path / "results"),
        cwd=elsewhere,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 trials (2 finished)" in result.stdout


@pytest.mark.slow
def test_a_search_whose_trials_all_fail_exits_1_and_says_why(tmp_path):
    (tmp_path / "bad_data.py").write_text(
        textwrap.dedent("""
        import numpy as np
        import tensorflow as tf

        def load():
            x = np.zeros((32, 5), "float32")  # the digits model wants 64 features
            y = np.zeros(32, "int64")
            data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
            return data, data
    """)
    )
    (tmp_path / "exp.yaml").write_text(
        GOOD.replace("data: digits", "data: {loader: bad_data.py:load}")
    )
    result = cli("run", "exp.yaml", "--storage-path", str(tmp_path / "results"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "2 trial(s) failed; the first error:" in result.stdout
    assert "raytune-hpt resume" in result.stdout
