"""Load: many short trials through one driver; is every trial recorded, is the driver's memory flat?

    python scripts/bench_load.py --trials 500 --out load.json [--storage DIR]

Each trial builds a one-weight Keras model and its HyperModel.fit returns a float at once, so
the run measures the search machinery (Ray Tune's driver loop, our callbacks, checkpoints,
result files), not training. A thread samples the driver's resident memory (VmRSS) every
0.5 s together with the number of trials that have written their result, and at ~20 % and
~90 % of the trials counts the driver's live objects of raytune_hpt, Keras and TensorFlow
types (a leak of one model, callback or searcher record per trial shows up there). The JSON
output holds the samples, the RSS at 20 % and 100 %, the object counts, the trial count and
the time.

``--plain`` runs the same trials through plain Ray Tune (a function trainable reporting the
same score, reused actors) for the driver memory Ray Tune itself needs per trial: it keeps a
``Trial`` object with every reported metric's running statistics for each trial.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def live_objects() -> dict[str, int]:
    """Live objects in this process whose type comes from raytune_hpt, keras or tensorflow."""
    import gc

    counts = {"raytune_hpt": 0, "keras": 0, "tensorflow": 0}
    for obj in gc.get_objects():
        module = getattr(type(obj), "__module__", None)
        root = module.partition(".")[0] if isinstance(module, str) else None
        if root in counts:
            counts[root] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--out", required=True)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--plain", action="store_true", help="plain Ray Tune instead")
    args = parser.parse_args()

    import numpy as np

    import raytune_hpt as rth

    class Quick(rth.HyperModel):
        def build(self, hp):
            import keras

            hp.Float("x", 0.0, 1.0)
            model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
            return model

        def fit(self, hp, model, *fit_args, **kwargs):
            return 1.0 - (hp.get("x") - 0.3) ** 2

    storage = args.storage or tempfile.mkdtemp(prefix="rth-load-")
    experiment = Path(storage) / "load"
    samples: list[tuple[float, int, float]] = []
    # live objects at 20 % and 90 % of the trials: mid-run, before the results are read back
    marks = {args.trials // 5: None, args.trials * 9 // 10: None}
    done = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not done.is_set():
            finished = (completed(storage) if args.plain else
                        sum(1 for p in experiment.glob("*/result.json") if p.stat().st_size))
            samples.append((round(time.monotonic() - started, 2), finished, round(rss_mb(), 1)))
            for mark in marks:
                if marks[mark] is None and finished >= mark:
                    marks[mark] = live_objects()
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if args.plain:
        results = run_plain(args.trials, storage)
    else:
        tuner = rth.Tuner(Quick(), objective=rth.Objective("score", "max"), searcher="random",
                          max_trials=args.trials, storage_path=storage, name="load", seed=0,
                          verbose=0)
        found = tuner.search(np.zeros((4, 1), "float32"), np.zeros(4, "float32"), epochs=1)
        results = {"statuses": [t.status for t in found.trials],
                   "configs": [t.hyperparameters for t in found.trials]}
    done.wait(1.0)  # one more sample with every result written
    done.set()
    sampler.join()
    seconds = time.monotonic() - started

    def rss_at(count: int) -> float:
        return next((rss for _, n, rss in samples if n >= count), samples[-1][2])

    statuses: dict[str, int] = {}
    for status in results["statuses"]:
        statuses[status] = statuses.get(status, 0) + 1
    report = {
        "runner": "ray-tune" if args.plain else "raytune_hpt",
        "trials": len(results["statuses"]), "statuses": statuses,
        "distinct_configs": len({json.dumps(c, sort_keys=True) for c in results["configs"]}),
        "seconds": round(seconds, 1), "rss_mb_at_20pct": rss_at(args.trials // 5),
        "rss_mb_at_end": rss_at(args.trials), "rss_mb_max": max(r for _, _, r in samples),
        "objects_at_20pct": marks[args.trials // 5],
        "objects_at_90pct": marks[args.trials * 9 // 10],
        "samples": samples,
    }
    Path(args.out).write_text(json.dumps(report))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))


def completed(storage: str) -> int:
    """Trials plain Ray Tune has completed (its result files are flushed late)."""
    try:
        return int(Path(storage, "completed").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def run_plain(trials: int, storage: str) -> dict[str, list]:
    from ray import tune

    def trainable(config: dict) -> None:
        tune.report({"score": 1.0 - (config["x"] - 0.3) ** 2, "epoch": 1})

    class Count(tune.Callback):  # Tune copies its callbacks, so the count goes to a file
        count = 0

        def on_trial_complete(self, iteration: int, trials: list, trial: object, **info) -> None:
            self.count += 1
            Path(storage, "completed").write_text(str(self.count))

    tuner = tune.Tuner(
        trainable, param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=trials, metric="score", mode="max",
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name="load", verbose=0,
                                  callbacks=[Count()]))
    grid = tuner.fit()
    return {"statuses": ["finished" if r.error is None else "failed" for r in grid],
            "configs": [r.config for r in grid]}


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
