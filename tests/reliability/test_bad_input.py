"""Bad input: a table of malformed inputs given to the ``raytune-hpt`` command (a real
subprocess each): experiment files, CLI arguments, hyperparameter definitions, data with
wrong shapes or NaNs, an objective the model never logs, resources no node has.

Each must end with exit code 2 and exactly one line on stderr (``raytune-hpt: error: ...``
naming the culprit, no traceback), and nothing started or written: no experiment folder, no
Ray session (each case gets its own ``RAY_TMPDIR``, which must stay absent), no new file.
The cases run a few at a time; each test below checks one of them.

An objective the model never logs cannot be found before the search by design (issue 2: the
model's logs are known only once it has trained an epoch): for those cases what holds is
checked instead: exit code 2, one ``raytune-hpt: error:`` line (the last one) naming the
objective, and the search stopped after its first trials instead of running ``max_trials``.

TensorFlow's C++ runtime prints a few start-up lines on stderr before any log level applies
(``WARNING: All log messages before absl::InitializeLog() ...``, ``I0000 ... port.cc``);
those are not the command's output and are ignored.

tests/cli/test_cli.py has its own table (mostly the file's schema); this one adds
the inputs found only after the model is imported and the data loaded.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._helpers.reliability import env, kill_leftovers, trial_dirs

MODEL = """\
def _mlp(hp, inputs=64):
    import keras

    model = keras.Sequential([keras.Input((inputs,)),
                              keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build(hp):
    return _mlp(hp)


def bad_domain(hp):
    hp.Int("layers", 5, 1)
    return _mlp(hp)


def bad_choice(hp):
    hp.Choice("act", [])
    return _mlp(hp)


def not_compiled(hp):
    import keras

    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(2)])


def returns_none(hp):
    hp.Int("units", 4, 8)
    return None


def conflicting(hp):
    hp.Int("units", 4, 8)
    hp.Choice("units", ["a", "b"])
    return _mlp(hp)


NOT_A_FUNCTION = 3
"""

DATA = """\
import numpy as np


def load(kind="ok"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 64)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    xv, yv = x[:10].copy(), y[:10].copy()
    if kind == "nan_x":
        x[3, 5] = np.nan
    elif kind == "inf_x":
        x[0, 0] = np.inf
    elif kind == "nan_val":
        xv[1, 1] = np.nan
    elif kind == "short_y":
        y = y[:-1]
    elif kind == "short_val":
        yv = yv[:-2]
    elif kind == "features":
        x, xv = x[:, :10], xv[:, :10]
    elif kind == "rank":
        x, xv = x.reshape(40, 8, 8), xv.reshape(10, 8, 8)
    elif kind == "empty":
        x, y = x[:0], y[:0]
    elif kind == "no_labels":
        return x
    elif kind == "string":
        return "not data"
    elif kind == "raises":
        raise OSError("the disk is on fire")
    return (x, y), (xv, yv)
"""

GOOD = """\
model: model.py:build
data: {loader: data.py:load, kwargs: {kind: ok}}
objective: val_accuracy
max_trials: 2
fit: {epochs: 1, batch_size: 8}
"""


def _with(**changes: str) -> str:
    """GOOD with top-level fields replaced (a value of None drops the field)."""
    lines = {line.split(":")[0]: line for line in GOOD.splitlines()}
    for key, value in changes.items():
        lines[key] = f"{key}: {value}"
    return "\n".join(lines.values()) + "\n"


def _data(kind: str) -> str:
    return _with(data=f"{{loader: data.py:load, kwargs: {{kind: {kind}}}}}")


@dataclass(frozen=True)
class Case:
    id: str
    text: str | None  # experiment.yaml; None: no file
    args: tuple[str, ...]  # FILE stands for experiment.yaml
    says: str  # a word the one error line must contain (case-insensitive)
    at_first_epoch: bool = False  # found only once a trial has run an epoch (by design)
    core_bug: str = ""  # a known bug in the package: the case is expected to fail until fixed


OBJECTIVE_TRIALS = 20  # an objective never logged must stop the search long before this

CASES = [
    # -- experiment files --------------------------------------------------------------------
    Case(
        "yaml-python-tag",
        "model: !!python/object/apply:os.system ['touch pwned']\n",
        ("run", "FILE"),
        "yaml",
    ),
    Case("yaml-tabs", "model: model.py:build\ndata:\n\t- x\n", ("run", "FILE"), "yaml"),
    Case(
        "not-utf8",
        None,
        ("run", "latin1.yaml"),
        "latin1.yaml",
    ),
    Case("a-folder", None, ("run", "."), "."),
    Case("max-trials-string", _with(max_trials='"3"'), ("run", "FILE"), "max_trials"),
    Case("max-trials-float", _with(max_trials="2.5"), ("run", "FILE"), "max_trials"),
    Case("max-failures-negative", GOOD + "max_failures: -1\n", ("run", "FILE"), "max_failures"),
    Case(
        "concurrency-zero", GOOD + "max_concurrent_trials: 0\n", ("run", "FILE"), "max_concurrent"
    ),
    Case("epochs-zero", _with(fit="{epochs: 0}"), ("run", "FILE"), "fit.epochs"),
    Case("batch-size-zero", _with(fit="{epochs: 1, batch_size: 0}"), ("run", "FILE"), "batch_size"),
    Case(
        "direction-unknown",
        _with(objective="{name: val_accuracy, direction: up}"),
        ("run", "FILE"),
        "objective",
    ),
    Case("name-escapes", GOOD + "name: ../../etc\n", ("run", "FILE"), "name"),
    Case(
        "validation-split",
        _with(data="{dataset: digits, validation_split: 1.5}"),
        ("run", "FILE"),
        "validation_split",
    ),
    Case("gpu-negative", GOOD + "resources: {gpu: -1}\n", ("run", "FILE"), "resources.gpu"),
    Case(
        "seed-negative",
        GOOD + "seed: -1\n",
        ("run", "FILE"),
        "seed",
    ),
    Case("model-not-callable", _with(model="model.py:NOT_A_FUNCTION"), ("run", "FILE"), "model"),
    # -- hyperparameter definitions (file and model code) ------------------------------------
    Case(
        "hp-log-zero",
        GOOD + "space: {lr: {type: float, min_value: 0, max_value: 1, sampling: log}}\n",
        ("run", "FILE"),
        "space.lr",
    ),
    Case(
        "hp-empty-choice",
        GOOD + "space: {act: {type: choice, values: []}}\n",
        ("run", "FILE"),
        "space.act",
    ),
    Case(
        "hp-step-zero",
        GOOD + "space: {units: {type: int, min_value: 1, max_value: 8, step: 0}}\n",
        ("run", "FILE"),
        "space.units",
    ),
    Case(
        "hp-unknown-type",
        GOOD + "space: {units: {type: integer, min_value: 1, max_value: 8}}\n",
        ("run", "FILE"),
        "space.units",
    ),
    Case(
        "hp-field-of-other-type",
        GOOD + "space: {flag: {type: boolean, values: [1]}}\n",
        ("run", "FILE"),
        "space.flag",
    ),
    Case(
        "hp-default-outside",
        GOOD + "space: {units: {type: choice, values: [1, 2], default: 3}}\n",
        ("run", "FILE"),
        "space.units",
    ),
    Case("hp-model-min-above-max", _with(model="model.py:bad_domain"), ("run", "FILE"), "layers"),
    Case("hp-model-empty-choice", _with(model="model.py:bad_choice"), ("run", "FILE"), "act"),
    Case("hp-model-conflict", _with(model="model.py:conflicting"), ("run", "FILE"), "units"),
    Case("model-not-compiled", _with(model="model.py:not_compiled"), ("run", "FILE"), "compile"),
    Case("model-returns-none", _with(model="model.py:returns_none"), ("run", "FILE"), "model"),
    # -- CLI arguments -----------------------------------------------------------------------
    Case("set-not-yaml-int", GOOD, ("run", "FILE", "--set", "max_trials=abc"), "max_trials"),
    Case("set-unknown-searcher", GOOD, ("run", "FILE", "--set", "searcher.type=nope"), "searcher"),
    Case("storage-path-no-value", GOOD, ("run", "FILE", "--storage-path"), "--storage-path"),
    Case("verbose-out-of-range", GOOD, ("run", "FILE", "-v", "5"), "verbose"),
    Case("unknown-flag", GOOD, ("run", "FILE", "--max-trail", "3"), "unrecognized"),
    Case("resume-missing", None, ("resume", "does/not/exist"), "DIR"),
    Case("best-of-a-file", GOOD, ("best", "FILE"), "DIR"),
    Case("tensorboard-port", None, ("tensorboard", ".", "--port", "70000"), "--port"),
    # -- data --------------------------------------------------------------------------------
    Case("data-nan-x", _data("nan_x"), ("run", "FILE"), "NaN"),
    Case("data-inf-x", _data("inf_x"), ("run", "FILE"), "infinite"),
    Case("data-nan-validation", _data("nan_val"), ("run", "FILE"), "NaN"),
    Case("data-lengths", _data("short_y"), ("run", "FILE"), "same number"),
    Case("data-validation-lengths", _data("short_val"), ("run", "FILE"), "same number"),
    Case("data-feature-shape", _data("features"), ("run", "FILE"), "shape"),
    Case("data-rank", _data("rank"), ("run", "FILE"), "shape"),
    Case(
        "data-empty",
        _data("empty"),
        ("run", "FILE"),
        "data",
    ),
    Case("data-no-labels", _data("no_labels"), ("run", "FILE"), "data"),
    Case("data-not-arrays", _data("string"), ("run", "FILE"), "data"),
    Case(
        "data-loader-raises",
        _data("raises"),
        ("run", "FILE"),
        "disk is on fire",
    ),
    # -- objectives never logged, resources no node has ----------------------------------------
    Case(
        "objective-never-logged",
        _with(objective="{name: val_auc, direction: max}", max_trials=str(OBJECTIVE_TRIALS)),
        ("run", "FILE"),
        "val_auc",
        at_first_epoch=True,
    ),
    Case(
        "objective-set-on-command-line",
        _with(max_trials=str(OBJECTIVE_TRIALS)),
        ("run", "FILE", "--set", "objective.name=precision"),
        "precision",
        at_first_epoch=True,
    ),
    Case("resources-too-many-cpus", GOOD + "resources: {cpu: 512}\n", ("run", "FILE"), "node"),
    Case("resources-gpu", GOOD + "resources: {gpu: 8}\n", ("run", "FILE"), "node"),
]


TIMEOUT = 150  # seconds; a case still running by then has started a search
# An objective never logged is found once a trial has run an epoch; then Ray has to stop its
# trials and shut down, which takes minutes on a loaded machine.
FIRST_EPOCH_TIMEOUT = 420


@dataclass
class Outcome:
    result: subprocess.CompletedProcess
    work_before: set[str]
    work_after: set[str]
    ray_started: bool
    results_written: bool
    results: Path


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _run(case: Case, root: Path) -> Outcome:
    folder = root / case.id
    work = folder / "work"
    work.mkdir(parents=True)
    (work / "model.py").write_text(MODEL)
    (work / "data.py").write_text(DATA)
    (work / "latin1.yaml").write_bytes("model: caf\u00e9\n".encode("latin-1"))
    if case.text is not None:
        (work / "experiment.yaml").write_text(case.text)
    before = _files(work)
    ray_tmp = Path("/tmp") / f"rthb-{root.name[-6:]}-{CASES.index(case)}"  # short: socket paths
    args = [("experiment.yaml" if a == "FILE" else a) for a in case.args]
    if args[0] == "run" and "--storage-path" not in args:
        args += ["--storage-path", str(folder / "results")]
    process = subprocess.Popen(
        [sys.executable, "-m", "raytune_hpt", *args],
        cwd=work,
        env=env(ray_tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timeout = FIRST_EPOCH_TIMEOUT if case.at_first_epoch else TIMEOUT
    try:  # a bad input caught only once trials run would go on for long: cut it short
        stdout, stderr = process.communicate(timeout=timeout)
        result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        result = subprocess.CompletedProcess(
            args, -9, stdout, f"(killed after {timeout} s)\n{stderr}"
        )
    finally:
        kill_leftovers(str(ray_tmp))
        started = ray_tmp.exists()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    after = {f for f in _files(work) if "__pycache__" not in f}
    return Outcome(
        result, before, after, started, (folder / "results").exists(), folder / "results"
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad")
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(lambda case: (case.id, _run(case, root)), CASES)
        return dict(done)


def test_case_ids_are_unique():
    """``outcomes`` is keyed by id: a repeated id would silently hide a case."""
    assert len({case.id for case in CASES}) == len(CASES)


# TensorFlow's C++ start-up lines (absl's pre-init warning, glog-style "I0000 00:00:..." lines).
_TF_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
)


def _params() -> list:
    return [
        pytest.param(case, id=case.id, marks=pytest.mark.xfail(reason=case.core_bug, strict=True))
        if case.core_bug
        else pytest.param(case, id=case.id)
        for case in CASES
    ]


@pytest.mark.slow
@pytest.mark.parametrize("case", _params())
def test_one_clear_error_exit_2_and_nothing_started_or_written(outcomes, case):
    outcome = outcomes[case.id]
    result = outcome.result
    output = f"rc {result.returncode}\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("raytune-hpt: error: ")]
    assert result.returncode == 2, output
    assert len(errors) == 1 and lines[-1] == errors[0], output  # one error, said last
    assert case.says.lower() in errors[0].lower(), errors[0]
    assert "Traceback" not in result.stdout
    assert outcome.work_after == outcome.work_before  # nothing written beside the inputs
    if case.at_first_epoch:
        # Ray has run the first trials; the search stopped there instead of running them all.
        assert outcome.ray_started and outcome.results_written
        experiment = outcome.results / "experiment"
        assert 1 <= len(trial_dirs(experiment)) <= 4 < OBJECTIVE_TRIALS, sorted(
            trial_dirs(experiment)
        )
        return
    assert all(_TF_CHATTER.match(line) for line in lines[:-1]), output  # only TF's start-up lines
    assert "Traceback" not in result.stderr
    assert not outcome.ray_started, "Ray was started"
    assert not outcome.results_written, "an experiment folder was written"
