"""Scale benchmark: many one-second trials on 8 logical CPU slots, in one Ray session.

N trials (default 500) of ``--work`` seconds of sleep-like work each, on ``--slots`` logical
CPUs (``ray.init(num_cpus=slots)``; ideal wall time N * work / slots), through:

* ``ray-tune+reuse``: plain Ray Tune as its docs show it, with ``reuse_actors=True`` (a
  function trainable that sleeps and reports once; Ray's default loggers and checkpointing);
* ``raytune_hpt``: ``rth.Tuner`` on its real path: a ``HyperModel`` whose ``build`` returns a
  tiny compiled Keras model and whose ``fit`` sleeps and returns the objective (so every
  trial builds a model, saves its ``.keras`` checkpoint and is logged as usual);
* ``raytune_hpt[...]`` variants that monkeypatch one default in this process only, to
  measure what a change to the package would buy (``--variants``; see VARIANTS).

Where the time goes is measured in the driver (experiment-state snapshots and Tune callbacks,
by wrapping Ray's methods) and in the workers (time from trial start to its report, minus the
work).

Usage:
    python scripts/bench_scale.py [--trials 500] [--slots 8] [--work 1.0] [--variants ...]
        [--kept] [--write]

``--kept`` runs both on a Ray kept by ``raytune-hpt up --num-cpus SLOTS`` (as a user who
runs many searches would), whose warm workers have TensorFlow imported before the first
trial; raytune_hpt runs first, so that its trials are the ones that find them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _benchdoc  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


# ---------------------------------------------------------------------------- instrumentation
class DriverProbe:
    """Counts and times experiment snapshots and Tune callback calls in the driver."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.snapshot_s = 0.0
        self.sync_s = 0.0
        self.callback_s = 0.0

    @contextlib.contextmanager
    def installed(self) -> Iterator[DriverProbe]:
        from ray.tune.callback import CallbackList
        from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

        probe = self
        original_sync = _ExperimentCheckpointManager.sync_up_experiment_state

        def sync(self: Any, save_fn: Callable[[], None], force: bool = False,
                 wait: bool = False) -> None:
            def timed_save() -> None:
                start = time.perf_counter()
                save_fn()
                probe.snapshots += 1
                probe.snapshot_s += time.perf_counter() - start

            start = time.perf_counter()
            original_sync(self, timed_save, force=force, wait=wait)
            probe.sync_s += time.perf_counter() - start  # save + launching the storage sync

        originals = {}
        for name in ("on_step_begin", "on_step_end", "on_trial_start", "on_trial_result",
                     "on_trial_complete", "on_checkpoint", "on_trial_save"):
            originals[name] = getattr(CallbackList, name)

            def make(method: Callable[..., Any]) -> Callable[..., Any]:
                def timed(self: Any, **info: Any) -> Any:
                    start = time.perf_counter()
                    try:
                        return method(self, **info)
                    finally:
                        probe.callback_s += time.perf_counter() - start
                return timed

            setattr(CallbackList, name, make(originals[name]))
        _ExperimentCheckpointManager.sync_up_experiment_state = sync
        try:
            yield self
        finally:
            _ExperimentCheckpointManager.sync_up_experiment_state = original_sync
            for name, method in originals.items():
                setattr(CallbackList, name, method)


# ---------------------------------------------------------------------------------- runners
def run_ray_tune(n: int, work: float, storage: str) -> tuple[float, Any]:
    """Plain Ray Tune with actor reuse: Ray's defaults otherwise."""
    from ray import tune

    os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)  # raytune_hpt sets it

    def trainable(config: dict) -> None:
        time.sleep(work)
        tune.report({"score": config["x"]})

    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=n, metric="score", mode="min",
                                    reuse_actors=True),
        run_config=tune.RunConfig(name="plain", storage_path=storage, verbose=0),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    return time.perf_counter() - start, grid


def make_hypermodel(work: float) -> Any:
    import raytune_hpt as rth

    class SleepyHyperModel(rth.HyperModel):
        """A tiny compiled model; ``fit`` sleeps instead of training and returns a float."""

        def build(self, hp: Any) -> Any:
            import keras

            units = hp.Int("units", 1, 8)
            hp.Float("x", 0.0, 1.0)
            model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(units),
                                      keras.layers.Dense(1)])
            model.compile(optimizer="sgd", loss="mse")
            return model

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> float:
            time.sleep(work)
            return float(hp.get("x"))

    return SleepyHyperModel(name="scale")


@contextlib.contextmanager
def patched(variant: str) -> Iterator[None]:
    """Apply one prototype change to raytune_hpt's defaults, in this process only."""
    from ray import tune

    changes = set(variant.split("+")) if variant else set()
    unknown = changes - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant part(s) {sorted(unknown)}; "
                         f"choose from {sorted(VARIANTS)}")

    import raytune_hpt.driver._search as search_module  # binds run_trial at its import

    original_config = tune.CheckpointConfig
    original_run_trial = search_module.run_trial
    if "gcfreeze" in changes:
        search_module.run_trial = run_trial_gc_frozen
    if "profile" in changes:
        search_module.run_trial = run_trial_profiled
    if "keep2" in changes or "keepall" in changes:
        keep = None if "keepall" in changes else 2

        class CheckpointConfig(original_config):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["num_to_keep"] = keep
                super().__init__(*args, **kwargs)

        tune.CheckpointConfig = CheckpointConfig
    try:
        yield
    finally:
        tune.CheckpointConfig = original_config
        search_module.run_trial = original_run_trial


PROFILE_DIR = os.path.join(tempfile.gettempdir(), "bench-scale-profile")

# name -> what the prototype changes (combine with "+", e.g. "keepall+notb")
VARIANTS = {
    "keep2": "CheckpointConfig(num_to_keep=2): a forced experiment snapshot every 2nd "
             "checkpoint of a trial instead of every one",
    "keepall": "CheckpointConfig(num_to_keep=None): no forced snapshots (Ray's periodic "
               "snapshot only, >= 10 s apart); old checkpoints are kept",
    "notb": "tracking={'tensorboard': False}: no TensorBoard callback in the driver",
    "gcfreeze": "`gc.collect(); gc.freeze()` once per worker before its first trial (makes "
                "each trial's `clear_session()` cheap)",
    "profile": "no change: each worker's trials run under cProfile, its statistics written to "
               f"{PROFILE_DIR}/<pid>.prof after every trial (read them with pstats)",
}


_frozen = False
_profile: Any = None


def run_trial_profiled(config: dict, **kwargs: Any) -> None:
    """raytune_hpt's run_trial under one cProfile per worker, dumped after every trial."""
    import cProfile

    from raytune_hpt.worker import run_trial

    global _profile
    if _profile is None:
        _profile = cProfile.Profile()
        os.makedirs(PROFILE_DIR, exist_ok=True)
    _profile.enable()
    try:
        return run_trial(config, **kwargs)
    finally:
        _profile.disable()
        _profile.dump_stats(os.path.join(PROFILE_DIR, f"{os.getpid()}.prof"))


def run_trial_gc_frozen(config: dict, **kwargs: Any) -> None:
    """raytune_hpt's run_trial, after freezing the worker's long-lived objects out of the GC."""
    import gc

    from raytune_hpt.worker import run_trial

    global _frozen
    if not _frozen:
        import keras  # noqa: F401  (freeze TensorFlow's and Keras's module-level objects)

        gc.collect()
        gc.freeze()
        _frozen = True
    return run_trial(config, **kwargs)


def run_raytune_hpt(n: int, work: float, storage: str, variant: str = "") -> tuple[float, Any]:
    import numpy as np

    import raytune_hpt as rth

    x = np.zeros((8, 1), "float32")
    y = np.zeros((8, 1), "float32")
    tracking = {"tensorboard": False} if "notb" in variant.split("+") else None
    tuner = rth.Tuner(make_hypermodel(work), objective=("x", "min"), searcher="random",
                      max_trials=n, resources={"cpu": 1}, storage_path=storage,
                      name=f"rth-{variant or 'default'}", seed=0, verbose=0, overwrite=True,
                      tracking=tracking)
    with patched(variant):
        start = time.perf_counter()
        tuner.search(x, y, epochs=1)
        seconds = time.perf_counter() - start
    return seconds, tuner.results


def worker_stats(grid: Any, work: float) -> dict[str, float]:
    """Time inside the workers: per trial, start of the trial function to its report."""
    import statistics

    metrics = [r.metrics for r in grid if r.metrics and "time_this_iter_s" in r.metrics]
    per_trial = [m["time_this_iter_s"] for m in metrics]
    errors = sum(1 for r in grid if r.error is not None)
    # a worker's first trial also starts the worker (and, for raytune_hpt, imports TensorFlow)
    firsts: dict[Any, float] = {}
    for m in sorted(metrics, key=lambda m: m.get("timestamp", 0)):
        if "pid" in m:
            firsts.setdefault(m["pid"], m["time_this_iter_s"])
    return {"trials": len(per_trial), "errors": errors, "workers": len(firsts),
            "busy_s": float(sum(per_trial)),
            "median_overhead_ms": 1000 * (statistics.median(per_trial) - work)
            if per_trial else 0.0,
            "first_trial_s": statistics.mean(firsts.values()) if firsts else float("nan")}


def trial_steps(work: float, repeats: int = 20) -> dict[str, float]:
    """Milliseconds per step of a raytune_hpt trial's own work, timed in this process, plus
    seconds to import TensorFlow/Keras and Ray Tune in a fresh Python (a new worker's cost)."""
    import gc

    import keras

    from raytune_hpt.hyperparameters import HyperParameters

    hypermodel = make_hypermodel(work)
    hp = HyperParameters()
    steps = {"clear_session": 0.0, "build+compile": 0.0, "save .keras": 0.0}
    folder = tempfile.mkdtemp(prefix="bench-steps-")
    for frozen in (False, True):
        if frozen:
            gc.collect()
            gc.freeze()
        totals = dict.fromkeys(steps, 0.0)
        for _ in range(repeats):
            start = time.perf_counter()
            keras.backend.clear_session()
            totals["clear_session"] += time.perf_counter() - start
            start = time.perf_counter()
            model = hypermodel.build(hp)
            totals["build+compile"] += time.perf_counter() - start
            start = time.perf_counter()
            model.save(os.path.join(folder, "model.keras"))
            totals["save .keras"] += time.perf_counter() - start
        suffix = " (after gc.freeze)" if frozen else ""
        steps.update({k + suffix: 1000 * v / repeats for k, v in totals.items()})
    gc.unfreeze()
    shutil.rmtree(folder, ignore_errors=True)
    for module in ("keras", "ray.tune"):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        steps[f"import {module} in a fresh process (s)"] = time.perf_counter() - start
    return steps


def kept_ray(slots: int) -> None:
    """``raytune-hpt up --num-cpus slots`` with its state in a folder of this run only (this
    script's own environment: it is a benchmark, not the user's process)."""
    os.environ["RAYTUNE_HPT_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-scale-state-")
    up = subprocess.run([sys.executable, "-m", "raytune_hpt", "up", "--num-cpus", str(slots)],
                        capture_output=True, text=True, timeout=300)
    print(up.stdout.strip() or up.stderr.strip(), flush=True)
    up.check_returncode()


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--work", type=float, default=1.0, help="seconds of sleep per trial")
    parser.add_argument("--variants", nargs="*", default=[],
                        help=f"raytune_hpt prototypes to run after the default: {sorted(VARIANTS)}")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--kept", action="store_true",
                        help="run on a Ray kept by `raytune-hpt up --num-cpus SLOTS` (its warm "
                             "workers have TensorFlow imported); raytune_hpt runs first")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()

    import keras  # noqa: F401  (a user's script imports it to write build(); before the clock)
    import ray

    ideal = args.trials * args.work / args.slots
    storage = tempfile.mkdtemp(prefix="bench-scale-")
    rows: list[dict[str, Any]] = []
    try:
        before = _benchdoc.load()
        start = time.perf_counter()
        if args.kept:
            kept_ray(args.slots)
        else:
            ray.init(num_cpus=args.slots, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        ray_start = time.perf_counter() - start
        print(f"{'raytune-hpt up' if args.kept else 'ray.init'}: {ray_start:.1f} s "
              f"({_benchdoc.load_note(before, _benchdoc.load())})", flush=True)
        runners: list[tuple[str, Callable[[], tuple[float, Any]]]] = []
        if not args.skip_plain:
            runners.append(("ray-tune+reuse",
                            lambda: run_ray_tune(args.trials, args.work, storage)))
        for variant in ["", *args.variants]:
            runners.append((f"raytune_hpt[{variant}]" if variant else "raytune_hpt",
                            lambda v=variant: run_raytune_hpt(args.trials, args.work, storage, v)))
        if args.kept:  # the search joins the kept Ray first and takes its warm workers
            runners.reverse()
        for name, runner in runners:
            probe = DriverProbe()
            before = _benchdoc.load()
            with probe.installed():
                seconds, grid = runner()
            after = _benchdoc.load()
            stats = worker_stats(grid, args.work)
            row = {"runner": name, "seconds": seconds, "load_before": before, "load_after": after,
                   "snapshots": probe.snapshots, "snapshot_s": probe.sync_s,
                   "callback_s": probe.callback_s, **stats,
                   "utilization": stats["busy_s"] / (args.slots * seconds)}
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                              for k, v in row.items()}), flush=True)
    finally:
        ray.shutdown()
        if args.kept:
            subprocess.run([sys.executable, "-m", "raytune_hpt", "down"], check=False)
        shutil.rmtree(storage, ignore_errors=True)

    table = [
        f"{args.trials} trials x {args.work:g} s of sleep on {args.slots} logical CPU slots; "
        f"ideal {ideal:.1f} s; `ray.init` {ray_start:.1f} s (not included below).",
        "",
        "| runner | wall (s) | over ideal | load before->after | slot use "
        "| worker overhead / trial, median (ms) | worker's first trial (s) "
        "| snapshots (n, s) | callbacks (s) | failed |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        table.append(
            f"| {r['runner']} | {r['seconds']:.1f} | {100 * (r['seconds'] / ideal - 1):+.0f}% "
            f"| {r['load_before']:.1f}->{r['load_after']:.1f} | {100 * r['utilization']:.0f}% "
            f"| {r['median_overhead_ms']:.0f} | {r['first_trial_s']:.1f} "
            f"| {r['snapshots']}, {r['snapshot_s']:.1f} "
            f"| {r['callback_s']:.1f} | {r['errors']} |")
    before = _benchdoc.load()
    steps = trial_steps(args.work)
    after = _benchdoc.load()
    table += ["", f"Steps of one raytune_hpt trial, timed in the driver process "
              f"({_benchdoc.load_note(before, after)}):", "", "| step | ms (s for imports) |",
              "|---|---:|"]
    table += [f"| {k} | {v:.1f} |" for k, v in steps.items()]
    text = "\n".join(table)
    print("\n" + text)
    if args.write:
        write(args, rows, ideal, ray_start, text)


def write(args: argparse.Namespace, rows: list[dict[str, Any]], ideal: float, ray_start: float,
          text: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.5))
    names = [r["runner"] for r in rows]
    axis.barh(names, [r["seconds"] for r in rows], color="tab:blue")
    axis.axvline(ideal, color="black", linestyle="--", label=f"ideal {ideal:.0f} s")
    axis.axvline(ideal * 1.28, color="tab:red", linestyle=":", label="ideal +28%")
    axis.set_xlabel("wall time (s)")
    axis.invert_yaxis()
    axis.legend(loc="lower right")
    axis.set_title(f"{args.trials} x {args.work:g} s trials on {args.slots} slots")
    figure.tight_layout()
    figure.savefig(_benchdoc.plot_path("scale.png"), dpi=100)
    variants = "\n".join(f"- `raytune_hpt[{k}]`: {v}." for k, v in VARIANTS.items()
                         if any(k in run.split("+") for run in args.variants))
    if variants:
        variants = ("Prototype variants run (monkeypatched in the benchmark, not in the "
                    "package):\n" + variants)
    body = f"""`{_benchdoc.command_line("bench_scale.py")}`

Measured {_benchdoc.machine()}.

{text}

![scale](img/scale.png)

Columns: *slot use* is the trials' busy time (trial function start to report, summed) over
slots x wall time; *worker overhead* is the median busy time per trial minus the sleep
(building the model, clearing the Keras session, saving the `.keras` checkpoint); a
*worker's first trial* also pays for importing and configuring TensorFlow (raytune_hpt only);
*snapshots* are
Ray's experiment-state saves in the driver (count, seconds including the sync to storage);
*callbacks* is the driver time spent in Tune callbacks (loggers, TensorBoard, the guard).

{variants}

Changes made from earlier runs of this benchmark (with `--variants`, 2026-11-22): the Tuner
keeps `CheckpointConfig(num_to_keep=2)` instead of 1 (with 1, Ray forced an experiment
snapshot on every checkpoint, each writing every trial so far: 173 snapshots and 15.2 s of
driver time for 160 one-epoch trials against 24 and 2.6 s without), and each worker freezes
Python's garbage collector after importing TensorFlow and Keras (`clear_session()` between
trials measured 412 ms -> 2.7 ms).

What limits the figures: the driver, the raylet, the GCS and every trial worker share the
machine's cores; each raytune_hpt worker imports TensorFlow once (several seconds of CPU,
{args.slots} workers at once), which plain Ray Tune's workers do not. A load average above
the core count means other processes took CPU time from the run.
"""
    _benchdoc.write_section("Scale", body)
    print(f"wrote {_benchdoc.DOC}")


if __name__ == "__main__":
    main()
