"""The statistics of bench_search.py's table, fixed before the runs they judge.

The rule (written down before the seeds 200..209 were run):

* a row is one problem at one budget; each searcher has one simple regret per seed (the
  same seeds for every searcher, so the runs pair up by seed; grid, deterministic, has one
  run whose regret stands for every seed);
* the row's best is the searcher with the lowest median regret;
* another searcher is *tied* with it unless a one-sided Wilcoxon signed-rank test over the
  seeds (``scipy.stats.wilcoxon(theirs, best, alternative="greater")``, zero differences
  dropped, exact p-value) says its regret is greater at the 0.05 level; a searcher whose
  regrets equal the best's on every seed is tied;
* each searcher's count is the number of rows where it is best or tied, and its mean rank
  is the mean over rows of its rank by median (1 is best; equal medians at 3 significant
  digits share the mean of their ranks).

With 10 seeds the smallest one-sided p-value the test can give is 1/1024; when only four or
fewer seeds differ it cannot reach 0.05 (1/16 at best), so such searchers count as tied.
"""

from __future__ import annotations

import statistics

ALPHA = 0.05


def _paired(a: list[float], b: list[float]) -> tuple[list[float], list[float]]:
    if len(a) == 1 and len(b) > 1:
        a = a * len(b)
    if len(b) == 1 and len(a) > 1:
        b = b * len(a)
    n = min(len(a), len(b))
    return a[:n], b[:n]


def worse_p(theirs: list[float], best: list[float]) -> float:
    """One-sided p-value that ``theirs`` is greater than ``best`` (paired by seed)."""
    from scipy.stats import wilcoxon

    x, y = _paired(theirs, best)
    if all(a == b for a, b in zip(x, y, strict=True)):
        return 1.0
    return float(wilcoxon(x, y, alternative="greater", zero_method="wilcox").pvalue)


def rounded_median(values: list[float]) -> float:
    return float(f"{statistics.median(values):.3g}")


def judge_row(by_searcher: dict[str, list[float]]) -> tuple[str, dict[str, float], dict]:
    """(the best searcher, its p-values against each other, ranks by median)."""
    med = {n: rounded_median(v) for n, v in by_searcher.items()}
    best = min(med, key=lambda n: (med[n], statistics.mean(by_searcher[n])))
    p = {n: 1.0 if n == best else worse_p(v, by_searcher[best])
         for n, v in by_searcher.items()}
    order = sorted(med.values())
    ranks = {}
    for n, m in med.items():
        first = order.index(m) + 1
        last = len(order) - order[::-1].index(m)
        ranks[n] = (first + last) / 2
    return best, p, ranks


def summary(rows: list[tuple[str, dict[str, list[float]]]], names: list[str]) -> str:
    """A markdown table: rows best-or-tied, rows alone best, mean rank, rows worse than random."""
    tied = dict.fromkeys(names, 0)
    alone = dict.fromkeys(names, 0)
    rank_sum = dict.fromkeys(names, 0.0)
    rows_in = dict.fromkeys(names, 0)
    below_random = dict.fromkeys(names, 0)
    for _, by_searcher in rows:
        best, p, ranks = judge_row(by_searcher)
        for n in by_searcher:
            tied[n] += p[n] >= ALPHA
            rank_sum[n] += ranks[n]
            rows_in[n] += 1
        others = [n for n in by_searcher if n != best]
        if all(p[n] < ALPHA for n in others):
            alone[best] += 1
        if "random" in by_searcher:
            for n, v in by_searcher.items():
                if n != "random" and worse_p(v, by_searcher["random"]) < ALPHA:
                    below_random[n] += 1
    lines = ["| searcher | rows best or tied | rows best alone | mean rank | "
             "rows worse than random |", "|---|---|---|---|---|"]
    for n in sorted(names, key=lambda n: (-tied[n], rank_sum[n] / max(rows_in[n], 1))):
        if rows_in[n]:
            lines.append(f"| {n} | {tied[n]} of {rows_in[n]} | {alone[n]} | "
                         f"{rank_sum[n] / rows_in[n]:.2f} | "
                         f"{'-' if n == 'random' else below_random[n]} |")
    return "\n".join(lines)
