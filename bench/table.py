"""Summaries and tables shared by the benchmarks.

Machines here are shared and noisy, so every benchmark reports its figures
next to a baseline measured in the same run, and the ratio between them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Row:
    name: str
    values: list[float]
    unit: str = "ms"

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p90(self) -> float:
        return percentile(self.values, 0.9)


def print_table(title: str, rows: Sequence[Row], baseline: Row | None = None) -> str:
    """Print (and return) a table: name, n, median, p90, ratio of medians to the baseline."""
    header = f"{'':<50} {'n':>4} {'median':>10} {'p90':>10} {'x baseline':>11}"
    lines = [title, "=" * len(header), header, "-" * len(header)]
    for row in rows:
        ratio = ""
        if baseline is not None and baseline.median and row.values:
            ratio = f"{row.median / baseline.median:.2f}"
        lines.append(
            f"{row.name:<50} {len(row.values):>4} {row.median:>8.1f}{row.unit:>2} "
            f"{row.p90:>8.1f}{row.unit:>2} {ratio:>11}"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text
