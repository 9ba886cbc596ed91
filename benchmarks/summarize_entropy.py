"""Summary of ``run_entropy.py``'s runs: message bits against v1 and the targets.

Usage::

    python benchmarks/summarize_entropy.py benchmarks/results/entropy/runs.csv

Writes ``summary.md`` beside the CSV. Per dataset, for the default model at 4 bits
(means over seeds): v1 bits per row, mean format v2 message bits on the test rows,
the cross-entropy of the test codes under the tables learned at fit, the saving
against v1, and whether ``message bits <= 1.05 x cross-entropy + 8``. Then the
rate-accuracy comparison, two ways: the curves (at the rate of every v2 point, the
best v2 model of at most that rate against the best v1 model of at most that
rate), and width by width (the v2 model at a width against every v1 model of no
more bits, its own lower widths included). ``rate_accuracy.png`` draws both
curves per dataset.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def read(path: Path) -> dict:
    """Runs grouped by (dataset, bits): lists of rows."""
    groups = defaultdict(list)
    with path.open() as f:
        for row in csv.DictReader(f):
            groups[row["dataset"], int(row["bits"])].append(row)
    return groups


def mean(rows, field) -> float:
    return float(np.mean([float(r[field]) for r in rows]))


def better(metric: str, a: float, b: float) -> bool:
    """``a`` at least as good as ``b``."""
    return a >= b if metric == "accuracy" else a <= b


def points(groups, dataset) -> tuple[str, dict]:
    """The metric and, per width, (v1 bits, v2 bits, mean score)."""
    widths = sorted(b for d, b in groups if d == dataset)
    metric = groups[dataset, widths[0]][0]["metric"]
    return metric, {
        b: (
            8 * mean(groups[dataset, b], "bytes_per_row"),
            mean(groups[dataset, b], "message_bits"),
            mean(groups[dataset, b], "score"),
        )
        for b in widths
    }


def best_within(metric: str, scores: list) -> float | None:
    if not scores:
        return None
    return max(scores) if metric == "accuracy" else min(scores)


def rate_accuracy(groups, dataset) -> tuple[list, bool, bool]:
    """Per width: (width, v1 bits, v2 bits, score, best v1 score within the
    v2 bits, holds); whether every width holds; whether the v2 curve is at
    least as good as the v1 curve at every v2 rate."""
    metric, by_width = points(groups, dataset)
    lines, widths_hold, curves_hold = [], True, True
    for b, (v1_bits, v2_bits, score) in by_width.items():
        best = best_within(
            metric, [s for v1, _, s in by_width.values() if v1 <= v2_bits]
        )
        holds = best is None or better(metric, score, best)
        widths_hold &= holds
        best_v2 = best_within(
            metric, [s for _, v2, s in by_width.values() if v2 <= v2_bits]
        )
        curves_hold &= best is None or better(metric, best_v2, best)
        lines.append((b, v1_bits, v2_bits, score, best, holds))
    return lines, widths_hold, curves_hold


def plot(groups, datasets, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 4
    rows = -(-len(datasets) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows))
    for ax, d in zip(axes.flat, datasets, strict=False):
        metric, by_width = points(groups, d)
        v1, v2, score = (np.array(v) for v in zip(*by_width.values(), strict=True))
        ax.plot(v1, score, "-o", ms=3, label="fixed width (v1)")
        order = np.argsort(v2)
        ax.plot(v2[order], score[order], "--s", ms=3, label="range-coded (v2)")
        ax.set_title(d, fontsize=9)
        ax.set_xlabel("bits per row", fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(datasets) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).parent / "results/entropy/runs.csv"
    groups = read(path)
    datasets = sorted({d for d, _ in groups})
    seeds = sorted({r["seed"] for rows in groups.values() for r in rows})
    out = [
        "# Format v2 (range-coded messages) against wire format v1",
        "",
        f"Generated from `{path.name}` by `python benchmarks/summarize_entropy.py`; "
        f"the runs: `python benchmarks/run_entropy.py` (default model, protocol of "
        f"run_accuracy.py, seeds {', '.join(seeds)}). Bits are per row, means over "
        "seeds, on the test rows.",
        "",
        "## At 4 bits",
        "",
        "| dataset | features | v1 bits | v2 bits | cross-entropy | saving | "
        "v2 <= 1.05 CE + 8 | sent as v1 | estimate at fit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    savings, bound_met = [], 0
    at4 = [d for d in datasets if (d, 4) in groups]
    for d in at4:
        rows = groups[d, 4]
        v1 = 8 * mean(rows, "bytes_per_row")
        v2 = mean(rows, "message_bits")
        ce = mean(rows, "cross_entropy_bits")
        ok = all(
            float(r["message_bits"]) <= 1.05 * float(r["cross_entropy_bits"]) + 8
            for r in rows
        )
        bound_met += ok
        savings.append(1 - v2 / v1)
        out.append(
            f"| {d} | {rows[0]['n_features']} | {v1:.0f} | {v2:.1f} | {ce:.1f} | "
            f"{100 * (1 - v2 / v1):.1f} % | {'yes' if ok else 'no'} | "
            f"{100 * mean(rows, 'v1_share'):.0f} % | "
            f"{mean(rows, 'estimated_message_bits'):.1f} |"
        )
    if at4:
        out += [
            "",
            f"Bound met (every seed) on {bound_met} of {len(at4)} datasets; median "
            f"saving against v1 {100 * float(np.median(savings)):.1f} %.",
        ]
    out += [
        "",
        "## Rate and accuracy",
        "",
        "At each width, the v2 model against the best fixed-width model whose v1 "
        "row costs no more than the v2 model's mean message bits (none: no "
        "fixed-width model is that cheap).",
        "",
        "| dataset | width | v1 bits | v2 bits | score | best v1 score within v2 bits "
        "| holds |",
        "|---|---|---|---|---|---|---|",
    ]
    holding = curves = 0
    for d in datasets:
        lines, all_hold, curve_holds = rate_accuracy(groups, d)
        holding += all_hold
        curves += curve_holds
        for b, v1, v2, score, best, holds in lines:
            rival = "none" if best is None else f"{best:.4f}"
            out.append(
                f"| {d} | {b} | {v1:.0f} | {v2:.1f} | {score:.4f} | {rival} | "
                f"{'yes' if holds else 'no'} |"
            )
    out += [
        "",
        f"The v2 curve at least as good as the v1 curve at every v2 rate: {curves} "
        f"of {len(datasets)} datasets (no v2 message is longer than its v1 row, so "
        "the best v2 model within a rate is never worse than the best v1 model "
        f"within it). Width by width: {holding} of {len(datasets)} datasets.",
        "",
    ]
    plot(groups, datasets, path.parent / "rate_accuracy.png")
    (path.parent / "summary.md").write_text("\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
