"""Accuracy against serving cost of ``n_heads``: what each head buys and costs.

Usage (from the repository root)::

    python benchmarks/run_heads.py                  # resumes from the CSV
    python benchmarks/run_heads.py --heads 1 3 5 --seeds 42 43 44
    python benchmarks/run_heads.py --summary-only

Accuracy: ``run_paper.py``'s protocol (per seed a 90/10 split, X and y
standardized on the training part, test MSE of the standardized target) for the
default model at 4 bits with ``n_heads`` set, on the paper's three datasets,
seeds 42-51. Runs go to ``results/heads/runs.csv`` as they finish.

Serving: on 200,000 rows of california at 4 bits, ``predict_packed`` of a model
with each ``n_heads`` against scikit-learn's ``MLPRegressor(hidden_layer_sizes=
(128, 128)).predict`` on the float32 rows, timed in interleaved rounds in one
process (every path three times per round, the best call kept), so that the
ratios see the same machine. ``summary.md`` tables both beside the multiply-adds
per row.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import run_paper  # noqa: E402
from run_accuracy import append_runs  # noqa: E402
from run_speed import interleaved_best_times, multiply_adds  # noqa: E402

DATASETS = ("california", "cpu_act", "wine_quality")
FIELDS = ["dataset", "seed", "n_heads", "bits", "mse", "fit_seconds"]
BITS = 4
SERVING_ROWS = 200_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--heads", nargs="+", type=int, default=[1, 2, 3, 5])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--seeds", nargs="+", type=int, default=list(range(42, 52)))
    p.add_argument("--rounds", type=int, default=5, help="serving rounds")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--data-dir", help="default $BSQ_DATA_DIR or ../shared/datasets")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "heads"))
    p.add_argument("--summary-only", action="store_true")
    return p.parse_args(argv)


def fit_one(name: str, seed: int, heads: int, folder) -> dict:
    row = run_paper.run_one(
        (name, seed, "bsq-default", BITS), folder, {"n_heads": heads}, None
    )
    return {
        "dataset": name,
        "seed": seed,
        "n_heads": heads,
        "bits": BITS,
        "mse": row["mse"],
        "fit_seconds": row["fit_seconds"],
    }


def run_accuracy(args, runs_path: Path) -> None:
    from joblib import delayed

    done = set()
    if runs_path.exists():
        with runs_path.open() as f:
            done = {
                (r["dataset"], int(r["seed"]), int(r["n_heads"]))
                for r in csv.DictReader(f)
            }
    todo = [
        (name, seed, heads)
        for heads in args.heads
        for name in args.datasets
        for seed in args.seeds
        if (name, seed, heads) not in done
    ]
    print(f"{len(todo)} fits to do (results in {runs_path})", flush=True)
    folder = datasets.data_dir(args.data_dir)
    append_runs(
        runs_path,
        FIELDS,
        [delayed(fit_one)(name, seed, heads, folder) for name, seed, heads in todo],
        lambda row: (
            f"{row['dataset']} seed={row['seed']} n_heads={row['n_heads']}: "
            f"mse={row['mse']:.4f} ({row['fit_seconds']:.1f}s)"
        ),
        args.jobs,
    )


def measure_serving(heads_list, rounds: int, data_dir) -> dict:
    """``{n_heads: (rows/s, ratio to the peer, table adds, multiply-adds)}``
    and the peer's rows/s under key ``"peer"``, interleaved rounds."""
    import torch
    from sklearn.neural_network import MLPRegressor

    from sklearn_bsq import SoftQuantizerRegressor

    X, y, _ = datasets.load("california", datasets.data_dir(data_dir))
    rows = np.resize(X, (SERVING_ROWS, X.shape[1]))
    # speed does not depend on the epochs: a few keep the run short
    peer = MLPRegressor(hidden_layer_sizes=(128, 128), max_iter=3).fit(X, y)
    paths = {"peer": lambda: peer.predict(rows)}
    costs = {}
    for heads in heads_list:
        model = SoftQuantizerRegressor(
            BITS, n_heads=heads, max_epochs=2, random_state=0
        )
        model.fit(X, y)
        packed = model.transform(rows)
        paths[heads] = lambda m=model, p=packed: m.predict_packed(p)
        costs[heads] = multiply_adds(model.net_.module_)
    best = interleaved_best_times(paths, rounds)
    result = {"peer": SERVING_ROWS / best["peer"], "threads": torch.get_num_threads()}
    for heads in heads_list:
        speed = SERVING_ROWS / best[heads]
        result[heads] = (speed, speed / result["peer"], *costs[heads])
    return result


def summarize(runs_path: Path, serving: dict | None) -> str:
    mse = defaultdict(list)
    with runs_path.open() as f:
        for r in csv.DictReader(f):
            mse[(r["dataset"], int(r["n_heads"]))].append(float(r["mse"]))
    names = [d for d in DATASETS if any(k[0] == d for k in mse)]
    heads_list = sorted(
        {h for _, h in mse} | {h for h in (serving or {}) if isinstance(h, int)}
    )
    reference = max(heads_list)
    lines = [
        "# Accuracy against serving cost of n_heads",
        "",
        "Generated by `python benchmarks/run_heads.py` (see its docstring). Test MSE: "
        f"the default at {BITS} bits with `n_heads` set, the paper's protocol, mean "
        "± std over the seeds run (their count in brackets), and the ratio to the "
        f"mean of {reference} heads. Serving: `predict_packed` on "
        f"{SERVING_ROWS:,} rows of california against "
        "`MLPRegressor(hidden_layer_sizes=(128, 128)).predict` on the float32 rows,"
        " best call of interleaved rounds in one run"
        + (f" (torch threads {serving['threads']})." if serving else " (not run)."),
        "",
        "| n_heads | table adds + multiply-adds per row | rows/s "
        "| vs MLPRegressor(128, 128) | " + " | ".join(names) + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for heads in heads_list:
        cells = []
        for name in names:
            values = mse.get((name, heads))
            base = mse.get((name, reference))
            if not values:
                cells.append("")
                continue
            text = f"{np.mean(values):.4f} ± {np.std(values):.4f} ({len(values)})"
            if base and heads != reference:
                text += f" {np.mean(values) / np.mean(base):.3f}x"
            cells.append(text)
        if serving and heads in serving:
            speed, ratio, adds, products = serving[heads]
            cost = f"{adds:,} + {products:,} | {speed:,.0f} | {ratio:.2f}x"
        else:
            cost = " |  | "
        lines.append(f"| {heads} | {cost} | " + " | ".join(cells) + " |")
    if serving:
        lines += ["", f"MLPRegressor(128, 128): {serving['peer']:,.0f} rows/s."]
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "runs.csv"
    serving = None
    if not args.summary_only:
        run_accuracy(args, runs_path)
        serving = measure_serving(args.heads, args.rounds, args.data_dir)
        stored = {str(k): v for k, v in serving.items()}
        (out / "serving.json").write_text(json.dumps(stored, indent=1) + "\n")
    text = summarize(runs_path, serving or read_serving(out / "serving.json"))
    (out / "summary.md").write_text(text)
    print(text)
    return 0


def read_serving(path: Path) -> dict | None:
    """The serving measurements a previous run stored (for ``--summary-only``)."""
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    return {int(k) if k.isdigit() else k: v for k, v in stored.items()}


if __name__ == "__main__":
    sys.exit(main())
