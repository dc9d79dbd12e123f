"""Tables and plot of ``bench_multifidelity.py``: its rows as Markdown, its docs section."""

from __future__ import annotations

import argparse
import math
from typing import Any

import _benchdoc


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["| problem | target | method | reached | epochs to target (median) "
             "| vs random/fifo | wall to target (s) | epochs spent (median) | seeds | load |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        base = next((r for r in rows if r["problem"] == row["problem"]
                     and r["method"] == "random/fifo"), None)
        ratio = "-"
        if base and base is not row and row["epochs"] > 0 and not (
                math.isnan(row["epochs"]) or math.isnan(base["epochs"])):
            factor = base["epochs"] / row["epochs"]
            ratio = f"{factor:.1f}x fewer" if factor >= 1 else f"{1 / factor:.1f}x more"
        failed = f" ({row['failed']} failed)" if row.get("failed") else ""
        lines.append(
            f"| {row['problem']} | {row['target']} | {row['method']} "
            f"| {row['reached']}/{row['runs']}{failed} | {row['epochs']:.0f} | {ratio} "
            f"| {row['seconds']:.1f} | {row['spent']:.0f} | {row.get('seeds', '-')} "
            f"| {row['load'][0]:.1f}->{row['load'][1]:.1f} |")
    return "\n".join(lines)


def write(args: argparse.Namespace, rows: list[dict[str, Any]], text: str,
          commands: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = list(dict.fromkeys(r["problem"] for r in rows))
    figure, axes = plt.subplots(1, len(problems), figsize=(4.5 * len(problems), 3.5),
                                squeeze=False)
    for axis, problem in zip(axes[0], problems, strict=True):
        mine = [r for r in rows if r["problem"] == problem]
        axis.barh([r["method"] for r in mine], [r["epochs"] for r in mine])
        axis.set_title(problem)
        axis.set_xlabel("epochs to target (median)")
        axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(_benchdoc.plot_path("multifidelity.png"), dpi=100)
    runs = " and ".join(f"`{c}`" for c in commands if c) or \
        f"`{_benchdoc.command_line('bench_multifidelity.py')}`"
    body = f"""{runs}

Measured {_benchdoc.machine()} (written); {args.seeds} seeds per synthetic method,
{args.max_epochs} epochs (fidelity steps) at full budget, at most {args.trials} trials per run,
{args.epoch_seconds:g} s of sleep per synthetic epoch, {args.slots} logical CPU slots.

{text}

![multi-fidelity](img/multifidelity.png)

*Epochs to target*: epochs trained by all trials (in the order Ray received them) until the
first trial that finished its full budget with a value at least as good as the target;
*reached* counts the seeds that got there within the trial budget; *epochs spent* is the
run's total (a run stops as soon as the target is reached).

What limits the figures: the synthetic "epochs" are a function evaluation plus a short
sleep, so wall time is mostly Ray's per-trial and per-report overhead (and HyperBand's
pause/resume through checkpoints), not training; Keras Tuner's oracle runs in-process with
no such overhead. `bayesopt` fits its model per epoch rung (BOHB's rule) and draws no
proposal at random; `bayesopt-rf` draws a third at random (BOHB's `random_fraction`);
`bayesopt-last` is the same searcher learning from each trial's last value, whatever its
fidelity (the behaviour before). Load averages are in the table.
"""
    _benchdoc.write_section("Early stopping (multi-fidelity)", body)
    print(f"wrote {_benchdoc.DOC}")
