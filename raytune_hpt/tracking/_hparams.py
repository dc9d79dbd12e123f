"""TensorBoard's HParams dashboard data as protobufs: the experiment and each trial's session."""

from __future__ import annotations

import numbers
import time
from typing import Any

from raytune_hpt.hyperparameters import Float, HyperParameter, HyperParameters, Int

__all__ = ["experiment_summary", "session_end_summary", "session_start_summary"]


def _hparam_info(hp: HyperParameter) -> Any:
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import api_pb2

    info = api_pb2.HParamInfo(name=hp.name, description=repr(hp))
    if isinstance(hp, (Int, Float)):
        info.type = api_pb2.DATA_TYPE_FLOAT64
        info.domain_interval.min_value = float(hp.min_value)
        info.domain_interval.max_value = float(hp.max_value)
        return info
    values = hp.values_list() or []
    if all(isinstance(v, bool) for v in values):
        info.type = api_pb2.DATA_TYPE_BOOL
    elif all(isinstance(v, numbers.Real) for v in values):
        info.type = api_pb2.DATA_TYPE_FLOAT64
    else:
        info.type = api_pb2.DATA_TYPE_STRING
    listed = struct_pb2.ListValue()
    for value in values:
        listed.values.append(_proto_value(value))
    info.domain_discrete.CopyFrom(listed)
    return info


def _proto_value(value: Any) -> Any:
    from google.protobuf import struct_pb2

    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, numbers.Real):
        return struct_pb2.Value(number_value=float(value))
    return struct_pb2.Value(string_value=str(value))


def _plain(value: Any) -> Any:
    """A Python bool/float/str for a session's hyperparameter value (no numpy types)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _hparams_summary(tag: str, plugin_data: Any) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(plugin_data),
                      tensor=metadata.NULL_TENSOR)
    return summary


def experiment_summary(space: HyperParameters, metrics: list[tuple[str, str, str]],
                       description: str = "") -> Any:
    """The HParams experiment: every hyperparameter with its domain; ``metrics`` are
    ``(group, tag, display name)``."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    experiment = api_pb2.Experiment(
        description=description, time_created_secs=time.time(),
        hparam_infos=[_hparam_info(hp) for hp in space.space],
        metric_infos=[
            api_pb2.MetricInfo(
                name=api_pb2.MetricName(group=group, tag=tag), display_name=display,
                dataset_type=(api_pb2.DATASET_VALIDATION if group == "validation"
                              else api_pb2.DATASET_TRAINING if group == "train"
                              else api_pb2.DATASET_UNKNOWN))
            for group, tag, display in metrics
        ],
    )
    return _hparams_summary(metadata.EXPERIMENT_TAG,
                            plugin_data_pb2.HParamsPluginData(experiment=experiment))


def session_start_summary(values: dict[str, Any], group_name: str, start_time: float) -> Any:
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(group_name=group_name, start_time_secs=start_time)
    for name, value in values.items():
        info.hparams[name].CopyFrom(_proto_value(_plain(value)))
    return _hparams_summary(metadata.SESSION_START_INFO_TAG,
                            plugin_data_pb2.HParamsPluginData(session_start_info=info))


def session_end_summary(status: int, end_time: float) -> Any:
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=end_time)
    return _hparams_summary(metadata.SESSION_END_INFO_TAG,
                            plugin_data_pb2.HParamsPluginData(session_end_info=info))
