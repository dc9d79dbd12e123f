"""Resources per trial: the request, the GPU plan, feasibility, concurrency, TensorFlow set-up.

The GPU plan is a pure function and is checked here for every case it distinguishes; the
placements Ray really makes (logical GPUs, two nodes, distributed trials) are in
test_placement.py.
"""

from __future__ import annotations

import pytest

from raytune_hpt.errors import ConfigurationError
from raytune_hpt.resources import Resources
from raytune_hpt.results import max_trials_at_once, trial_interval, trial_runs
from raytune_hpt.worker import (
    CUDA_CONTEXT_RESERVE_MB,
    GpuPlan,
    apply_gpu_plan,
    parse_nvidia_smi_memory,
    plan_gpus,
)

# -- the request ------------------------------------------------------------------------------


def test_coerce_keeps_custom_resources_and_gpu_memory_out_of_the_ray_request():
    resources = Resources.coerce(
        {
            "cpu": 2,
            "gpu": 0.25,
            "memory": 2**30,
            "accelerator_type:A100": 0.01,
            "gpu_memory_mb": 40000,
        }
    )
    assert resources.custom == (("accelerator_type:A100", 0.01),)
    assert resources.gpu_memory_mb == 40000
    assert resources.to_ray() == {
        "cpu": 2,
        "gpu": 0.25,
        "memory": 2**30,
        "accelerator_type:A100": 0.01,
    }
    assert resources.describe() == "cpu=2, gpu=0.25, memory=1073741824, accelerator_type:A100=0.01"


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ("gpu", TypeError, "or 'auto'"),
        ({"cpu": -1}, ValueError, "resources.cpu must be a number >= 0"),
        ({"cpu": 0, "gpu": 0}, ValueError, "some cpu or gpu"),
        ({"gpu": 1.5}, ValueError, "whole number"),
        ({"GPU": 1}, ValueError, "lower case"),
        ({"gpu": 0.5, "gpu_memory_mb": 0}, ValueError, "gpu_memory_mb"),
        ({"custom_thing": "yes"}, ValueError, "resources.custom_thing"),
    ],
)
def test_coerce_rejects_bad_requests(value, error, words):
    with pytest.raises(error, match=words):
        Resources.coerce(value)


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ([{"CPU": 16.0, "GPU": 4.0}], Resources(cpu=4.0, gpu=1.0)),
        ([{"CPU": 2.0, "GPU": 4.0}], Resources(cpu=0.5, gpu=1.0)),
        ([{"CPU": 8.0}, {"CPU": 4.0, "GPU": 1.0}], Resources(cpu=4.0, gpu=1.0)),
        ([{"CPU": 8.0}], Resources(cpu=1.0)),
        ([], Resources()),
    ],
)
def test_auto_gives_one_gpu_per_trial_or_one_cpu(nodes, expected):
    assert Resources.auto(nodes) == expected


def test_auto_reads_the_running_ray(ray_local):
    assert Resources.auto() == Resources(cpu=1.0, gpu=0.0)  # the session's Ray: 2 CPUs, no GPU


# -- fail fast --------------------------------------------------------------------------------


def _largest_node_words(ray) -> list[str]:
    node = next(n for n in ray.nodes() if n["Alive"])
    return [node["NodeManagerAddress"], node["NodeID"][:12], "CPU: 2"]


def test_too_many_gpus_fails_naming_the_largest_node(ray_local):
    with pytest.raises(ConfigurationError) as caught:
        Resources.coerce({"cpu": 1, "gpu": 8}).check_feasible()
    message = str(caught.value)
    assert "{'CPU': 1, 'GPU': 8}" in message
    assert "no node has the resource 'GPU'" in message
    for words in _largest_node_words(ray_local):
        assert words in message


def test_a_custom_resource_no_node_has_fails_naming_it(ray_local):
    with pytest.raises(
        ConfigurationError, match="no node has the resource 'accelerator_type:A100'"
    ):
        Resources.coerce({"cpu": 1, "accelerator_type:A100": 0.01}).check_feasible()


def test_too_many_cpus_fails_saying_no_node_has_that_much(ray_local):
    with pytest.raises(ConfigurationError, match="no node has that much.*largest node") as caught:
        Resources.coerce({"cpu": 3}).check_feasible()
    assert "CPU: 2" in str(caught.value)


def test_workers_of_one_trial_must_fit_in_the_cluster_together(ray_local):
    Resources.coerce({"cpu": 1}).check_feasible(workers=2)
    with pytest.raises(
        ConfigurationError, match="needs 3 such workers, but the whole cluster holds 2"
    ):
        Resources.coerce({"cpu": 1}).check_feasible(workers=3)


def test_tuner_fails_before_any_trial(ray_local, digits, build_mlp, tmp_path):
    from raytune_hpt import Tuner

    (x, y), val = digits
    tuner = Tuner(build_mlp, resources={"cpu": 1, "gpu": 8}, storage_path=str(tmp_path), name="big")
    with pytest.raises(ConfigurationError, match="largest node"):
        tuner.search(x, y, validation_data=val, epochs=1)
    assert not (tmp_path / "big").exists()  # nothing was started or written


# -- the GPU plan -------------------------------------------------------------------------------


def test_no_gpu_plans_nothing():
    assert plan_gpus([], 0, 0) == GpuPlan()
    assert plan_gpus([], 0, 2).tf_gpus_listed == 2  # a CPU trial on a GPU machine


def test_a_half_gpu_gets_half_the_memory_less_the_cuda_context():
    plan = plan_gpus(["3"], 0.5, 1, gpu_memory_mb=16000)
    assert plan.tf_indices == (0,)  # Ray's CUDA_VISIBLE_DEVICES=3 renumbers it GPU:0
    assert plan.memory_limit_mb == 8000 - CUDA_CONTEXT_RESERVE_MB
    assert not plan.memory_growth
    assert plan.strategy == "default" and plan.applicable


def test_a_quarter_gpu_without_known_memory_grows_memory():
    plan = plan_gpus(["0"], 0.25, 1)
    assert plan.memory_limit_mb is None and plan.memory_growth


def test_whole_gpus_are_neither_capped_nor_grown():
    plan = plan_gpus(["0"], 1, 1, gpu_memory_mb=16000)
    assert plan.memory_limit_mb is None and not plan.memory_growth


def test_several_gpus_mirror_over_exactly_those():
    plan = plan_gpus(["2", "3"], 2, 2)
    assert plan.tf_indices == (0, 1)
    assert plan.strategy == "mirrored"
    assert plan.strategy_devices == ("/gpu:0", "/gpu:1")


def test_without_cuda_visible_devices_the_ids_pick_the_gpus():
    plan = plan_gpus(["1", "3"], 2, 4)  # TensorFlow sees all four GPUs of the machine
    assert plan.tf_indices == (1, 3)
    assert plan.strategy_devices == ("/gpu:0", "/gpu:1")  # logical numbering after hiding


def test_logical_gpus_on_a_machine_without_one_are_planned_but_not_applicable():
    plan = plan_gpus(["0", "1"], 2, 0)
    assert plan.strategy == "mirrored" and not plan.applicable
    assert plan.record()["gpu_applied"] is False


def test_tensorflow_seeing_other_gpus_than_ray_gave_is_an_error():
    with pytest.raises(ValueError, match="Ray gave this trial GPU"):
        plan_gpus(["0", "1"], 2, 1)


def test_a_share_too_small_for_a_tensorflow_process_is_an_error():
    with pytest.raises(ValueError, match="larger gpu share"):
        plan_gpus(["0"], 0.1, 1, gpu_memory_mb=4000)


def test_the_record_is_flat_and_says_what_was_asked():
    record = plan_gpus(["0", "1"], 2, 2).record()
    assert record == {
        "gpu_plan_ids": "0,1",
        "visible_gpus": "GPU:0,GPU:1",
        "gpu_memory_limit_mb": 0,
        "gpu_memory_growth": False,
        "strategy": "mirrored",
        "strategy_devices": "/gpu:0,/gpu:1",
        "gpus_listed": 2,
        "gpu_applied": True,
    }


def test_nvidia_smi_output_is_read_per_gpu_index():
    text = "0, 16384\n1, 16384\n2, 81920\nNo devices were found\n"
    assert parse_nvidia_smi_memory(text) == {"0": 16384, "1": 16384, "2": 81920}


def test_applying_a_plan_on_this_gpu_less_machine_changes_nothing():
    import tensorflow as tf

    assert tf.config.list_physical_devices("GPU") == []
    assert apply_gpu_plan(plan_gpus(["0"], 0.5, 0, gpu_memory_mb=16000), tf) is False
    assert apply_gpu_plan(plan_gpus([], 0, 0), tf) is False
    assert tf.config.get_visible_devices("CPU")  # the CPU stays


# -- trials at once -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([], 0),
        ([(0, 1)], 1),
        ([(0, 2), (1, 3), (2.5, 4)], 2),
        ([(0, 1), (1, 2)], 1),  # one ends as the next starts
        ([(0, 10)] + [(i, i + 0.5) for i in range(8)], 2),
        ([(0, 5)] * 8, 8),
    ],
)
def test_max_trials_at_once(intervals, expected):
    assert max_trials_at_once(intervals) == expected


def test_trial_interval_from_reports():
    rows = [
        {"tf_started_at": 100.0, "time_total_s": 1.5},
        {"tf_started_at": 100.0, "time_total_s": 3.0},
    ]
    assert trial_interval(rows) == (100.0, 103.0)
    assert trial_interval([{"time_total_s": 1.0}]) is None
    # the placement is only in the first report; a data frame fills the others with NaN
    nan = float("nan")
    rows = [
        {"tf_started_at": 5.0, "time_total_s": 1.0},
        {"tf_started_at": nan, "time_total_s": 2.0},
    ]
    assert trial_interval(rows) == (5.0, 7.0)


def test_a_paused_or_exploited_trial_runs_in_stretches():
    # Two trials sharing one slot under PBT / HyperBand: each pauses while the other runs.
    # Their whole spans overlap; the stretches they actually ran do not.
    nan = float("nan")
    def report(started, at):
        return {"tf_started_at": started, "tf_reported_at": at}

    first = [report(0.0, 1.0), report(nan, 2.0), report(4.0, 5.0)]
    second = [report(2.1, 3.9), report(5.1, 6.0)]
    assert trial_runs(first) == [(0.0, 2.0), (4.0, 5.0)]
    assert trial_runs(second) == [(2.1, 3.9), (5.1, 6.0)]
    assert max_trials_at_once([trial_interval(first), trial_interval(second)]) == 2
    assert max_trials_at_once(trial_runs(first) + trial_runs(second)) == 1
    # reports without the float report time: the whole span, as before
    assert trial_runs([{"tf_started_at": 5.0, "time_total_s": 2.0}]) == [(5.0, 7.0)]


# -- the start line and the unused-GPU note -----------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "cluster", "chosen", "cap", "expected"),
    [
        (Resources(cpu=2, gpu=1), {"CPU": 8, "GPU": 4}, True, None,
         "Trials: 1 GPU and 2 CPUs each (one GPU per trial, the CPUs split between the GPUs); "
         "up to 4 at once on a Ray of 8 CPUs and 4 GPUs."),
        (Resources(cpu=1), {"CPU": 2}, True, None,
         "Trials: 1 CPU each (no GPU here: one CPU per trial); up to 2 at once on a Ray of "
         "2 CPUs."),
        (Resources(cpu=1, gpu=0.5), {"CPU": 16, "GPU": 2}, False, 3,
         "Trials: 0.5 GPUs and 1 CPU each (as asked); up to 3 at once (max_concurrent_trials) "
         "on a Ray of 16 CPUs and 2 GPUs."),
    ],
)
def test_the_start_line_says_how_trials_are_placed_and_how_many_run_at_once(
    resources, cluster, chosen, cap, expected
):
    from raytune_hpt.resources import placement_line

    line = placement_line(resources, cluster, chosen=chosen, max_concurrent=cap, max_trials=10)
    assert line == expected


def test_the_start_line_counts_no_more_trials_than_the_budget():
    from raytune_hpt.resources import placement_line

    line = placement_line(Resources(cpu=1), {"CPU": 32}, chosen=True, max_concurrent=None,
                          max_trials=3)
    assert "up to 3 at once" in line


def test_a_cpu_only_request_where_ray_has_gpus_is_noted_and_otherwise_not():
    from raytune_hpt.resources import unused_gpus_note

    note = unused_gpus_note(Resources(cpu=1), {"CPU": 8, "GPU": 2})
    assert note is not None and "the 2 GPUs of this Ray stay unused" in note
    assert unused_gpus_note(Resources(cpu=1, gpu=0.5), {"CPU": 8, "GPU": 2}) is None
    assert unused_gpus_note(Resources(cpu=1), {"CPU": 8}) is None


def test_resources_left_out_are_chosen_in_search_and_given_ones_are_kept(build_mlp):
    from raytune_hpt import RandomSearch, Tuner

    assert Tuner(build_mlp, objective="val_accuracy").resources == "auto"
    assert RandomSearch(build_mlp, objective="val_accuracy").resources == "auto"
    assert Tuner(build_mlp, objective="val_accuracy",
                 resources={"cpu": 1}).resources == Resources(cpu=1)
