"""Every private Ray/Keras name of raytune_hpt/_ray_compat.py still exists in the installed
versions: on the classes, and (for attributes set per instance) on real objects."""

from __future__ import annotations

import importlib.util

import pytest

from raytune_hpt import _ray_compat

UPGRADE_HINT = (
    "an upgrade of Ray or Keras removed private names raytune_hpt/_ray_compat.py uses: "
    "rewrite the functions there that use them (or find a public API), then update "
    "PRIVATE_NAMES and the version each was checked against"
)


def test_every_private_name_is_still_there():
    assert _ray_compat.missing_private_names() == [], UPGRADE_HINT


def _trainable(config):
    from ray import tune

    tune.report({"score": config["x"]})


@pytest.fixture(scope="module")
def finished_run(ray_local, tmp_path_factory):
    """A finished two-trial Ray Tune run of a function trainable: (its ResultGrid, its path)."""
    from ray import tune

    storage = tmp_path_factory.mktemp("compat")
    tuner = tune.Tuner(
        _trainable,
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(name="compat", storage_path=str(storage), verbose=0),
    )
    grid = tuner.fit()
    return grid, str(storage / "compat")


def test_a_result_grid_has_its_experiment_analysis_and_filesystem(finished_run):
    grid, _ = finished_run
    assert hasattr(grid, "_experiment_analysis"), UPGRADE_HINT
    assert hasattr(grid._experiment_analysis, "_fs"), UPGRADE_HINT
    assert _ray_compat.result_grid_filesystem(grid) is not None
    pairs = _ray_compat.result_grid_pairs(grid)
    assert sorted(result.metrics["score"] for _, result in pairs) == [1, 2]


def test_a_restored_tuner_has_its_local_tuner(finished_run):
    from ray import tune

    _, path = finished_run
    restored = tune.Tuner.restore(path, trainable=_trainable)
    assert hasattr(restored, "_local_tuner"), UPGRADE_HINT
    assert _ray_compat.restored_run_config(restored).name == "compat"


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow not installed")
def test_the_mlflow_callback_keeps_its_trial_runs(tmp_path):
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    callback = MLflowLoggerCallback(tracking_uri=f"file://{tmp_path / 'mlruns'}")
    assert hasattr(callback, "_trial_runs"), UPGRADE_HINT
    assert _ray_compat.mlflow_trial_runs(callback) == {}


def test_hyperband_sets_its_bracket_sizes_per_instance():
    from ray.tune.schedulers import HyperBandScheduler

    scheduler = HyperBandScheduler(max_t=27, reduction_factor=3)
    for name in ("_s_max_1", "_get_r0", "_hyperbands", "_time_attr"):
        assert hasattr(scheduler, name), UPGRADE_HINT
    assert [scheduler._get_r0(s) for s in range(scheduler._s_max_1)] == [27, 9, 3, 1]
    bracket = scheduler._create_bracket(0)
    assert hasattr(bracket, "trials_to_unpause") and bracket.current_trials() == [], UPGRADE_HINT
    # Ray sets it at a bracket's first halving and never clears it (the hang the compat
    # scheduler fixes): the attribute must still be there, False before any processing.
    assert bracket.is_being_processed is False, UPGRADE_HINT


def test_the_loopback_switch_is_still_rays(monkeypatch):
    """The kept Ray listens on loopback only through Ray's own switch: its name and its
    effect (a node's address is 127.0.0.1 while it is off)."""
    import ray._private.worker
    from ray._private import ray_constants, services

    # as before ray.init: a connected process answers with its node's address
    monkeypatch.setattr(ray._private.worker, "_global_node", None)

    assert ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR in _ray_compat.LOOPBACK_ENV, UPGRADE_HINT
    if ray_constants.ENABLE_RAY_CLUSTER:
        with _ray_compat.loopback_node():
            assert services.get_node_ip_address() == "127.0.0.1", UPGRADE_HINT
        assert ray_constants.ENABLE_RAY_CLUSTER  # put back


def test_tune_trial_actors_can_be_given_no_variable_their_workers_have(monkeypatch):
    """Ray Tune 2.60 gives every trial actor ``PL_DISABLE_FORK`` in its runtime_env, which
    keeps it off Ray's prestarted workers; narrowed, the runtime_env is ``{"env_vars": {}}``
    (the one that takes them, issue 32). Fails when Ray changes how it makes that class."""
    import inspect

    from ray._private import services
    from ray.tune.execution.class_cache import _ActorClassCache

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN",
                 "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    class Trainable:
        pass

    def env_vars() -> dict:
        remote = _ActorClassCache().get(Trainable)
        return (remote._default_options.get("runtime_env") or {}).get("env_vars", {})

    assert env_vars().get("PL_DISABLE_FORK") == "1", UPGRADE_HINT
    with _ray_compat.tune_actors_inherit({**_ray_compat.TUNE_ACTOR_DEFAULTS}):
        assert env_vars() == {}, UPGRADE_HINT
    assert env_vars().get("PL_DISABLE_FORK") == "1"  # put back
    # the number of workers a raylet prestarts is still on its command line
    assert "--num_prestart_python_workers=" in inspect.getsource(services.start_raylet), \
        UPGRADE_HINT


def test_warm_workers_all_start_and_are_not_ended_as_surplus(monkeypatch):
    """The raylet's command line for ``count`` warm workers: no more prestarted than asked,
    all allowed to start at once (Ray 2.60 dropped the prestarts above its start-up
    concurrency, the machine's cores), and the idle limit given (issue 32). Fails when Ray
    renames the flags or stops handing the command to ``start_ray_process``."""
    import inspect

    from ray._private import services

    source = inspect.getsource(services.start_raylet)
    for flag in ("--num_prestart_python_workers=", "--maximum_startup_concurrency="):
        assert flag in source, UPGRADE_HINT
    seen = []
    monkeypatch.setattr(services, "start_ray_process",
                        lambda command, process_type, *a, **k: seen.append(command))
    with _ray_compat.warm_workers(4, ("json",), idle_limit=12) as options:
        services.start_ray_process(["raylet", "--num_prestart_python_workers=8",
                                    "--maximum_startup_concurrency=2", "--other=1"], "raylet")
        services.start_ray_process(["--maximum_startup_concurrency=2"], "gcs_server")
    assert seen == [["raylet", "--num_prestart_python_workers=4",
                     "--maximum_startup_concurrency=4", "--other=1"],
                    ["--maximum_startup_concurrency=2"]]
    config = options["_system_config"]
    assert config["num_workers_soft_limit"] == 12 and config["preload_python_modules"] == [
        "json"]
    with _ray_compat.warm_workers(2, ("json",)) as options:
        assert "num_workers_soft_limit" not in options["_system_config"]  # Ray's own: CPUs


def test_graph_mode_custom_gradients_are_registered_by_name_and_can_be_forgotten():
    import tensorflow as tf

    @tf.custom_gradient
    def doubled(x):
        return 2 * x, lambda dy: 2 * dy

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = doubled(x)
        return tape.gradient(y, x)

    before = _ray_compat.custom_gradient_names()
    assert float(step(tf.constant(1.0))) == 2.0
    added = _ray_compat.custom_gradient_names() - before
    assert len(added) == 1 and next(iter(added)).startswith("CustomGradient-")
    assert _ray_compat.forget_custom_gradients(keep=before) >= 1
    assert _ray_compat.custom_gradient_names() <= before
