"""A user's ``keras.callbacks.TensorBoard(log_dir)`` given to ``search()``, as in Keras Tuner.

keras-io's "Visualize the hyperparameter tuning process": each trial writes to its own
``log_dir/<trial>/execution0`` (Keras adds ``train``/``validation``) with the trial's
hyperparameters as HParams plugin data. A 2-trial search on the session's Ray; each trial's
scalars are read back from its own folder with TensorBoard's event reader.
"""

from __future__ import annotations

import os

import keras
import pytest

import raytune_hpt as kt


def _events(folder: str):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(folder, size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def _epoch_values(folder: str, tag: str) -> list[float]:
    import tensorflow as tf

    return [float(tf.make_ndarray(e.tensor_proto)) for e in _events(folder).Tensors(tag)]


def _hparams(folder: str) -> dict:
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = _events(folder).PluginTagToContent("hparams")["_hparams_/session_start_info"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    values = {}
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        values[name] = getattr(value, kind)
    return values


@pytest.mark.slow
def test_each_trial_writes_its_own_folder_with_its_hyperparameters(
        ray_local, digits, build_mlp, tmp_path, monkeypatch):
    (x, y), val = digits
    monkeypatch.chdir(tmp_path)  # a relative log_dir means the script's folder, as in Keras Tuner
    tuner = kt.RandomSearch(build_mlp, objective="val_accuracy", max_trials=2, seed=3,
                            verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=val, epochs=2, batch_size=64,
                           callbacks=[keras.callbacks.TensorBoard(log_dir="logs")])
    logs = tmp_path / "logs"
    ids = sorted(t.trial_id for t in results.trials)
    assert sorted(os.listdir(logs)) == ids  # one folder per trial, nothing mixed at the top
    for trial in results.trials:
        run = logs / trial.trial_id / "execution0"
        assert {"train", "validation"} <= set(os.listdir(run))
        # The trial's own epochs, the same numbers the trial reported to Ray.
        val_accuracy = _epoch_values(str(run / "validation"), "epoch_accuracy")
        assert len(val_accuracy) == 2
        reported = [row["val_accuracy"] for row in trial.history]
        assert val_accuracy == pytest.approx(reported, abs=1e-6)
        assert len(_epoch_values(str(run / "train"), "epoch_loss")) == 2
        hparams = _hparams(str(run))
        assert hparams["units"] == trial.hyperparameters["units"]
        assert hparams["act"] == trial.hyperparameters["act"]
        assert hparams["lr"] == pytest.approx(trial.hyperparameters["lr"])


def test_a_relative_log_dir_is_made_absolute_and_the_callback_given_is_untouched(tmp_path,
                                                                              monkeypatch):
    from raytune_hpt.tracking import absolute_log_dirs, per_trial_callbacks

    monkeypatch.chdir(tmp_path)
    given = keras.callbacks.TensorBoard(log_dir="logs")
    other = keras.callbacks.EarlyStopping()
    fit_kwargs = absolute_log_dirs({"epochs": 2, "callbacks": [given, other]})
    board, early = fit_kwargs["callbacks"]
    assert board.log_dir == str(tmp_path / "logs") and given.log_dir == "logs"
    assert early is other
    gs = keras.callbacks.TensorBoard(log_dir="gs://bucket/logs")
    assert absolute_log_dirs({"callbacks": [gs]})["callbacks"][0].log_dir == "gs://bucket/logs"
    assert per_trial_callbacks([other], {"units": 8}) == [other]  # no TensorBoard: as given
