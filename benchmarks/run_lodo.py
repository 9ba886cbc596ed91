"""Leave one dataset out: would the defaults have been chosen without each dataset?

Usage (from the repository root)::

    python benchmarks/run_lodo.py                 # the runs (resumable), then tables
    python benchmarks/run_lodo.py --summary-only  # the summary again from the CSVs

The defaults that were chosen on the 14 datasets of ``run_accuracy.py`` (the width
allocation, the representation, the threshold rate, the number of heads) are set
against the alternatives they were chosen over, at 2 and 4 bits, under that
script's protocol (seeds 0-2, 4,000 training rows); at 4 bits also the former
default distilled into one head (``sklearn_bsq.distill``), the cheaper server.
Then, for each dataset in turn, the other 13 choose a candidate, by the least mean
relative loss against float32 and by the least mean rank, and its loss on the
held-out dataset is reported beside the default's and beside the best candidate's
there. A default that every fold
chooses does not owe its place to any one dataset; where a fold chooses another, the
held-out loss says what that choice would have cost or won on data nobody looked at
while choosing.

The default, float32, the baselines and ``allocation=uniform`` (the former default,
``bsq-uniform`` there) come from ``results/defaults/runs.csv`` (the same protocol; a
fit reproduces its stored score). The alternatives' runs go to
``results/lodo/runs.csv`` as they finish (column ``method``: the candidate's name);
the tables to ``results/lodo/summary.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import run_accuracy  # noqa: E402
import summarize  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DEFAULTS_CSV = RESULTS / "defaults" / "runs.csv"
DEFAULT = "bsq-default"
BITS = (2, 4)
# A candidate's parameter that is not the estimator's: after the fit, distill the
# network into this many heads (sklearn_bsq.distill on the training rows).
DISTILLED_HEADS = "distilled heads"
# name: (parameters set on the default, widths where it differs from the default:
# "auto" resolves threshold_lr to 1e-2 at 2 bits and 2e-2 at 4). The default
# learns the widths at 2 and 4 bits (allocation="auto"); the candidates that change
# another parameter were run on the former default, which gave every feature the
# same width, and keep that width.
UNIFORM = {"allocation": "uniform"}
CANDIDATES = {
    "allocation=uniform": (UNIFORM, BITS),
    "threshold_lr=0.02": ({**UNIFORM, "threshold_lr": 0.02}, (2,)),
    "threshold_lr=0.01": ({**UNIFORM, "threshold_lr": 0.01}, (4,)),
    "thermometer": ({**UNIFORM, "representation": "thermometer"}, BITS),
    "levels": ({**UNIFORM, "representation": "levels"}, BITS),
    "n_heads=5": ({**UNIFORM, "n_heads": 5}, BITS),
    "distilled to 1 head": ({**UNIFORM, DISTILLED_HEADS: 1}, (4,)),
}
# Candidates whose runs results/defaults/runs.csv holds under another method name
# (the same protocol and parameters): read from there, not run again.
STORED_CANDIDATES = {"allocation=uniform": "bsq-uniform"}


def run_candidate(spec, folder, args):
    """One run of a candidate: the default's run with the candidate's parameters
    (and, for a distilled candidate, the fitted network distilled; its fit time
    includes the distillation)."""
    from sklearn_bsq import distill

    name, seed, candidate, bits = spec
    params = dict(CANDIDATES[candidate][0])
    heads = params.pop(DISTILLED_HEADS, None)
    args = argparse.Namespace(**{**vars(args), "param": params})
    spec = (name, seed, DEFAULT, bits)
    if heads is None:
        return {**run_accuracy.run_one(spec, folder, args), "method": candidate}
    row, model, (X_rest, X_test, y_test) = run_accuracy.fit_one(spec, folder, args)
    start = time.perf_counter()
    student = distill(model, X_rest, n_heads=heads, random_state=seed)
    seconds = time.perf_counter() - start
    _, score = run_accuracy.score_on_test(student, X_test, y_test, row["task"])
    return {
        **row,
        "method": candidate,
        "score": score,
        "fit_seconds": round(row["fit_seconds"] + seconds, 3),
    }


def run_missing(args) -> Path:
    runs_path = run_accuracy.runs_csv(args, run_accuracy.FIELDS)
    done = run_accuracy.done_keys(runs_path)
    todo = [
        (name, seed, candidate, bits)
        for name in args.datasets
        for seed in args.seeds
        for candidate, (_, widths) in CANDIDATES.items()
        for bits in widths
        if candidate not in STORED_CANDIDATES
        and (name, seed, candidate, bits) not in done
    ]
    folder = datasets.data_dir(args.data_dir)
    run_accuracy.run_specs(
        runs_path, run_accuracy.FIELDS, todo, len(done), run_candidate, folder, args
    )
    return runs_path


def relative_losses(runs: pd.DataFrame, bits: int) -> pd.DataFrame:
    """Mean over seeds of each candidate's relative loss against float32, a row per
    dataset and a column per candidate (the default first) that ran at ``bits``:
    MSE / float32 - 1, or 1 - accuracy / float32 (lower is better either way)."""
    means = runs.groupby(["dataset", "metric", "method", "bits"]).score.mean()
    names = [DEFAULT] + [c for c, (_, w) in CANDIDATES.items() if bits in w]
    table = {}
    for (dataset, metric), part in means.groupby(level=["dataset", "metric"]):
        part = part.droplevel(["dataset", "metric"])
        reference = part[("float32", 32)]
        row = {}
        for name in names:
            if (name, bits) in part.index:
                row[name] = summarize.relative_loss(
                    part[(name, bits)], reference, metric
                )
        table[dataset] = row
    frame = pd.DataFrame.from_dict(table, orient="index")
    return frame[[name for name in names if name in frame]].sort_index()


# How the other datasets choose: the least mean relative loss (a few datasets
# with losses of hundreds of percent weigh most), or the least mean rank (every
# dataset weighs the same).
CRITERIA = {
    "mean loss": lambda losses: losses.mean(),
    "mean rank": lambda losses: losses.rank(axis=1).mean(),
}


def leave_one_out(losses: pd.DataFrame) -> pd.DataFrame:
    """Per held-out dataset: the candidate the other datasets choose by each of
    ``CRITERIA`` and its held-out loss, the default's loss and the best candidate
    there."""
    rows = []
    for held_out in losses.index:
        others = losses.drop(index=held_out)
        row = dict(dataset=held_out)
        for name, criterion in CRITERIA.items():
            chosen = criterion(others).idxmin()
            row[name] = chosen
            row[f"{name} loss"] = losses.at[held_out, chosen]
        row.update(
            default_loss=losses.at[held_out, DEFAULT],
            best=losses.loc[held_out].idxmin(),
            best_loss=losses.loc[held_out].min(),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def target_counts(runs: pd.DataFrame, names) -> dict[str, tuple[int, int]]:
    """Per candidate, the datasets meeting the 14-dataset targets (``summarize``):
    within 1 % of float32 at 4 bits, better than every baseline at 2 bits."""
    agg = summarize.aggregate(runs)
    counts = {}
    for name in names:
        _, found = summarize.targets(agg, name)
        counts[name] = (found["at4"], found["at2"])
    return counts


def percent(value: float) -> str:
    return f"{100 * value:+.1f} %"


def summary_lines(runs: pd.DataFrame, seeds) -> list[str]:
    lines = [
        "# Leave one dataset out: the defaults against their alternatives",
        "",
        "Generated by `python benchmarks/run_lodo.py` (protocol in its docstring): "
        "`run_accuracy.py`'s 14 datasets, seeds "
        f"{', '.join(map(str, seeds))}, relative loss against float32 (MSE / "
        "float32 - 1, or 1 - accuracy / float32; lower is better, negative beats "
        "float32), mean over the seeds. The default is the library's "
        "(`SoftQuantizer(n_bits=b)`, which learns the widths at 2 and 4 bits); "
        "`allocation=uniform` gives every feature the same width (the former "
        "default) and each other candidate changes one more parameter of that. "
        "The other datasets choose by the least mean relative loss (where a few "
        "datasets with losses of hundreds of percent weigh most) and by the least "
        "mean rank (every dataset weighs the same).",
    ]
    counts = target_counts(runs, [DEFAULT, *CANDIDATES])
    target_names = {4: "within 1 % of float32", 2: "better than every baseline"}
    for bits in BITS:
        losses = relative_losses(runs, bits)
        if DEFAULT not in losses:  # nothing ran at this width
            continue
        folds = leave_one_out(losses)
        lines += [
            "",
            f"## {bits} bits",
            "",
            "Relative loss per dataset and candidate:",
            "",
            "| dataset | " + " | ".join(losses.columns) + " |",
            "|---" * (len(losses.columns) + 1) + "|",
        ]
        for dataset, row in losses.iterrows():
            cells = [percent(v) if np.isfinite(v) else "" for v in row]
            lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
        lines.append("| mean | " + " | ".join(percent(v) for v in losses.mean()) + " |")
        ranks = losses.rank(axis=1).mean()
        lines.append("| mean rank | " + " | ".join(f"{v:.2f}" for v in ranks) + " |")
        if bits in target_names:
            at = 0 if bits == 4 else 1
            cells = [str(counts[name][at]) for name in losses.columns]
            lines.append(
                f"| datasets {target_names[bits]} | " + " | ".join(cells) + " |"
            )
        lines += [
            "",
            "Each dataset held out, the candidate the other 13 choose:",
            "",
            "| held out | by mean loss | its loss there | by mean rank | its loss "
            "there | the default's | best there |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, fold in folds.iterrows():
            lines.append(
                f"| {fold.dataset} | {fold['mean loss']} | "
                f"{percent(fold['mean loss loss'])} | {fold['mean rank']} | "
                f"{percent(fold['mean rank loss'])} | {percent(fold.default_loss)} | "
                f"{fold.best} ({percent(fold.best_loss)}) |"
            )
        lines.append("")
        for name in CRITERIA:
            kept = int((folds[name] == DEFAULT).sum())
            lines.append(
                f"- By {name}: the default in {kept} of {len(folds)} folds; mean "
                f"held-out loss of the choices {percent(folds[name + ' loss'].mean())}."
            )
        lines.append(
            f"- The default everywhere: {percent(folds.default_loss.mean())}; the "
            "best candidate of each dataset, chosen on its own test set: "
            f"{percent(folds.best_loss.mean())}."
        )
    return lines


def load_runs(runs_path: Path) -> pd.DataFrame:
    stored = pd.read_csv(DEFAULTS_CSV)
    renamed = {method: name for name, method in STORED_CANDIDATES.items()}
    stored = stored[
        stored.method.isin([DEFAULT, "float32", *summarize.BASELINES, *renamed])
    ].replace({"method": renamed})
    return pd.concat([stored, pd.read_csv(runs_path)], ignore_index=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--summary-only", action="store_true")
    p.add_argument("--out", default=str(RESULTS / "lodo"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--data-dir")
    args = p.parse_args(argv)
    # the protocol of results/defaults/runs.csv: run_accuracy.py's defaults
    protocol = run_accuracy.parse_args([])
    for key, value in vars(protocol).items():
        if key not in ("out", "jobs", "data_dir"):
            setattr(args, key, value)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    runs_path = Path(args.out) / "runs.csv"
    if not args.summary_only:
        runs_path = run_missing(args)
    runs = load_runs(runs_path)
    text = "\n".join(summary_lines(runs, args.seeds)) + "\n"
    (Path(args.out) / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
