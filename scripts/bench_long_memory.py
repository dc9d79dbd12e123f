"""Flat memory: the driver's and every trial worker's memory over a long search (issue 33, 5).

N trials (default 500) of a small Keras MLP (digits, 300 samples, 1 epoch) on 2 CPUs
(``ray.init(num_cpus=2)`` in this process, so Ray's raylet and its workers are this
process's descendants). A thread samples every ``--interval`` seconds:

* the driver's resident memory (``VmRSS`` of this process);
* the resident memory of every Ray worker process under this process (a ``ray::`` command
  line; idle pooled workers, ``ray::IDLE``, are left out), by PID;
* the number of trials started so far (trial folders with ``params.json``, written by the
  driver when a trial starts; Ray flushes ``result.json`` in batches, too coarse a clock).

It writes every sample to a CSV (``time_s, trials, process, pid, title, rss_mb``) and a plot of
memory over trials (PNG with matplotlib, else an SVG written by hand), and prints the growth:
the driver's median RSS while the last 50 trials started minus its median while the
first 50 did, and the same for each worker that ran in both windows (a worker that did not
live through both: its last fifth of samples minus its first fifth, marked "own life").
Targets (issue 33): driver <= +100 MB, a worker <= +200 MB. ``/proc`` is read directly
(Linux), so psutil is not needed.

Usage:
    python scripts/bench_long_memory.py [--trials 500] [--interval 2] [--out DIR] [--write]
"""

from __future__ import annotations

import argparse
import csv
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
WINDOW = 50  # trials at the start and at the end compared
TARGETS = {"driver": 100.0, "worker": 200.0}  # MB of growth at most


def small_mlp(hp):
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 16, 128, step=16), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-1, sampling="log")),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# -- /proc ---------------------------------------------------------------------------------
def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _children() -> dict[int, list[int]]:
    """Parent PID -> child PIDs of every process on the machine."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                parent = int(file.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(parent, []).append(int(entry))
    return tree


def ray_workers(root: int) -> dict[int, str]:
    """PID -> title of the busy Ray workers descended from ``root``."""
    tree, found, stack = _children(), {}, [root]
    while stack:
        for child in tree.get(stack.pop(), []):
            stack.append(child)
            try:
                with open(f"/proc/{child}/cmdline", "rb") as file:
                    title = file.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith("ray::") and not title.startswith("ray::IDLE"):
                found[child] = title
    return found


# -- sampling ------------------------------------------------------------------------------
class MemoryProbe:
    """Samples ``(time_s, trials, process, pid, title, rss_mb)`` every ``interval`` s."""

    def __init__(self, experiment: Path, interval: float) -> None:
        self.experiment, self.interval = experiment, interval
        self.rows: list[tuple[float, int, str, int, str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def trials_started(self) -> int:
        return sum(1 for _ in self.experiment.glob("*/params.json"))

    def sample(self) -> None:
        now, done = round(time.monotonic() - self._start, 2), self.trials_started()
        me = os.getpid()
        self.rows.append((now, done, "driver", me, "driver", round(rss_mb(me) or 0.0, 1)))
        for pid, title in ray_workers(me).items():
            rss = rss_mb(pid)
            if rss is not None:
                self.rows.append((now, done, "worker", pid, title, round(rss, 1)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemoryProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# -- growth --------------------------------------------------------------------------------
def growth(rows: list[tuple], trials: int) -> list[dict]:
    """Per process: median RSS over the last ``WINDOW`` trials minus over the first."""
    window = min(WINDOW, max(1, trials // 3))
    by_pid: dict[tuple[str, int], list[tuple[int, float]]] = {}
    titles = {}
    for _, done, kind, pid, title, rss in rows:
        by_pid.setdefault((kind, pid), []).append((done, rss))
        titles[pid] = title
    out = []
    for (kind, pid), samples in sorted(by_pid.items()):
        # a worker's first trial is its TensorFlow import and first build: from its 2nd on
        first_done = samples[0][0]
        # the driver from the first trial reported on (before it, Ray and TensorFlow start)
        start = first_done if kind == "worker" else 0
        early = [r for d, r in samples if start < d <= window]
        late = [r for d, r in samples if d >= trials - window]
        how = f"first {window} vs last {window} trials"
        if len(early) < 2 or len(late) < 2:
            if len(samples) < 10:
                continue  # too short-lived to say anything
            fifth = max(2, len(samples) // 5)
            early, late = [r for _, r in samples[:fifth]], [r for _, r in samples[-fifth:]]
            how = "own life, first vs last fifth"
        delta = statistics.median(late) - statistics.median(early)
        out.append({"process": kind, "pid": pid, "title": titles[pid],
                    "start_mb": statistics.median(early), "end_mb": statistics.median(late),
                    "growth_mb": delta, "how": how,
                    "ok": delta <= TARGETS[kind]})
    return out


# -- plot ----------------------------------------------------------------------------------
def plot(rows: list, path: Path) -> Path:
    """RSS over trials done, one line per process: PNG with matplotlib, else SVG."""
    series: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for _, done, kind, pid, _, rss in rows:
        series.setdefault((kind, pid), []).append((done, rss))
    plt = _benchdoc.pyplot()
    if plt is not None:
        figure, axis = plt.subplots(figsize=(8, 4.5))
        for (kind, pid), points in sorted(series.items()):
            axis.plot(*zip(*points, strict=True), linewidth=2.0 if kind == "driver" else 0.8,
                      color="black" if kind == "driver" else None,
                      label="driver" if kind == "driver" else f"worker {pid}")
        axis.set_xlabel("trials started")
        axis.set_ylabel("RSS (MB)")
        axis.set_title("Memory over a long search")
        axis.legend(fontsize=7, loc="upper left", ncol=2)
        figure.tight_layout()
        png = path.with_suffix(".png")
        figure.savefig(png, dpi=110)
        return png
    return _svg(series, path.with_suffix(".svg"))


def _svg(series: dict, path: Path) -> Path:
    width, height, pad = 800, 450, 50
    points = [p for s in series.values() for p in s]
    xmax = max(d for d, _ in points) or 1
    ymax = max(r for _, r in points) or 1
    lines = []
    for (kind, _), values in sorted(series.items()):
        coords = " ".join(f"{pad + d / xmax * (width - 2 * pad):.1f},"
                          f"{height - pad - r / ymax * (height - 2 * pad):.1f}"
                          for d, r in values)
        colour = "black" if kind == "driver" else "steelblue"
        lines.append(f'<polyline fill="none" stroke="{colour}" points="{coords}"/>')
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<text x="{pad}" y="20">RSS (MB, max {ymax:.0f}) '
        f'(max {xmax}) over trials started; black: driver</text>{"".join(lines)}</svg>')
    return path


# -- run -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for the CSV and the plot")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()

    import ray
    from sklearn.datasets import load_digits

    import raytune_hpt as rth

    digits = load_digits()
    x, y = (digits.data / 16.0).astype("float32"), digits.target.astype("int64")
    storage = Path(tempfile.mkdtemp(prefix="rth-memory-"))
    out = Path(args.out) if args.out else storage
    out.mkdir(parents=True, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    before, started = _benchdoc.load(), time.monotonic()
    with MemoryProbe(storage / "memory", args.interval) as probe:
        tuner = rth.Tuner(small_mlp, objective="val_accuracy", max_trials=args.trials,
                          storage_path=str(storage), name="memory", seed=args.seed,
                          verbose=0)
        results = tuner.search(x[:300], y[:300], validation_data=(x[1500:], y[1500:]),
                               epochs=1, batch_size=32)
    wall, after = time.monotonic() - started, _benchdoc.load()
    ray.shutdown()
    with open(out / "memory.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["time_s", "trials", "process", "pid", "title", "rss_mb"])
        writer.writerows(probe.rows)
    picture = plot(probe.rows, (_benchdoc.plot_path("long_memory") if args.write
                                else out / "long_memory"))
    table = growth(probe.rows, len(results.trials))
    lines = ["| process | pid | title | start (MB) | end (MB) | growth (MB) | compared | target |",
             "|---|---:|---|---:|---:|---:|---|---|"]
    for g in table:
        lines.append(f"| {g['process']} | {g['pid']} | {g['title'][:30]} | "
                     f"{g['start_mb']:.0f} | {g['end_mb']:.0f} | {g['growth_mb']:+.1f} | "
                     f"{g['how']} | "
                     f"{'met' if g['ok'] else 'NOT met'} (<= +{TARGETS[g['process']]:.0f}) |")
    summary = (f"{len(results.trials)} trials ({results.counts()}), {wall:.0f} s, "
               f"{_benchdoc.load_note(before, after)}; samples: {out / 'memory.csv'}; "
               f"plot: {picture}")
    print("\n".join(lines))
    print(summary)
    if args.write:
        command = _benchdoc.command_line("bench_long_memory.py")
        _benchdoc.write_section("Flat memory", f"""`{command}`

Measured {_benchdoc.machine()}; seed {args.seed}; load before -> after {before:.2f} ->
{after:.2f}.

{args.trials} trials of a small MLP (digits, 300 samples, 1 epoch) on 2 CPUs; RSS sampled
every {args.interval:g} s. Growth: median RSS while the last {WINDOW} trials started minus
while the first {WINDOW} did (a worker from its second trial on).

{chr(10).join(lines)}

![memory over trials](img/{picture.name})
""")


if __name__ == "__main__":
    main()
