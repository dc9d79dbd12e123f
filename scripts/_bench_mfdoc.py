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
        factor = _factor(base, row)
        if base is not row and factor > 0:
            ratio = f"{factor:.1f}x fewer" if factor >= 1 else f"{1 / factor:.1f}x more"
        failed = f" ({row['failed']} failed)" if row.get("failed") else ""
        epochs = "missed" if math.isinf(row["epochs"]) else f"{row['epochs']:.0f}"
        lines.append(
            f"| {row['problem']} | {row['target']} | {row['method']} "
            f"| {row['reached']}/{row['runs']}{failed} | {epochs} | {ratio} "
            f"| {row['seconds']:.1f} | {row['spent']:.0f} | {row.get('seeds', '-')} "
            f"| {row['load'][0]:.1f}->{row['load'][1]:.1f} |")
    return "\n".join(lines) + "\n\n" + verdict(rows)


def _factor(base: dict[str, Any] | None, row: dict[str, Any]) -> float:
    """How many times fewer epochs than random/fifo (nan without a base or a result)."""
    if not base or math.isnan(row["epochs"]) or math.isnan(base["epochs"]) \
            or math.isinf(base["epochs"]):
        return math.nan
    return 0.0 if math.isinf(row["epochs"]) else base["epochs"] / row["epochs"]


def verdict(rows: list[dict[str, Any]]) -> str:
    """Issue 15's targets per problem, from the rows: every searcher x scheduler pair at least
    3x fewer epochs than random/fifo; the best pair fewer than Keras Tuner's Hyperband."""
    lines = []
    for problem in dict.fromkeys(r["problem"] for r in rows):
        mine = [r for r in rows if r["problem"] == problem]
        base = next((r for r in mine if r["method"] == "random/fifo"), None)
        kt = next((r for r in mine if r["method"].startswith("keras-tuner")), None)
        pairs = [r for r in mine if r is not base and r is not kt]
        if not base or not pairs:
            continue
        short = [f"{r['method']} " + (f"{_factor(base, r):.1f}x" if _factor(base, r) > 0
                                      else "missed") for r in pairs
                 if not _factor(base, r) >= 3]
        best = min(pairs, key=lambda r: r["epochs"])
        line = (f"- {problem}: every pair at least 3x fewer epochs than random/fifo: "
                + ("**met**" if not short else "**not met** (" + ", ".join(short) + ")"))
        if kt:
            won = best["epochs"] < kt["epochs"]
            line += (f"; best pair ({best['method']}, {best['epochs']:.0f}) fewer than "
                     f"keras-tuner/hyperband ({kt['epochs']:.0f}): "
                     + ("**met**" if won else "**not met**"))
        lines.append(line + ".")
    return "Targets (issue 15), computed from the rows:\n\n" + "\n".join(lines)


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
        # a missed target has no bar (its row says "missed")
        axis.barh([r["method"] for r in mine],
                  [r["epochs"] if math.isfinite(r["epochs"]) else 0 for r in mine])
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
first trial that finished its full budget with a value at least as good as the target,
median over the seeds with a run that missed the target counted as infinite ("missed" when
more than half missed);
*reached* counts the seeds that got there within the trial budget; *epochs spent* is the
run's total (a run stops as soon as the target is reached).

What limits the figures: the synthetic "epochs" are a function evaluation plus a short
sleep, so wall time is mostly Ray's per-trial and per-report overhead (and HyperBand's
pause/resume through checkpoints), not training; Keras Tuner's oracle runs in-process with
no such overhead. `bayesopt` is the package's default: it fits its model per epoch rung
(BOHB's rule) and draws a third of its proposals at random once it sees trials stopped early;
`bayesopt-rf0` never draws at random, `bayesopt-rf` always a third (BOHB's
`random_fraction`); `bayesopt-last` learns from each trial's last value, whatever its
fidelity. Load averages are in the table.
"""
    _benchdoc.write_section("Early stopping (multi-fidelity)", body)
    print(f"wrote {_benchdoc.DOC}")
