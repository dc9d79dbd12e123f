"""Planning for a cluster that can grow: the node types Ray's autoscaler can add count for the
"auto" resources, the feasibility check, the trials kept pending and the start line."""

from __future__ import annotations

import pytest

from raytune_hpt import _ray_compat
from raytune_hpt.capacity import Capacity, NodeType
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.resources import Resources, growth_note, settle, trials_that_fit

ZERO_CPU_HEAD = ({"CPU": 0.0, "memory": 16e9},)
CPU2 = NodeType("cpu2", {"CPU": 2.0}, 2)
GPU = NodeType("gpu", {"CPU": 8.0, "GPU": 2.0}, 3)


def test_a_zero_cpu_head_with_a_cpu_type_plans_one_cpu_per_trial_and_four_pending(capsys):
    capacity = Capacity(nodes=ZERO_CPU_HEAD, node_types=(CPU2,))
    placed = settle("auto", workers=1, max_concurrent=None, max_trials=10, capacity=capacity)
    assert placed == Resources(cpu=1.0, gpu=0.0)
    assert trials_that_fit(placed.to_ray(), capacity.totals()) == 4
    line = capsys.readouterr().out
    assert "up to 4 at once" in line and "Ray's autoscaler" in line and "cpu2" in line, line


def test_a_gpu_type_gives_one_gpu_per_trial_and_says_what_it_costs(capsys):
    capacity = Capacity(nodes=ZERO_CPU_HEAD, node_types=(CPU2, GPU))
    placed = settle("auto", workers=1, max_concurrent=None, max_trials=20, capacity=capacity)
    assert placed == Resources(cpu=4.0, gpu=1.0)
    line = capsys.readouterr().out
    assert "up to 6 at once" in line, line  # 3 nodes x 2 GPUs
    assert "type gpu" in line and "resources={'cpu': 1}" in line, line
    assert "cpu2" not in line.split("Waiting")[1], line  # a cpu2 node cannot hold a GPU trial


def test_a_request_no_node_type_can_hold_is_refused_naming_the_types():
    capacity = Capacity(nodes=ZERO_CPU_HEAD, node_types=(CPU2,))
    with pytest.raises(ConfigurationError, match="cpu2") as error:
        settle(Resources.coerce({"cpu": 4}), workers=1, max_concurrent=None,
               max_trials=4, capacity=capacity, verbose=0)
    assert "node type" in str(error.value) and "'CPU': 4" in str(error.value)


def test_workers_of_one_trial_may_span_launchable_nodes():
    capacity = Capacity(nodes=ZERO_CPU_HEAD, node_types=(CPU2,))
    settle(Resources.coerce({"cpu": 2}), workers=2, max_concurrent=None, max_trials=1,
           capacity=capacity, verbose=0)  # two cpu2 nodes hold it
    with pytest.raises(ConfigurationError, match="whole cluster holds 2"):
        settle(Resources.coerce({"cpu": 2}), workers=3, max_concurrent=None, max_trials=1,
               capacity=capacity, verbose=0)


def test_a_fixed_cluster_says_nothing_of_an_autoscaler():
    capacity = Capacity(nodes=({"CPU": 2.0},))
    assert growth_note(Resources(cpu=1.0), capacity) == ""
    assert capacity.totals() == {"CPU": 2.0}


def test_an_autoscaler_whose_types_cannot_be_read_lets_the_search_wait(caplog):
    capacity = Capacity(nodes=ZERO_CPU_HEAD, autoscaler_unknown=True)
    placed = settle(Resources.coerce({"cpu": 1}), workers=1, max_concurrent=None,
                    max_trials=2, capacity=capacity, verbose=0)
    assert placed.cpu == 1
    assert "pending_timeout" in caplog.text


def test_node_types_are_read_from_an_autoscaling_config():
    from raytune_hpt._ray_compat._autoscaler import _types_from_config

    config = {"max_workers": 3, "head_node_type": "head",
              "provider": {"type": "aws"},
              "available_node_types": {
                  "head": {"resources": {"CPU": 0}, "max_workers": 0},
                  "cpu2": {"resources": {"CPU": 2}, "min_workers": 0, "max_workers": 5},
                  "gpu": {"resources": {"CPU": 8, "GPU": 1}, "max_workers": 0}}}
    assert _types_from_config(config) == [
        {"name": "cpu2", "max_count": 3, "resources": {"CPU": 2.0}}]
    assert _types_from_config({"provider": {"type": "readonly"}}) == []
    unknown = {"provider": {"type": "aws"}, "available_node_types": {"w": {"max_workers": 2}}}
    assert _types_from_config(unknown) is None


def test_the_session_ray_has_no_autoscaler(ray_local):
    assert _ray_compat.autoscaler_node_types() == []
    assert not Capacity.read().can_grow
