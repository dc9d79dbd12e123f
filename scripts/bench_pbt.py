"""Population-based training against full-budget random search on the learning-rate example.

Both run the bundled ``lr-decay`` model (``ExponentialDecay``: initial rate, decay rate,
staircase; an MLP on scikit-learn's digits, 20% held out, objective ``val_loss``) with the
same trial budget (``--trials`` trials of ``--epochs`` epochs, batch 32, one CPU each):

* ``random/fifo``: random search, every trial trains all its epochs; its result is the best
  ``val_loss`` any trial reached, known only once the whole budget is spent;
* ``random/pbt``: the same random starting population under ``scheduler="pbt"``
  (``--perturbation-interval`` epochs between exploits, ``quantile_fraction`` 0.25): the
  worst quarter continue from a best trial's checkpoint with perturbed values.

Reported per seed and as medians: the epochs PBT trained (every trial's reports, in the
order they were made) until its best ``val_loss`` so far was at least as good as the random
search's final best, against the random search's full budget.

Usage:
    python scripts/bench_pbt.py [--seeds 3] [--first-seed 0] [--trials 8] [--epochs 10]
        [--perturbation-interval 2] [--save F] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _benchdoc  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")


def run(method: str, seed: int, args: argparse.Namespace, storage: str) -> dict[str, Any]:
    """One search; its reports (epoch rows of every trial) in the order they were made."""
    import raytune_hpt as rth
    from raytune_hpt.examples.lr_decay import build_model
    from raytune_hpt.experiment import load_dataset

    x, y = load_dataset("digits")
    scheduler = ("fifo" if method == "random/fifo" else
                 {"type": "pbt", "perturbation_interval": args.perturbation_interval,
                  "quantile_fraction": 0.25})
    before = _benchdoc.load()
    tuner = rth.Tuner(build_model, objective="val_loss", searcher="random", scheduler=scheduler,
                      max_trials=args.trials, seed=seed, resources={"cpu": 1, "gpu": 0},
                      storage_path=storage, name=f"{method.replace('/', '-')}-{seed}",
                      verbose=0)
    results = tuner.search(x, y, validation_split=0.2, epochs=args.epochs, batch_size=32)
    rows = sorted((row for trial in results.trials for row in trial.history),
                  key=lambda row: row.get("tf_reported_at") or row.get("timestamp") or 0)
    losses = [float(row["val_loss"]) for row in rows]
    return {"method": method, "seed": seed, "val_loss": losses, "epochs": len(losses),
            "best": min(losses), "load": [before, _benchdoc.load()]}


def epochs_to(losses: list[float], target: float) -> int | None:
    """Epochs trained (reports in order) until the best so far is <= target."""
    for count, loss in enumerate(losses, start=1):
        if loss <= target:
            return count
    return None


def compare(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_seed: dict[int, dict[str, Any]] = {}
    for r in runs:
        by_seed.setdefault(r["seed"], {})[r["method"]] = r
    rows = []
    for seed, pair in sorted(by_seed.items()):
        random_run, pbt = pair["random/fifo"], pair["random/pbt"]
        target = random_run["best"]
        rows.append({
            "seed": seed, "target": target, "random_budget": random_run["epochs"],
            "random_to_own_best": epochs_to(random_run["val_loss"], target),
            "pbt_to_target": epochs_to(pbt["val_loss"], target), "pbt_best": pbt["best"],
            "pbt_epochs": pbt["epochs"],
            "load": f"{random_run['load'][0]:.1f}->{pbt['load'][1]:.1f}",
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| seed | random best val_loss (target) | random epochs (budget) | random epochs to "
             "its best | PBT epochs to target | PBT best val_loss | PBT epochs spent | load |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        reached = r["pbt_to_target"] if r["pbt_to_target"] is not None else "not reached"
        lines.append(f"| {r['seed']} | {r['target']:.4f} | {r['random_budget']} | "
                     f"{r['random_to_own_best']} | {reached} | {r['pbt_best']:.4f} | "
                     f"{r['pbt_epochs']} | {r['load']} |")
    reached = [r["pbt_to_target"] for r in rows if r["pbt_to_target"] is not None]
    budget = statistics.median(r["random_budget"] for r in rows)
    median = statistics.median(reached) if reached else None
    lines.append(f"| median | | {budget:g} | "
                 f"{statistics.median(r['random_to_own_best'] for r in rows):g} | "
                 f"{'-' if median is None else f'{median:g}'} "
                 f"({len(reached)}/{len(rows)} reached) | "
                 f"{statistics.median(r['pbt_best'] for r in rows):.4f} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--perturbation-interval", type=int, default=2)
    parser.add_argument("--save", help="write the raw runs to this JSON file")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--load", nargs="+", help="merge runs saved with --save; run nothing")
    args = parser.parse_args()

    runs = []
    for path in args.load or []:
        with open(path) as file:
            runs += json.load(file)
    with tempfile.TemporaryDirectory(prefix="bench-pbt-") as storage:
        for seed in range(args.first_seed, args.first_seed + args.seeds) if not args.load else ():
            for method in ("random/fifo", "random/pbt"):
                runs.append(run(method, seed, args, storage))
                print(f"seed {seed} {method}: best val_loss {runs[-1]['best']:.4f} in "
                      f"{runs[-1]['epochs']} epochs", flush=True)
    if args.save:
        with open(args.save, "w") as file:
            json.dump(runs, file)
    rows = compare(runs)
    text = table(rows)
    print(text)
    if args.write:
        _benchdoc.write_section("Population-based training", body(args, rows, text))


def body(args: argparse.Namespace, rows: list[dict[str, Any]], text: str) -> str:
    met = all(r["pbt_to_target"] is not None and r["pbt_to_target"] < r["random_budget"]
              for r in rows)
    better = sum(r["pbt_best"] < r["target"] for r in rows)
    return f"""`{_benchdoc.command_line("bench_pbt.py")}`

Measured {_benchdoc.machine()}; the `lr-decay` example's model and data (digits, 20% held
out, `val_loss`), {args.trials} trials x {args.epochs} epochs (batch 32, one CPU each, 2
trials at once), the same random starting population for both (`searcher="random"`, seed
per row); PBT with `perturbation_interval={args.perturbation_interval}`,
`quantile_fraction=0.25`, exploring every hyperparameter that can change during training
(here all three: initial rate, decay rate, staircase).

{text}

*Target*: the best `val_loss` the full-budget random search reached (any trial, any epoch).
*PBT epochs to target*: epochs PBT trained, counting every trial's reports in the order they
were made (exploited trials' earlier epochs included), until its best so far was at least as
good. *Random epochs to its best*: the same count for the random search itself, for
reference (it cannot know that value is its best until its budget is spent).

Verdict against the target (PBT reaches at least the best full-budget random result in
fewer epochs): **{"met" if met else "not met"}** on {len(rows)} seed(s); PBT's own best
`val_loss` was better than the random search's on {better} of {len(rows)}.
"""


if __name__ == "__main__":
    main()
