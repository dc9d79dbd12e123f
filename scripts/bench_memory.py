"""Memory benchmark: 4 trials at once on a ~500 MB training set; is the data held once?

``rth.Tuner`` passes the data through ``tune.with_parameters``: one copy goes into Ray's
object store and each worker maps it read-only (zero-copy numpy views). This measures what
the workers really hold while they train, by polling every trial worker's memory with psutil:

* ``RSS`` counts the shared object-store pages a worker has touched;
* ``USS`` is the worker's private memory: a private copy of the data shows up here;
* the object store's own use is read from ``ray._private.internal_api.memory_summary``-free
  means: the growth of ``/dev/shm`` (where Ray keeps it on Linux).

Each feeding is run twice, with the full data and with a tiny slice of it (same shapes), so
``private copies = (sum of peak USS, full - sum of peak USS, tiny) / data size``. Feedings:

* ``numpy``: ``tuner.search(x, y)`` as a user writes it. The default: arrays of at least
  ``Tuner(shared_arrays_mb=32)`` are fed batch by batch from the shared copy
  (``raytune_hpt/feeding.py``); the threshold is set to 0 here so that the tiny baseline
  takes the same path;
* ``numpy, arrays``: the same with ``shared_arrays_mb=None``: the arrays go to Keras's
  array data adapter (the behaviour before ``feeding.py``);
* ``pydataset``: a ``HyperModel.fit`` that hands Keras a ``keras.utils.PyDataset`` whose
  batches are slices of the shared read-only array (a user's own way around the copy).

Usage:
    python scripts/bench_memory.py [--mb 500] [--trials 4] [--epochs 1] [--write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _benchdoc  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FEATURES = 1000
FEEDINGS = ["numpy", "numpy, arrays", "pydataset"]
MB = 1 << 20


class WorkerMemory:
    """Polls the memory of this driver's Ray workers (``ray::`` processes, idle ones excluded)."""

    def __init__(self, interval: float = 0.3) -> None:
        self.interval = interval
        self.peak: dict[int, dict[str, float]] = {}
        self.titles: dict[int, str] = {}
        self.peak_sum_uss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _workers(self) -> list[Any]:
        """This driver's trial workers: Ray started here, so they descend from this process."""
        import psutil

        found = []
        for process in psutil.Process(os.getpid()).children(recursive=True):
            try:
                title = " ".join(process.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if title.startswith("ray::") and "IDLE" not in title:
                self.titles[process.pid] = title[:60]
                found.append(process)
        return found

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total_uss = 0.0
            for process in self._workers():
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                peak = self.peak.setdefault(process.pid, {"rss": 0.0, "uss": 0.0, "pss": 0.0})
                for key in peak:
                    peak[key] = max(peak[key], getattr(info, key, 0.0) / MB)
                total_uss += info.uss / MB
            self.peak_sum_uss = max(self.peak_sum_uss, total_uss)
            self._stop.wait(self.interval)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def summed(self, key: str) -> float:
        return sum(p[key] for p in self.peak.values())


def shm_used_mb() -> float:
    return shutil.disk_usage("/dev/shm").used / MB if os.path.isdir("/dev/shm") else float("nan")


def build_model(hp: Any) -> Any:
    import keras

    model = keras.Sequential([keras.Input((FEATURES,)),
                              keras.layers.Dense(hp.Int("units", 4, 16, step=4), "relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                  loss="mse")
    return model


def make_pydataset_hypermodel() -> Any:
    """Feeds Keras batches that are slices (views) of the shared read-only arrays."""
    import keras

    import raytune_hpt as rth

    class SharedArrayBatches(keras.utils.PyDataset):
        def __init__(self, x: Any, y: Any, batch_size: int) -> None:
            super().__init__()
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self) -> int:
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, index: int) -> tuple[Any, Any]:
            part = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.x[part], self.y[part]

    class PyDatasetHyperModel(rth.HyperModel):
        def build(self, hp: Any) -> Any:
            return build_model(hp)

        def fit(self, hp: Any, model: Any, x: Any, y: Any, *, batch_size: int = 1024,
                **kwargs: Any) -> Any:
            return model.fit(SharedArrayBatches(x, y, batch_size), **kwargs)

    return PyDatasetHyperModel(name="memory")


def run(feeding: str, x: Any, y: Any, trials: int, epochs: int, storage: str) -> dict[str, Any]:
    import raytune_hpt as rth

    hypermodel = make_pydataset_hypermodel() if feeding == "pydataset" else build_model
    tuner = rth.Tuner(hypermodel, objective="loss", max_trials=trials, resources={"cpu": 1},
                      storage_path=storage, name=f"memory-{feeding.replace(', ', '-')}-{len(x)}",
                      seed=0, verbose=0, overwrite=True, tracking={"tensorboard": False},
                      shared_arrays_mb=None if feeding == "numpy, arrays" else 0)
    shm_before, load_before = shm_used_mb(), _benchdoc.load()
    start = time.perf_counter()
    with WorkerMemory() as memory:
        results = tuner.search(x, y, epochs=epochs, batch_size=1024)
    seconds = time.perf_counter() - start
    failed = sum(1 for r in tuner.results if r.error is not None)
    # only the workers that ran a trial (each trial reports its pid); Ray may start others
    pids = {r.metrics.get("pid") for r in tuner.results if r.metrics}
    memory.peak = {pid: peak for pid, peak in memory.peak.items() if pid in pids}
    return {"feeding": feeding, "rows": len(x), "data_mb": (x.nbytes + y.nbytes) / MB,
            "workers": len(memory.peak), "rss": memory.summed("rss"),
            "uss": memory.summed("uss"), "pss": memory.summed("pss"),
            "peak_sum_uss": memory.peak_sum_uss,
            "max_rss": max((p["rss"] for p in memory.peak.values()), default=0.0),
            "shm_mb": shm_used_mb() - shm_before, "seconds": seconds, "failed": failed,
            "trials": len(results.trials), "load": (load_before, _benchdoc.load())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=500, help="size of the training set")
    parser.add_argument("--trials", type=int, default=4, help="trials, all running at once")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--feedings", nargs="*", default=FEEDINGS, choices=FEEDINGS)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()

    import numpy as np
    import ray

    rows = int(args.mb * MB / (4 * (FEATURES + 1)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    y = (x[:, :10].sum(axis=1, keepdims=True) > 0).astype(np.float32)
    data_mb = (x.nbytes + y.nbytes) / MB
    print(f"training set: {x.shape} float32 + labels = {data_mb:.0f} MB", flush=True)
    ray.init(num_cpus=args.trials, object_store_memory=int(max(4 * data_mb, 1024) * MB),
             include_dashboard=False, log_to_driver=False, configure_logging=False)
    storage = tempfile.mkdtemp(prefix="bench-memory-")
    results = []
    try:
        # an unreported first run, so that no feeding pays for Ray's first worker start-up
        run(args.feedings[0], x[:2048], y[:2048], args.trials, args.epochs, storage)
        for feeding in args.feedings:
            for size in ("tiny", "full"):
                xs, ys = (x[:2048], y[:2048]) if size == "tiny" else (x, y)
                row = run(feeding, xs, ys, args.trials, args.epochs, storage)
                row["size"] = size
                results.append(row)
                print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()},
                      flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)

    lines = [
        f"{args.trials} trials at once, {args.epochs} epoch(s), batch 1024, training set "
        f"{x.shape[0]} x {FEATURES} float32 = {data_mb:.0f} MB; sums over the trial workers "
        "of each worker's peak (MB).",
        "",
        "| feeding | data | workers | sum peak RSS | sum peak USS | sum peak PSS | object store "
        "growth | private copies of the data | wall (s) | load before->after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results:
        tiny = next(r for r in results if r["feeding"] == row["feeding"] and r["size"] == "tiny")
        copies = ((row["uss"] - tiny["uss"]) / data_mb) if row["size"] == "full" else 0.0
        lines.append(
            f"| {row['feeding']} | {row['size']} ({row['data_mb']:.0f} MB) | {row['workers']} "
            f"| {row['rss']:.0f} | {row['uss']:.0f} | {row['pss']:.0f} | {row['shm_mb']:.0f} "
            f"| {copies:.2f} | {row['seconds']:.0f} "
            f"| {_benchdoc.load_note(*row['load']).removeprefix('load ')} |")
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write(results, data_mb, text)


def write(results: list[dict[str, Any]], data_mb: float, text: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.5))
    labels = [f"{r['feeding']}\n{r['size']}" for r in results]
    axis.bar(labels, [r["uss"] for r in results], label="sum of workers' peak USS (private)")
    axis.bar(labels, [r["shm_mb"] for r in results], bottom=[r["uss"] for r in results],
             label="object store growth (shared)", alpha=0.6)
    axis.set_ylabel("MB")
    axis.legend(fontsize=8)
    axis.set_title(f"{results[0]['workers']} trial workers on {data_mb:.0f} MB of data")
    figure.tight_layout()
    figure.savefig(_benchdoc.plot_path("memory.png"), dpi=100)
    body = f"""`{_benchdoc.command_line("bench_memory.py")}`

Measured {_benchdoc.machine()}.

{text}

![memory](img/memory.png)

How to read it: *USS* is memory private to a worker, *RSS* also counts the object-store pages
it maps, *PSS* splits shared pages between the processes that map them. The data is held
once when the full run's summed USS is the tiny run's plus (nearly) nothing: *private copies*
is that difference over the data size. The object-store growth is the growth of `/dev/shm`
during the run (the driver's copy is put there once by `tune.with_parameters`).

Feedings: *numpy* is `tuner.search(x, y)` as a user writes it; by default arrays of at least
`Tuner(shared_arrays_mb=32)` MB are handed to Keras batch by batch, each batch gathered from
the shared read-only copy in the object store (`raytune_hpt/feeding.py`; the threshold is 0
in this run so the tiny baseline takes the same path). *numpy, arrays* is the same search with
`shared_arrays_mb=None`, the behaviour before `feeding.py`: Keras's `ArrayDataAdapter`
(`keras/src/trainers/data_adapters/array_data_adapter.py`, `get_tf_dataset`) converts the
whole array to a TensorFlow tensor (a copy: the object-store array is read-only and
TensorFlow owns its buffers) and slices batches out of it, so every worker holds its own
copy. *pydataset* is a user's own `HyperModel.fit` feeding a `keras.utils.PyDataset` of
slices, the work-around before `feeding.py`.

What limits the figures: psutil polls every 0.3 s, so a short-lived peak between two polls
can be missed; USS/PSS need `/proc/<pid>/smaps` (Linux). `/dev/shm` is shared with any other
Ray session on the machine, so its growth is only indicative. Wall times were taken on a shared
machine (load averages in the table).
"""
    _benchdoc.write_section("Memory", body)
    print(f"wrote {_benchdoc.DOC}")


if __name__ == "__main__":
    main()
