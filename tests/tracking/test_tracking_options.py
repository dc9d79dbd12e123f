"""The ``tracking`` option, run names, metric series and the ``tensorboard`` command's checks
(no Ray, no training)."""

from __future__ import annotations

import pytest

from raytune_hpt.cli import main
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.tracking import (
    TensorBoardLogger,
    TrialTensorBoard,
    local_logdir,
    metric_series,
    run_name,
    tensorboard_logdir,
    tracking_callbacks,
)


@pytest.fixture
def space():
    hp = HyperParameters()
    hp.Fixed("batch", 64)
    hp.Int("units", 32, 512, step=32)
    hp.Choice("act", ["relu", "tanh"])
    hp.Float("lr", 1e-4, 1e-2, sampling="log")
    hp.Boolean("dropout")
    return hp


def _callbacks(options, tmp_path, space):
    return tracking_callbacks(options, space=space, objective=Objective("val_loss"),
                              experiment_path=str(tmp_path / "exp"))


def test_tensorboard_is_on_by_default_and_can_be_turned_off(tmp_path, space):
    callbacks = _callbacks(None, tmp_path, space)
    assert [type(c) for c in callbacks] == [TensorBoardLogger]
    assert callbacks[0].logdir == str(tmp_path / "exp" / "tensorboard")
    assert _callbacks({"tensorboard": False}, tmp_path, space) == []
    moved = _callbacks({"tensorboard": str(tmp_path / "elsewhere")}, tmp_path, space)
    assert moved[0].logdir == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("options, message", [
    ({"tensorbord": True},
     "tracking keys must be among ['mlflow', 'tensorboard']; got 'tensorbord'"),
    ({"tensorboard": 3}, "tracking.tensorboard must be true, false or a local folder"),
    (["tensorboard"], "tracking must be a dict"),
    ({"mlflow": 5}, "tracking.mlflow must be a tracking URI or a dict"),
    ({"mlflow": {"uri": "x"}}, "tracking.mlflow keys must be among"),
])
def test_bad_tracking_options_say_what_must_hold(options, message, tmp_path, space):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _callbacks(options, tmp_path, space)


def test_metric_series_follow_keras_names_and_skip_bookkeeping():
    assert metric_series("loss", 0.5) == ("train", "epoch_loss")
    assert metric_series("val_accuracy", 0.5) == ("validation", "epoch_accuracy")
    assert metric_series("fold1/val_loss", 0.5) == ("validation", "fold1/epoch_loss")
    for key, value in [("epoch", 3), ("pid", 12), ("time_this_iter_s", 0.1), ("tf_threads", 1),
                       ("node_id", "abc"), ("done", False), ("config/lr", 0.1), ("note", "x")]:
        assert metric_series(key, value) is None, key


def test_run_names_are_readable_and_safe(space):
    values = {"batch": 64, "units": 96, "act": "relu", "lr": 0.000123456, "dropout": True}
    assert run_name("ab12_00003", values, space) == (
        "ab12_00003_units=96,act=relu,lr=0.000123,dropout=True"
    )
    assert run_name("t1", {"batch": 64, "act": "a/b c"}, space) == "t1_act=a-b-c"
    assert run_name("t1", {"batch": 64}, space) == "t1"


def test_s3_experiments_write_locally(tmp_path):
    assert local_logdir("s3://bucket/runs/exp").endswith("/ray_results/tensorboard/s3/bucket/runs/exp")
    assert local_logdir(str(tmp_path)) == str(tmp_path / "tensorboard")


def test_tensorboard_command_serves_the_experiments_tensorboard_folder(tmp_path):
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "raytune_hpt.json").write_text("{}")
    assert tensorboard_logdir(str(tmp_path / "exp")) == str(tmp_path / "exp" / "tensorboard")
    assert tensorboard_logdir(str(tmp_path)) == str(tmp_path)  # several experiments


def test_tensorboard_command_rejects_a_missing_folder_with_exit_2(tmp_path, capsys):
    assert main(["tensorboard", str(tmp_path / "nope")]) == 2
    assert "DIR: " in capsys.readouterr().err
    assert main(["tensorboard", str(tmp_path), "--port", "70000"]) == 2


def test_trial_tensorboard_refuses_a_fixed_log_dir():
    with pytest.raises(ValueError, match="log_dir"):
        TrialTensorBoard(log_dir="/tmp/x")
