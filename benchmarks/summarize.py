"""Tables and plots from ``runs.csv``: ``python benchmarks/summarize.py [runs.csv]``.

Writes ``summary.md`` and ``plots/<dataset>.png`` next to the CSV.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASELINES = ["kbins-uniform", "kbins-quantile", "kbins-kmeans", "lsq"]
# The estimator's defaults; results made before "bsq-default" existed have
# "bsq-levels", the default representation then.
PRIMARY, EARLIER_PRIMARY = "bsq-default", "bsq-levels"
# The default with every feature at the same width (allocation="uniform"), the
# default before allocation="auto"; its runs up to 4 bits were bsq-default's then.
FORMER_PRIMARY = "bsq-uniform"
TOLERANCE = 0.01  # "within 1 % (relative) of full precision"


def higher_is_better(metric: str) -> bool:
    return metric == "accuracy"


def within_tolerance(score: float, reference: float, metric: str) -> bool:
    if higher_is_better(metric):
        return score >= reference * (1 - TOLERANCE)
    return score <= reference * (1 + TOLERANCE)


def relative_loss(score: float, reference: float, metric: str) -> float:
    """Relative loss against the reference (float32): (score - reference) /
    reference for MSE, (reference - score) / reference for accuracy; lower is
    better, negative beats the reference."""
    gap = reference - score if higher_is_better(metric) else score - reference
    return gap / abs(reference)


def better(a: float, b: float, metric: str) -> bool:
    return a > b if higher_is_better(metric) else a < b


def aggregate(runs: pd.DataFrame) -> pd.DataFrame:
    return (
        runs.groupby(["dataset", "metric", "method", "bits"])
        .agg(
            mean=("score", "mean"),
            std=("score", "std"),
            seeds=("seed", "nunique"),
            entropy=("code_entropy_bits", "mean"),
            bytes=("bytes_per_row", "first"),
            seconds=("fit_seconds", "mean"),
        )
        .reset_index()
    )


def score_table(agg: pd.DataFrame, methods, bits_list) -> str:
    lines = []
    for (dataset, metric), part in agg.groupby(["dataset", "metric"], sort=True):
        fp = part[part.method == "float32"]
        fp_text = f"{fp['mean'].iloc[0]:.4f}" if len(fp) else "n/a"
        lines.append(f"\n### {dataset} ({metric}, float32 = {fp_text})\n")
        lines.append("| method | " + " | ".join(f"{b} bit" for b in bits_list) + " |")
        lines.append("|---" * (len(bits_list) + 1) + "|")
        for method in methods:
            cells = []
            for b in bits_list:
                row = part[(part.method == method) & (part.bits == b)]
                if len(row):
                    std = np.nan_to_num(row["std"].iloc[0])
                    cells.append(f"{row['mean'].iloc[0]:.4f} ± {std:.4f}")
                else:
                    cells.append("")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(agg: pd.DataFrame, primary: str) -> tuple[str, dict]:
    lines, counts = [], {"at4": 0, "at2": 0, "n": 0}
    lines.append(
        "| dataset | metric | float32 | smallest width within 1 % | "
        f"compression there | {primary} at 4 bit within 1 % | "
        f"{primary} at 2 bit beats every baseline |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for (dataset, metric), part in agg.groupby(["dataset", "metric"], sort=True):
        fp = part[part.method == "float32"]
        mine = part[part.method == primary].sort_values("bits")
        if not len(fp) or not len(mine):
            continue
        counts["n"] += 1
        reference = fp["mean"].iloc[0]
        fp_bytes = fp["bytes"].iloc[0]
        smallest, ratio = "none", ""
        for _, row in mine.iterrows():
            if within_tolerance(row["mean"], reference, metric):
                smallest = f"{int(row['bits'])} bit"
                ratio = f"{fp_bytes / row['bytes']:.1f}x"
                break
        at4 = mine[mine.bits == 4]
        ok4 = bool(len(at4)) and within_tolerance(
            at4["mean"].iloc[0], reference, metric
        )
        at2 = mine[mine.bits == 2]
        base2 = part[(part.bits == 2) & part.method.isin(BASELINES)]
        ok2 = (
            bool(len(at2))
            and len(base2) == len(BASELINES)
            and all(better(at2["mean"].iloc[0], b, metric) for b in base2["mean"])
        )
        counts["at4"] += ok4
        counts["at2"] += ok2
        lines.append(
            f"| {dataset} | {metric} | {reference:.4f} | {smallest} | {ratio} | "
            f"{'yes' if ok4 else 'no'} | {'yes' if ok2 else 'no'} |"
        )
    return "\n".join(lines), counts


def relative_gap_table(agg: pd.DataFrame, methods, bits_list) -> str:
    """Median over datasets of the relative loss against float32, per method and width.

    Accuracy: (float32 - score) / float32; MSE: (score - float32) / float32. Lower is
    better; negative means better than float32.
    """
    gaps = {}
    for (_dataset, metric), part in agg.groupby(["dataset", "metric"]):
        fp = part[part.method == "float32"]
        if not len(fp):
            continue
        ref = fp["mean"].iloc[0]
        for _, row in part[part.method != "float32"].iterrows():
            gap = relative_loss(row["mean"], ref, metric)
            gaps.setdefault((row["method"], row["bits"]), []).append(gap)
    lines = [
        "| method | " + " | ".join(f"{b} bit" for b in bits_list) + " |",
        "|---" * (len(bits_list) + 1) + "|",
    ]
    for method in methods:
        cells = []
        for b in bits_list:
            values = gaps.get((method, b), [])
            cells.append(f"{100 * np.median(values):+.1f} %" if values else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def entropy_table(agg: pd.DataFrame, primary: str, bits_list) -> str:
    mine = agg[agg.method == primary]
    lines = [
        "| dataset | " + " | ".join(f"{b} bit" for b in bits_list) + " |",
        "|---" * (len(bits_list) + 1) + "|",
    ]
    for dataset, part in mine.groupby("dataset"):
        cells = []
        for b in bits_list:
            row = part[part.bits == b]
            cells.append(f"{row['entropy'].iloc[0]:.2f}" if len(row) else "")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(agg: pd.DataFrame, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for (dataset, metric), part in agg.groupby(["dataset", "metric"]):
        fig, ax = plt.subplots(figsize=(6, 4))
        for method, rows in part[part.method != "float32"].groupby("method"):
            rows = rows.sort_values("bits")
            style = "-o" if method.startswith("bsq") else "--s"
            ax.errorbar(
                rows.bits,
                rows["mean"],
                yerr=rows["std"].fillna(0),
                fmt=style,
                ms=4,
                capsize=2,
                label=method,
            )
        fp = part[part.method == "float32"]
        if len(fp):
            ax.axhline(fp["mean"].iloc[0], color="black", lw=1, label="float32")
        ax.set_xlabel("bits per feature")
        ax.set_ylabel(
            "test accuracy" if metric == "accuracy" else "test MSE (std. target)"
        )
        ax.set_title(dataset)
        ax.set_xticks(sorted(part[part.method != "float32"].bits.unique()))
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(folder / f"{dataset}.png", dpi=90)
        plt.close(fig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runs_path = Path(
        argv[0] if argv else Path(__file__).parent / "results" / "runs.csv"
    )
    runs = pd.read_csv(runs_path)
    primary = PRIMARY if PRIMARY in set(runs.method) else EARLIER_PRIMARY
    primary = argv[1] if len(argv) > 1 else primary
    agg = aggregate(runs)
    bits_list = sorted(b for b in agg.bits.unique() if b != 32)
    methods = [
        m
        for m in [
            "float32",
            *BASELINES,
            "bsq-thermometer",
            "bsq-bits",
            "bsq-levels",
            "bsq-embedding",
            "bsq-levels+thermometer",
            FORMER_PRIMARY,
            "bsq-default",
        ]
        if m in set(agg.method) and m != "float32"
    ]
    target_text, counts = targets(agg, primary)
    former = ""
    if FORMER_PRIMARY in methods and primary != FORMER_PRIMARY:
        _, earlier = targets(agg, FORMER_PRIMARY)
        former = (
            f" The same targets for {FORMER_PRIMARY} (every feature at the width, "
            f'the default before allocation="auto"): {earlier["at4"]} and '
            f"{earlier['at2']} of {earlier['n']}."
        )
    text = [
        "# Benchmark summary",
        f"\nGenerated from `{runs_path.name}` ({len(runs)} runs, seeds "
        f"{sorted(runs.seed.unique().tolist())}). Scores are mean ± std over seeds; "
        "accuracy is higher-is-better, MSE (standardized target) lower-is-better.",
        f"\n## Targets ({primary})\n",
        target_text,
        f"\nWithin 1 % of float32 at 4 bits: {counts['at4']} of {counts['n']} "
        f"datasets. Better than every baseline at 2 bits: {counts['at2']} of "
        f"{counts['n']}." + former,
        f"\n## Empirical entropy of the transmitted codes ({primary}, "
        "bits per feature)\n",
        entropy_table(agg, primary, bits_list),
        "\n## Median relative loss against float32 (lower is better)\n",
        relative_gap_table(agg, methods, bits_list),
        "\n## Scores per dataset\n",
        score_table(agg, methods, bits_list),
        "",
    ]
    (runs_path.parent / "summary.md").write_text("\n".join(text))
    plot(agg, runs_path.parent / "plots")
    print("\n".join(text[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
