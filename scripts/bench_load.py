"""Load: many short trials through one driver; is every trial recorded, is the driver's memory flat?

    python scripts/bench_load.py --trials 500 --out load.json [--storage DIR]

Each trial builds a one-weight Keras model and its HyperModel.fit returns a float at once, so
the run measures the search machinery (Ray Tune's driver loop, our callbacks, checkpoints,
result files), not training. A thread samples the driver's resident memory (VmRSS) every
0.5 s together with the number of trials that have written their result; the JSON output
holds the samples, the RSS at ~20 % and at 100 % of the trials, the trial count and the time.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--out", required=True)
    parser.add_argument("--storage", default=None)
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
    done = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not done.is_set():
            finished = sum(1 for p in experiment.glob("run_trial_*/result.json") if p.stat().st_size)
            samples.append((round(time.monotonic() - started, 2), finished, round(rss_mb(), 1)))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tuner = rth.Tuner(Quick(), objective=rth.Objective("score", "max"), searcher="random",
                      max_trials=args.trials, storage_path=storage, name="load", seed=0, verbose=0)
    results = tuner.search(np.zeros((4, 1), "float32"), np.zeros(4, "float32"), epochs=1)
    done.set()
    sampler.join()
    seconds = time.monotonic() - started

    def rss_at(count: int) -> float:
        return next((rss for _, n, rss in samples if n >= count), samples[-1][2])

    statuses: dict[str, int] = {}
    for trial in results.trials:
        statuses[trial.status] = statuses.get(trial.status, 0) + 1
    report = {
        "trials": len(results.trials), "statuses": statuses,
        "distinct_configs": len({json.dumps(t.hyperparameters, sort_keys=True) for t in results.trials}),
        "seconds": round(seconds, 1), "rss_mb_at_20pct": rss_at(args.trials // 5),
        "rss_mb_at_end": rss_at(args.trials), "rss_mb_max": max(r for _, _, r in samples),
        "samples": samples,
    }
    Path(args.out).write_text(json.dumps(report))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
