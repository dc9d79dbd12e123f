"""Probe (issue 32's notebook case): can a second ``search()`` in the same process take a
TensorFlow-ready worker from Ray's own worker pool?

Ray Tune ends its trial actors with each run, and an actor's worker process ends with it,
so every later search in a process starts new workers and imports TensorFlow in them
(about 3 s on 2 cores). A plain Ray *task* leaves its worker idle in the job's pool when
it returns, with the raylet's ``preload_python_modules`` already imported; a trial actor
with an empty runtime environment can take it. The modes, each in a fresh process:

* ``cold``: three 1-trial searches one after the other, as today;
* ``warm``: after the first search, one no-op task (waited for), then the next two;
* ``async``: the no-op task submitted without waiting, and the second search at once.

Each prints the seconds of each ``search()`` (1 trial x 2 epochs of a digits MLP)::

    python scripts/probe_next_search.py cold warm async --rounds 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

_CHILD = r'''
import sys, time
import keras
from sklearn.datasets import load_digits
import raytune_hpt as kt

x, y = load_digits(return_X_y=True)
x = (x / 16).astype("float32")


def build_model(hp):
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Int("units", 32, 128, 32), activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def one(seed):
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=1, seed=seed,
                            directory="/tmp/probe_next_search", project_name=f"p{seed}",
                            overwrite=True, verbose=0)
    started = time.perf_counter()
    tuner.search(x[:1400], y[:1400], validation_data=(x[1400:], y[1400:]), epochs=2)
    return time.perf_counter() - started


times = [one(1)]
if sys.argv[1] in ("warm", "async"):
    import ray

    @ray.remote(num_cpus=1)
    def noop():
        return "tensorflow" in sys.modules

    ref = noop.remote()
    if sys.argv[1] == "warm":
        assert ray.get(ref), "the pooled worker should have TensorFlow preloaded"
times += [one(2), one(3)]
print("TIMES", " ".join(f"{t:.2f}" for t in times))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="+", choices=["cold", "warm", "async"])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for round_ in range(args.rounds):
        for mode in args.modes:
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True,
                                 text=True, timeout=600)
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("TIMES")),
                        f"failed: {out.stderr[-500:]}")
            print(f"round {round_ + 1} {mode:5s} searches (s): {line[6:]} "
                  f"| process {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
