"""Overhead: the same Keras trainings through five runners, side by side in one run.

    python scripts/bench_overhead.py [--trials 16] [--epochs 5] [--repeat N]
        [--variant NAME=PATH[+KEY=VALUE]] [--write]

``--write`` puts the table, the targets and a plot (docs/img/overhead.png) into the
"Overhead" section of docs/benchmarks.md.

Runners (each in a fresh subprocess; TensorFlow is imported before the clock starts, Ray
start-up is inside the clock because a user waits for it):
  in-process   a plain loop over the configurations in one process (the ideal for one process)
  keras-tuner  keras_tuner.RandomSearch with the same model builder
  ray-tune     plain Ray Tune as its docs show (function trainable, Ray's Keras callback)
  ray-tune+reuse  the same with reuse_actors=True
  raytune_hpt  rth.Tuner, random search, 1 CPU per trial (2 at a time on 2 cores)
  raytune_hpt (meta-optimizer on)  the same with TensorFlow's graph meta-optimizer left on

All trainings are the issue's digits MLP (units 32..512 step 32, relu/tanh, log lr), 5 epochs,
batch 32, 1,400 training / 397 validation images.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _benchdoc  # noqa: E402

RUNNERS = ["in-process", "keras-tuner", "ray-tune", "ray-tune+reuse", "raytune_hpt",
           "raytune_hpt (user's ray.init)"]
OPTIONAL_RUNNERS = ["raytune_hpt (meta-optimizer on)"]


def data():
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    y = d.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def build_model(hp):
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 32, 512, step=32),
                           activation=hp.Choice("act", ["relu", "tanh"])),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def configs(n: int) -> list[dict]:
    from raytune_hpt.hyperparameters import HyperParameters
    from raytune_hpt.searchers._basic import RandomSearcher

    hp = HyperParameters()
    build_model_space(hp)
    searcher = RandomSearcher(hp, seed=0)
    return [searcher.suggest(str(i)) for i in range(n)]


def build_model_space(hp) -> None:
    hp.Int("units", 32, 512, step=32)
    hp.Choice("act", ["relu", "tanh"])
    hp.Float("lr", 1e-4, 1e-2, sampling="log")


def run_in_process(n, epochs, workdir):
    import keras

    from raytune_hpt.hyperparameters import HyperParameters

    x, y, xv, yv = data()
    start = time.perf_counter()
    for values in configs(n):
        keras.backend.clear_session()
        model = build_model(HyperParameters(values))
        model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, verbose=0)
    return time.perf_counter() - start


def run_keras_tuner(n, epochs, workdir):
    import keras_tuner

    x, y, xv, yv = data()
    start = time.perf_counter()
    tuner = keras_tuner.RandomSearch(build_model, objective="val_accuracy", max_trials=n, seed=0,
                                     directory=workdir, project_name="kt", overwrite=True)
    tuner.search(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, verbose=0)
    return time.perf_counter() - start


def run_ray_tune(n, epochs, workdir, reuse=False):
    import ray
    from ray import tune

    x, y, xv, yv = data()

    def train(config):  # the pattern of Ray's Keras example
        from ray.tune.integration.keras import TuneReportCheckpointCallback

        from raytune_hpt.hyperparameters import HyperParameters

        model = build_model(HyperParameters(config["hp"]))
        model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, verbose=0,
                  callbacks=[TuneReportCheckpointCallback(metrics=["val_accuracy"])])

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    points = configs(n)
    tuner = tune.Tuner(
        tune.with_resources(train, {"cpu": 1}),
        param_space={"hp": tune.grid_search(points)},  # the same 16 configurations
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", reuse_actors=reuse),
        run_config=tune.RunConfig(storage_path=workdir, name="plain", verbose=0),
    )
    tuner.fit()
    return time.perf_counter() - start


def run_raytune_hpt(n, epochs, workdir, meta_optimizer=False, user_ray_init=False):
    import ray

    import raytune_hpt as rth

    x, y, xv, yv = data()
    start = time.perf_counter()
    if user_ray_init:  # as the plain Ray Tune runners do; else the Tuner starts Ray itself
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    tuner = rth.Tuner(build_model, objective="val_accuracy", searcher="random", max_trials=n,
                      storage_path=workdir, name="rth", seed=0, verbose=0, resources={"cpu": 1},
                      meta_optimizer=meta_optimizer)
    tuner.search(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32)
    return time.perf_counter() - start


def child(runner: str, n: int, epochs: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow  # noqa: F401  (imported before the clock, for every runner)

    with tempfile.TemporaryDirectory() as workdir:
        functions = {
            "in-process": run_in_process,
            "keras-tuner": run_keras_tuner,
            "ray-tune": run_ray_tune,
            "ray-tune+reuse": lambda *a: run_ray_tune(*a, reuse=True),
            "raytune_hpt": run_raytune_hpt,
            "raytune_hpt (meta-optimizer on)": lambda *a: run_raytune_hpt(*a, meta_optimizer=True),
            "raytune_hpt (user's ray.init)": lambda *a: run_raytune_hpt(*a, user_ray_init=True),
        }
        seconds = functions[runner](n, epochs, workdir)
    print("RESULT " + json.dumps({"runner": runner, "seconds": seconds}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--runners", nargs="*", default=RUNNERS,
                        help=f"default: {RUNNERS}; also {OPTIONAL_RUNNERS}")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every runner this many times, interleaved; report medians")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                        help="also run the raytune_hpt runner as NAME from the checkout PATH "
                             "(first on PYTHONPATH), or with +KEY=VALUE set (bench_switch.py's "
                             "syntax), interleaved with the others")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.trials, args.epochs)
        return
    runs: dict[str, list[float]] = {}
    loads: dict[str, list[float]] = {}
    variants = {}
    for spec in args.variant:
        name, path, extra, _ = _benchdoc.parse_variant(spec)
        if path:
            extra["PYTHONPATH"] = os.pathsep.join(
                filter(None, [path, os.environ.get("PYTHONPATH")]))
        variants[f"raytune_hpt [{name}]"] = extra
    for _ in range(args.repeat):  # interleaved, so a drift of the machine's speed hits all
        for runner in [*args.runners, *variants]:
            command = [sys.executable, __file__, "--child",
                       "raytune_hpt" if runner in variants else runner,
                       "--trials", str(args.trials), "--epochs", str(args.epochs)]
            before = _benchdoc.load()
            output = subprocess.run(command, capture_output=True, text=True,
                                    env={**os.environ, **variants.get(runner, {})})
            _benchdoc.wait_for_ray_to_exit()  # the next runner starts on a machine at rest
            lines = [line for line in output.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                print(f"{runner}: failed\n{output.stderr[-3000:]}", file=sys.stderr)
                continue
            runs.setdefault(runner, []).append(json.loads(lines[-1][7:])["seconds"])
            loads.setdefault(runner, []).extend([before, _benchdoc.load()])
            print(f"{runner:34s} {runs[runner][-1]:7.1f} s", flush=True)
    times = {runner: statistics.median(values) for runner, values in runs.items()}
    base = times.get("in-process")
    table = ["| runner | wall time (s), median | runs (s) | vs in-process | load range |",
             "|---|---:|---|---:|---|"]
    for runner, seconds in times.items():
        ratio = f"{seconds / base:.2f}x" if base else "-"
        each = ", ".join(f"{v:.1f}" for v in runs[runner])
        load = f"{min(loads[runner]):.1f}-{max(loads[runner]):.1f}"
        table.append(f"| {runner} | {seconds:.1f} | {each} | {ratio} | {load} |")
    text = "\n".join(table)
    verdict = targets(times)
    ours, base = runs.get("raytune_hpt", []), runs.get("in-process", [])
    if len(ours) > 1 and len(ours) == len(base):
        verdict += (" Round by round (each raytune_hpt run against the in-process run of its "
                    "round): " + ", ".join(f"{o / b:.2f}x" for o, b in zip(ours, base, strict=True))
                    + ".")
    print(text + "\n\n" + verdict)
    if args.write:
        write(times, text, verdict, args)


def targets(times: dict[str, float]) -> str:
    """The issue's two targets, measured: <= 0.8x in-process and >= 3x faster than Ray Tune."""
    ours, base, plain = (times.get(k) for k in ("raytune_hpt", "in-process", "ray-tune"))
    if ours is None:
        return "raytune_hpt did not run."
    parts = []
    if base:
        parts.append(f"raytune_hpt / in-process = {ours / base:.2f}x (target <= 0.8x: "
                     f"{'met' if ours / base <= 0.8 else 'not met'})")
    if plain:
        parts.append(f"plain Ray Tune / raytune_hpt = {plain / ours:.1f}x (target >= 3x: "
                     f"{'met' if plain / ours >= 3 else 'not met'})")
    return "; ".join(parts) + "."


def write(times: dict[str, float], text: str, verdict: str, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 0.45 * len(times) + 1.2))
    names = list(times)[::-1]
    axis.barh(names, [times[n] for n in names],
              color=["tab:orange" if n == "raytune_hpt" else "tab:blue" for n in names])
    axis.set_xlabel(f"wall time (s), {args.trials} trainings x {args.epochs} epochs")
    figure.tight_layout()
    figure.savefig(_benchdoc.plot_path("overhead.png"), dpi=100)
    body = f"""The same {args.trials} digits-MLP trainings (units 32..512 step 32, relu/tanh, log
learning rate; {args.epochs} epochs, batch 32, 1,400 training / 397 validation images), the same
configurations for every runner but Keras Tuner (which samples its own), each runner in a fresh
subprocess with TensorFlow imported before the clock starts; Ray's start-up is inside the
clock. The Ray runners run 2 trials at a time (1 CPU each). With `--repeat N` the runners
take turns N times, so a drift of the machine's own speed hits all of them; the table gives
each runner's median and every run.

`{_benchdoc.command_line("bench_overhead.py")}`, in a venv made by
`pip install -e ".[bench]"` (the documented install; see below for what else installed in a
venv costs).

Measured {_benchdoc.machine()}.

{text}

{verdict}

![overhead](img/overhead.png)

Runners: *in-process* is a plain loop over the configurations in one process (the ideal for
one process; TensorFlow uses both cores); *keras-tuner* is `keras_tuner.RandomSearch`;
*ray-tune* is plain Ray Tune as its docs show (a function trainable with Ray's Keras callback);
*ray-tune+reuse* the same with `reuse_actors=True`; *raytune_hpt* lets the Tuner start the
local Ray, as the README's example does; *raytune_hpt (user's ray.init)* calls
`ray.init(num_cpus=2, include_dashboard=False)` first, as the plain Ray Tune runners do.

What changed since the first measurements (raytune_hpt was 0.96-1.08x the in-process loop
in three single runs on 2026-11-22), each found by profiling this benchmark:

- Ray asks a custom searcher for one trial at a time: the second trial's resources were
  requested only once the first trial's worker was up, so the second worker started ~2 s
  after the first. The Tuner now lets every trial that fits the cluster wait for resources at
  once (`TUNE_MAX_PENDING_TRIALS_PG`, only while its search runs, never over a user's value).
  Interleaved, 6 runs each (dev venv): median 28.7 s before, 27.1 s after (-6 %).
- A local Ray pre-starts one task worker per CPU. Ray Tune starts every trial in an actor
  with its own runtime environment, which never takes a pre-started worker, so those two
  processes only competed with the first trials for the 2 cores and were then killed. A local
  Ray started by the Tuner now pre-starts none: 27.1 s -> 26.0 s median (-4 %, 6 runs each).
- Space discovery no longer runs a full garbage collection per build (1.3 s -> 0.4 s in the
  driver).

Where the time still goes (profiled in the dev venv, 2026-11-22): the machine is saturated
(2 workers, the driver and Ray's own processes on 2 cores), so wall time follows total CPU.
Per worker: ~3.5 s to import TensorFlow (Keras imports matplotlib, scikit-learn and pandas
when they are installed: 1.3 s of it), then each trial ~1.3 s of building, compiling and
tracing the model and training it, plus per epoch a `.keras` save (21 ms of CPU) and the
report to the driver (12 ms, 5 of them CPU). Ray's daemons (dashboard head and agent, log
monitor, autoscaler monitor, runtime-env agent) use ~3.5 s of CPU in a 25 s run and the
driver ~5 s. A venv with mlflow installed adds ~1.3 s to every Ray Tune run: Ray imports its
MLflow integration to count the callbacks it was given (`ray.air._internal.usage`), on the
driver's path before the first trial; `ray[default]` adds the full dashboard agent.
"""
    _benchdoc.write_section("Overhead", body)
    print(f"wrote {_benchdoc.DOC}")


if __name__ == "__main__":
    main()
