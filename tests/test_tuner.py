"""The Tuner end to end on a real local Ray with real Keras training on digits."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError


def tiny_builder(hp):
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_search_reports_every_epoch_and_best_model_reproduces(ray_local, digits, build_mlp,
                                                               tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build_mlp, objective="val_accuracy", searcher="random", max_trials=3,
                      storage_path=str(tmp_path), name="e2e", seed=0, verbose=0)
    results = tuner.search(x, y, validation_data=(xv, yv), epochs=3, batch_size=64)

    assert len(results.trials) == 3
    for trial in results.trials:
        assert trial.status == "finished", trial.error
        assert [row["epoch"] for row in trial.history] == [1, 2, 3]
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(trial.metrics)
        folder = os.path.join(tmp_path, "e2e")
        trial_dirs = [d for d in os.listdir(folder) if trial.trial_id in d]
        assert len(trial_dirs) == 1
        for name in ("result.json", "progress.csv"):
            assert os.path.exists(os.path.join(folder, trial_dirs[0], name))

    best = tuner.get_best_hyperparameters(1)[0].values
    assert set(best) == {"units", "act", "lr"}
    assert best["units"] % 32 == 0 and 1e-4 <= best["lr"] <= 1e-2
    assert best == results.best_trial().hyperparameters

    model = tuner.get_best_models(1)[0]
    _, accuracy = model.evaluate(xv, yv, verbose=0)
    assert accuracy == pytest.approx(results.best_trial().score(results.objective), abs=1e-6)
    assert results.best_trial().score(results.objective) == max(
        max(r["val_accuracy"] for r in t.history) for t in results.trials)

    summary = tuner.results_summary()
    assert results.best_trial().trial_id in summary.splitlines()[2]
    assert type(tuner.results).__name__ == "ResultGrid"

    # Workers are reused: two trial slots never need more than two worker processes,
    # and TensorFlow's thread pools follow the trial's one CPU.
    # Where a trial ran is recorded with its first report.
    pids = {t.history[0]["pid"] for t in results.trials}
    assert len(pids) <= 2
    assert {t.history[0]["tf_threads"] for t in results.trials} == {1}
    assert all(t.node_id for t in results.trials)

    metadata = json.loads(open(os.path.join(tmp_path, "e2e", "raytune_hpt.json")).read())
    assert metadata["objective"] == {"name": "val_accuracy", "direction": "max"}
    reloaded = rth.load_results(str(tmp_path / "e2e"))
    assert reloaded.best_trial().trial_id == results.best_trial().trial_id


@pytest.mark.slow
def test_objective_the_model_never_logs_stops_the_search(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(tiny_builder, objective="val_auc", max_trials=6, storage_path=str(tmp_path),
                      name="noobj", seed=0, verbose=0)
    with pytest.raises(ConfigurationError) as error:
        tuner.search(x[:200], y[:200], validation_data=(xv[:100], yv[:100]), epochs=5)
    message = str(error.value)
    assert "'val_auc'" in message and "val_accuracy" in message and "val_loss" in message


def test_uncompiled_model_fails_before_any_trial(ray_local, digits, tmp_path):
    import keras

    def build(hp):
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(hp.Int("u", 2, 4))])

    (x, y), _ = digits
    tuner = rth.Tuner(build, objective="val_loss", storage_path=str(tmp_path), name="bad",
                      verbose=0)
    with pytest.raises(ConfigurationError, match="not compiled"):
        tuner.search(x, y, validation_split=0.2)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"searcher": "bayes"}, "searcher must be one of"),
    ({"scheduler": "sha"}, "scheduler must be one of"),
    ({"scheduler": {"type": "asha", "grace": 2}}, "unknown ['grace']"),
    ({"max_trials": 0}, "max_trials must be an integer >= 1"),
    ({"objective": "val_top5"}, "Cannot infer whether to minimize or maximize"),
    ({"resources": {"cpu": -1}}, "resources.cpu must be a number >= 0"),
])
def test_bad_tuner_arguments_fail_at_construction(kwargs, message):
    arguments = {"objective": "val_loss", **kwargs}
    with pytest.raises((ValueError, TypeError)) as error:
        rth.Tuner(tiny_builder, **arguments)
    assert message in str(error.value)


def test_grid_over_unstepped_float_fails_before_trials(digits, tmp_path):
    (x, y), _ = digits
    tuner = rth.Tuner(tiny_builder, objective="val_loss", searcher="grid",
                      storage_path=str(tmp_path), name="grid", verbose=0)
    with pytest.raises(ValueError, match="'lr'.*give it a `step`"):
        tuner.search(x, y, validation_split=0.2)
    assert not (tmp_path / "grid").exists()


def test_bad_data_fails_before_trials(tmp_path):
    x = np.zeros((10, 64), dtype="float32")
    x[3, 3] = np.nan
    tuner = rth.Tuner(tiny_builder, objective="val_loss", storage_path=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        tuner.search(x, np.zeros(10))
    with pytest.raises(ValueError, match="same number of samples, but got 10 and 9"):
        tuner.search(np.zeros((10, 64)), np.zeros(9))


@pytest.mark.parametrize(
    ("shared_arrays_mb", "feed"),
    [pytest.param(None, "arrays", marks=pytest.mark.slow), (0, "batches")],
)
def test_cross_validation_reports_each_fold_and_their_mean(ray_local, digits, tmp_path,
                                                          shared_arrays_mb, feed):
    """Folds as copies of their rows, or fed by their indices from the shared arrays."""
    (x, y), _ = digits
    tuner = rth.Tuner(tiny_builder, objective="val_accuracy", max_trials=1,
                      storage_path=str(tmp_path), name="cv", seed=0, verbose=0,
                      shared_arrays_mb=shared_arrays_mb)
    results = tuner.search(x[:300], y[:300], epochs=2, cv=3, batch_size=32)
    assert results.trials[0].status == "finished", results.trials[0].error
    assert results.trials[0].history[0]["data_feed"] == feed
    row = results.trials[0].history[-1]
    folds = [row[f"fold{k}/val_accuracy"] for k in range(3)]
    assert row["val_accuracy"] == pytest.approx(np.mean(folds))
    assert len(set(folds)) > 1  # three different models on three different folds


def test_inputs_of_the_wrong_shape_fail_before_ray_starts(digits, tmp_path):
    (x, y), _ = digits
    tuner = rth.Tuner(tiny_builder, objective="val_loss", storage_path=str(tmp_path), name="shape",
                      verbose=0)
    with pytest.raises(ConfigurationError,
                       match=r"each sample must have shape \(64,\), got \(32,\)"):
        tuner.search(x[:, :32], y, validation_split=0.2)
    assert not (tmp_path / "shape").exists()


@pytest.mark.parametrize(("request_", "cluster", "expected"), [
    ({"cpu": 1, "gpu": 0}, {"CPU": 2.0}, 2),
    ({"cpu": 2, "gpu": 0}, {"CPU": 5.0, "GPU": 4.0}, 2),
    ({"cpu": 1, "gpu": 0.5}, {"CPU": 16.0, "GPU": 2.0}, 4),
    ({"cpu": 1, "gpu": 0, "memory": 2**30}, {"CPU": 8.0, "memory": 3 * 2**30}, 3),
    ({"cpu": 1, "gpu": 0, "tpu_slice": 1}, {"CPU": 8.0}, 1),  # none fits now: still one asks
])
def test_trials_that_fit_counts_the_scarcest_resource(request_, cluster, expected):
    from raytune_hpt.resources import trials_that_fit

    assert trials_that_fit(request_, cluster) == expected


def test_scoped_environ_sets_defaults_overrides_and_removals_and_restores_them(monkeypatch):
    from raytune_hpt.driver import scoped_environ

    monkeypatch.setenv("RTH_TEST_MINE", "user")
    monkeypatch.setenv("RTH_TEST_FORCED", "user")
    monkeypatch.setenv("RTH_TEST_GONE", "user")
    monkeypatch.delenv("RTH_TEST_OURS", raising=False)
    with scoped_environ({"RTH_TEST_MINE": "ours", "RTH_TEST_OURS": "ours"},
                        {"RTH_TEST_FORCED": "ours"}, removed=("RTH_TEST_GONE",)):
        assert os.environ["RTH_TEST_MINE"] == "user"
        assert os.environ["RTH_TEST_OURS"] == "ours"
        assert os.environ["RTH_TEST_FORCED"] == "ours"
        assert "RTH_TEST_GONE" not in os.environ
    assert os.environ["RTH_TEST_MINE"] == "user"
    assert os.environ["RTH_TEST_FORCED"] == "user"
    assert os.environ["RTH_TEST_GONE"] == "user"
    assert "RTH_TEST_OURS" not in os.environ


def test_a_search_leaves_os_environ_as_it_found_it(ray_local, digits, build_mlp, tmp_path):
    (x, y), (xv, yv) = digits
    before = dict(os.environ)
    tuner = rth.Tuner(build_mlp, objective="val_accuracy", max_trials=2, seed=0,
                  storage_path=str(tmp_path), name="env", verbose=0)
    tuner.search(x[:200], y[:200], validation_data=(xv[:100], yv[:100]), epochs=1)
    assert dict(os.environ) == before


LOCAL_START = """
import os, time
import ray
from raytune_hpt.driver import start_ray

start_ray(None, log_to_driver=False)
time.sleep(3)  # Ray pre-starts its workers within a second of the driver connecting


def parent(pid):
    with open(f"/proc/{pid}/stat") as file:
        return int(file.read().rsplit(")", 1)[1].split()[1])


idle = []  # idle workers of this Ray only: children of the raylet this process started
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            if file.read().startswith(b"ray::IDLE") and parent(parent(pid)) == os.getpid():
                idle.append(pid)
    except OSError:
        pass
print("IDLE", len(idle), int(ray.cluster_resources()["CPU"]))
"""


@pytest.mark.slow
def test_a_local_ray_started_by_the_tuner_prestarts_no_idle_workers():
    """Asked for no warm workers (``start_ray``'s default; a search asks for as many as
    trials run at once, tests/driver/test_warm_workers.py), Ray prestarts none."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", LOCAL_START], capture_output=True, text=True,
                          env=env, timeout=120)
    line = [row for row in done.stdout.splitlines() if row.startswith("IDLE ")]
    assert line, done.stderr[-2000:]
    idle, cpus = map(int, line[-1].split()[1:])
    assert cpus >= 1
    assert idle == 0
