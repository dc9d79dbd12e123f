"""Bounded disk: a long search's storage under ``keep_models``, against its bound.

N trials (default 200) of a tiny Keras MLP (1 epoch on 300 digits) on 2 CPUs (``--cpus``),
with ``keep_models=K`` (default 10). A thread measures the experiment folder every second
while the search runs: its checkpoint bytes (``checkpoint_*`` folders) and everything else
(metrics, logs, TensorBoard events, Ray's state: "logs" below). At the end the script
prints, and with ``--write`` puts into docs/benchmarks.md ("Bounded disk"):

* one trial's checkpoints (the median over the trials that kept theirs: a trial keeps its
  best two epochs' and its latest, ``CheckpointConfig(num_to_keep=2)``) and one trial's logs;
* the bound ``(keep_models + trials at once) x one trial's checkpoints + every trial's
  logs`` (logs are never deleted), and the peak and final storage measured;
* what the same search keeps without the bound (``keep_models=None``, Keras Tuner's way):
  N x one trial's checkpoints + logs, computed from the same run.

Usage:
    python scripts/bench_disk.py [--trials 200] [--keep-models 10] [--seed 0] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _benchdoc  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MB = 1 << 20


def tiny_mlp(hp):
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 8, 64, step=8), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-1, sampling="log")),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def folder_bytes(path: Path) -> tuple[int, int]:
    """``(checkpoint bytes, other bytes)`` under ``path`` (files only, as stored)."""
    checkpoints = other = 0
    for root, _, files in os.walk(path):
        in_checkpoint = any(part.startswith("checkpoint_") for part in Path(root).parts)
        for name in files:
            try:
                size = os.path.getsize(os.path.join(root, name))
            except OSError:  # deleted while listed
                continue
            if in_checkpoint:
                checkpoints += size
            else:
                other += size
    return checkpoints, other


class StorageProbe:
    """Samples an experiment folder's checkpoint and other bytes every ``interval`` s."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self.path, self.interval = path, interval
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.path.exists():
                self.samples.append((time.monotonic() - self._start, *folder_bytes(self.path)))
            self._stop.wait(self.interval)

    def __enter__(self) -> StorageProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def per_trial(path: Path) -> tuple[float, float]:
    """Median checkpoint bytes of a trial that kept its checkpoints, and median logs of a
    trial (its folder without checkpoints plus its TensorBoard folder)."""
    checkpoints, logs = [], []
    for folder in path.iterdir():
        if not (folder / "params.json").exists():
            continue
        kept, other = folder_bytes(folder)
        trial_id = folder.name.split("_")[2] if folder.name.count("_") >= 2 else folder.name
        board = [folder_bytes(b)[1] for b in (path / "tensorboard").glob(f"{trial_id}_*")]
        logs.append(other + sum(board))
        if kept:
            checkpoints.append(kept)
    return statistics.median(checkpoints), statistics.median(logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--keep-models", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpus", type=int, default=2, help="Ray's logical CPUs")
    parser.add_argument("--storage", default=None, help="default: a temporary folder")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()

    import ray
    from sklearn.datasets import load_digits

    import raytune_hpt as rth

    # this process's own Ray (never one another run left on the machine)
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)

    digits = load_digits()
    x, y = (digits.data / 16.0).astype("float32"), digits.target.astype("int64")
    storage = Path(args.storage or tempfile.mkdtemp(prefix="rth-disk-"))
    path = storage / "disk"
    before = _benchdoc.load()
    started = time.monotonic()
    with StorageProbe(path) as probe:
        tuner = rth.Tuner(tiny_mlp, objective="val_accuracy", max_trials=args.trials,
                          keep_models=args.keep_models, storage_path=str(storage),
                          name="disk", seed=args.seed, verbose=0, overwrite=True)
        results = tuner.search(x[:300], y[:300], validation_data=(x[1500:], y[1500:]),
                               epochs=1, batch_size=32)
    wall = time.monotonic() - started
    after = _benchdoc.load()
    final_ckpt, final_other = folder_bytes(path)
    one_ckpt, one_logs = per_trial(path)
    at_once = results.trials_at_once()
    kept = sum(1 for t in results.trials if t.checkpoint)
    probe.samples.append((wall, final_ckpt, final_other))  # the end counts too
    peak_ckpt = max(c for _, c, _ in probe.samples)
    peak_total = max(c + o for _, c, o in probe.samples)
    bound_ckpt = (args.keep_models + at_once) * one_ckpt
    rows = [
        ("trials (finished)", f"{len(results.trials)} ({results.counts().get('finished', 0)})"),
        ("trials at once", str(at_once)),
        ("trials with a model on disk at the end", str(kept)),
        ("one trial's checkpoints (median)", f"{one_ckpt / MB:.3f} MB"),
        ("one trial's logs (median)", f"{one_logs / MB:.3f} MB"),
        ("checkpoint bound (keep_models + at once) x one trial's",
         f"{bound_ckpt / MB:.2f} MB"),
        ("checkpoints, peak during the run / at the end",
         f"{peak_ckpt / MB:.2f} / {final_ckpt / MB:.2f} MB"),
        ("everything else (every trial's logs, Ray's state), at the end",
         f"{final_other / MB:.2f} MB"),
        ("storage, peak / at the end", f"{peak_total / MB:.2f} / "
                                       f"{(final_ckpt + final_other) / MB:.2f} MB"),
        ("bound + every trial's logs", f"{(bound_ckpt + final_other) / MB:.2f} MB"),
        ("without the bound (keep_models=None): N x one trial's checkpoints + logs",
         f"{(len(results.trials) * one_ckpt + final_other) / MB:.2f} MB"),
        ("wall time", f"{wall:.0f} s ({_benchdoc.load_note(before, after)})"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    verdict = "within" if peak_ckpt <= bound_ckpt else "ABOVE"
    print(f"peak checkpoints {verdict} the bound")
    if args.write:
        table = "\n".join(["| what | measured |", "|---|---:|",
                           *(f"| {n} | {v} |" for n, v in rows)])
        _benchdoc.write_section("Bounded disk", f"""`{_benchdoc.command_line('bench_disk.py')}`

Measured {_benchdoc.machine()}; seed {args.seed}; `uptime` load before -> after
{before:.2f} -> {after:.2f}.

{args.trials} trials of a tiny MLP (digits, 300 samples, 1 epoch) with
`keep_models={args.keep_models}`; the experiment folder sampled every second.

{table}

The peak of the checkpoints during the run is **{verdict} the bound** (keep_models + trials
at once) x one trial's checkpoints. Metrics, logs, TensorBoard events and Ray's state are
never deleted: they grow with the trials (the "everything else" row).
""")


if __name__ == "__main__":
    main()
