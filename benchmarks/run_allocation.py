"""Learned bit allocation against the uniform width, at equal bits per sample.

Usage (from the repository root)::

    python benchmarks/run_allocation.py           # 14 datasets x 3 seeds, resumes
    python benchmarks/run_allocation.py --quick   # smoke test
    python benchmarks/run_allocation.py --summary-only

Same protocol as ``run_accuracy.py`` (splits, MLP, budget, early stopping). Per
dataset and average width ``b`` (2 and 4 bits per feature): ``bsq-levels`` gives
every feature ``b`` bits; ``bsq-learned`` is ``SoftQuantizer(n_bits=b,
allocation="learned")`` (``n_bits="auto"`` with ``bit_budget=b * n_features``).
Both runs of a (dataset, seed, width) happen in the same invocation, so their fit
times are measured side by side. Writes ``results/allocation/runs.csv``,
``summary.md`` and ``allocation.png``; the summary also compares both with the best
fixed-width baseline of ``results/defaults/runs.csv`` (``run_accuracy.py`` with the
current defaults, 2 bits).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_accuracy  # noqa: E402
import summarize  # noqa: E402

UNIFORM, LEARNED = "bsq-levels", "bsq-learned"
DEFAULT_OUT = Path(__file__).parent / "results" / "allocation"
# the baselines of run_accuracy.py with the library's current defaults (results/
# runs.csv holds them with the network of an older release)
BASELINE_RUNS = Path(__file__).parent / "results" / "defaults" / "runs.csv"


def compare(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, width): both methods' scores, the verdict, the cost."""
    rows = []
    for (dataset, metric, bits), part in runs.groupby(["dataset", "metric", "bits"]):
        uniform = part[part.method == UNIFORM].sort_values("seed")
        learned = part[part.method == LEARNED].sort_values("seed")
        if uniform.empty or learned.empty:
            continue
        u_mean, u_std = uniform.score.mean(), uniform.score.std(ddof=1)
        l_mean, l_std = learned.score.mean(), learned.score.std(ddof=1)
        sign = 1 if summarize.higher_is_better(metric) else -1
        gain = sign * (l_mean - u_mean)
        relative = gain / abs(u_mean)
        seed0 = learned[learned.seed == learned.seed.min()].widths.iloc[0]
        rows.append(
            dict(
                dataset=dataset,
                metric=metric,
                bits=int(bits),
                uniform_mean=u_mean,
                uniform_std=u_std,
                learned_mean=l_mean,
                learned_std=l_std,
                better=gain > 0,
                relative_gain=relative,
                worse_than_1_std=gain < -u_std,
                cost_ratio=learned.fit_seconds.mean() / uniform.fit_seconds.mean(),
                unsent=float(
                    np.mean([w.split().count("0") for w in learned.widths.astype(str)])
                ),
                widths_seed0=seed0,
                seeds=tuple(learned.seed),
            )
        )
    return pd.DataFrame(rows)


def against_baselines(table: pd.DataFrame, baseline_runs: Path) -> list[str]:
    """Both methods against the best fixed-width baseline of ``run_accuracy.py``
    (same protocol) at the same bits per feature, over the same seeds; rows whose
    seeds the baseline runs do not all have are left out."""
    if not baseline_runs.exists():
        return []
    runs = pd.read_csv(baseline_runs)
    runs = runs[runs.method.isin(summarize.BASELINES)]
    lines = [
        "## Against the baselines",
        "",
        f"The best of {', '.join(summarize.BASELINES)} (from "
        f"`{baseline_runs.parent.name}/{baseline_runs.name}` of `run_accuracy.py`,",
        "same protocol and seeds) at the same bits per feature.",
        "",
        "| dataset | bits | best baseline | uniform beats it | learned beats it |",
        "|---|---|---|---|---|",
    ]
    wins = {}
    for r in table.itertuples():
        same = runs[
            (runs.dataset == r.dataset)
            & (runs.bits == r.bits)
            & runs.seed.isin(r.seeds)
        ]
        per_method = same.groupby("method").score
        if same.empty or per_method.count().min() < len(r.seeds):
            continue
        scores = per_method.mean()
        best = scores.idxmax() if r.metric == "accuracy" else scores.idxmin()
        value = scores[best]
        beats = [
            summarize.better(m, value, r.metric)
            for m in (r.uniform_mean, r.learned_mean)
        ]
        for name, won in zip(("uniform", "learned"), beats, strict=True):
            wins.setdefault((r.bits, name), []).append(won)
        lines.append(
            f"| {r.dataset} | {r.bits} | {best} {value:.4f} "
            f"| {'yes' if beats[0] else 'no'} | {'yes' if beats[1] else 'no'} |"
        )
    if not wins:
        return []  # no baseline runs over these seeds
    lines.append("")
    for (bits, name), won in sorted(wins.items()):
        lines.append(
            f"- {bits} bits, {name} widths: better than every baseline on "
            f"{sum(won)} of {len(won)} datasets"
        )
    return [*lines, ""]


def write_summary(table: pd.DataFrame, out: Path, baseline_runs: Path) -> None:
    lines = [
        "# Learned bit allocation vs uniform width",
        "",
        "Generated by `python benchmarks/run_allocation.py`. `bits` is the average",
        "per feature: both methods send `bits * n_features` bits per sample.",
        "Scores are mean ± std over seeds (accuracy: higher is better; MSE on the",
        "standardized target: lower is better). *worse by > 1 std* compares the",
        "difference of the means with the uniform width's std over seeds. *cost* is",
        "the mean fit time of the learned allocation over that of the uniform width",
        "(same run, same machine). *unsent* is the mean number of features that got",
        "0 bits.",
        "",
        f"Seeds: {' '.join(str(s) for s in sorted(set().union(*table.seeds)))}.",
        "",
    ]
    for bits, part in table.groupby("bits"):
        n = len(part)
        lines += [
            f"## {bits} bits per feature on average",
            "",
            f"- learned better on {int(part.better.sum())} of {n} datasets; median "
            f"relative improvement {100 * part.relative_gain.median():+.1f} % "
            "(accuracy gain or MSE reduction over the uniform width's score)",
            f"- worse by more than one std on {int(part.worse_than_1_std.sum())} "
            f"of {n}"
            + (
                f" ({', '.join(part[part.worse_than_1_std].dataset)})"
                if part.worse_than_1_std.any()
                else ""
            ),
            f"- cost ratio: median {part.cost_ratio.median():.2f}x, "
            f"max {part.cost_ratio.max():.2f}x",
            "",
            "| dataset | metric | uniform | learned | better | worse > 1 std "
            "| cost | unsent | widths (seed 0) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in part.itertuples():
            lines.append(
                f"| {r.dataset} | {r.metric} | {r.uniform_mean:.4f} ± "
                f"{r.uniform_std:.4f} | {r.learned_mean:.4f} ± {r.learned_std:.4f} "
                f"| {'yes' if r.better else 'no'} "
                f"| {'yes' if r.worse_than_1_std else 'no'} "
                f"| {r.cost_ratio:.2f}x | {r.unsent:.1f} | {r.widths_seed0} |"
            )
        lines.append("")
    lines += against_baselines(table, baseline_runs)
    (out / "summary.md").write_text("\n".join(lines))


def plot(table: pd.DataFrame, out: Path) -> None:
    """Relative change of the score per dataset, one panel per width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = sorted(table.bits.unique())
    fig, axes = plt.subplots(
        1,
        len(widths),
        figsize=(5 * len(widths), 0.35 * table.dataset.nunique() + 1.5),
        squeeze=False,
        sharey=True,
    )
    for ax, bits in zip(axes[0], widths, strict=True):
        part = table[table.bits == bits].sort_values("dataset")
        sign = np.where(part.metric == "accuracy", 1.0, -1.0)
        change = (
            100 * sign * (part.learned_mean - part.uniform_mean) / part.uniform_mean
        )
        noise = 100 * part.uniform_std / part.uniform_mean
        y = np.arange(len(part))
        ax.barh(y, change, color=np.where(change > 0, "tab:green", "tab:red"))
        ax.errorbar(
            np.zeros(len(part)),
            y,
            xerr=noise,
            fmt="none",
            ecolor="0.4",
            capsize=3,
            label="± 1 std of uniform",
        )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, part.dataset)
        ax.set_xlabel("learned vs uniform: score improvement (%)")
        ax.set_title(f"{bits} bits per feature on average")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "allocation.png", dpi=110)
    plt.close(fig)


def summarize_runs(
    runs_path: Path, baseline_runs: Path = BASELINE_RUNS
) -> pd.DataFrame:
    runs = pd.read_csv(runs_path)
    table = compare(runs)
    write_summary(table, runs_path.parent, baseline_runs)
    plot(table, runs_path.parent)
    return table


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    summary_only = "--summary-only" in argv
    if summary_only:
        argv.remove("--summary-only")
    # Later options win in argparse: the caller's flags override these defaults.
    defaults = [
        "--methods",
        UNIFORM,
        LEARNED,
        "--bits",
        "2",
        "4",
        "--out",
        str(DEFAULT_OUT),
    ]
    args = run_accuracy.parse_args(defaults + argv)
    if args.quick:
        args.datasets, args.bits = ["wine_quality", "MagicTelescope"], [2]
    runs_path = Path(args.out) / "runs.csv"
    if not summary_only:
        runs_path = run_accuracy.execute(args, run_accuracy.ALLOCATION_FIELDS)
    table = summarize_runs(runs_path)
    print((runs_path.parent / "summary.md").read_text())
    return 0 if len(table) else 1


if __name__ == "__main__":
    sys.exit(main())
