"""Accuracy against serving cost of ``n_heads``: what each head buys and costs.

Usage (from the repository root)::

    python benchmarks/run_heads.py                  # resumes from the CSV
    python benchmarks/run_heads.py --heads 1 3 5 --seeds 42 43 44
    python benchmarks/run_heads.py --distilled      # no students of five heads
    python benchmarks/run_heads.py --summary-only

Accuracy: ``run_paper.py``'s protocol (per seed a 90/10 split, X and y
standardized on the training part, test MSE of the standardized target) for the
default model at 4 bits with ``n_heads`` set, on the paper's three datasets,
seeds 42-51; and five heads distilled into a student of one
(``sklearn_bsq.distill`` on the training rows, its fit time added to the teacher's).
Runs go to ``results/heads/runs.csv`` as they finish (``distilled_from``: the
teacher's heads, 0 for a model trained directly).

Serving: on 200,000 rows of california at 4 bits, ``predict_packed`` of a model
with each ``n_heads`` against scikit-learn's ``MLPRegressor(hidden_layer_sizes=
(128, 128)).predict`` on the float32 rows, timed in interleaved rounds in one
process (every path three times per round, the best call kept), so that the
ratios see the same machine. ``summary.md`` tables both beside the multiply-adds
per row. With students, the fit times of five heads, of distilling them into one and
of one head trained directly, side by side on full california (one thread).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import run_paper  # noqa: E402
from run_accuracy import append_runs  # noqa: E402
from run_speed import interleaved_best_times, multiply_adds  # noqa: E402

DATASETS = ("california", "cpu_act", "wine_quality")
FIELDS = ["dataset", "seed", "n_heads", "bits", "mse", "fit_seconds", "distilled_from"]
BITS = 4
TEACHER_HEADS = 5  # the students' teacher: five heads (the default before 3)
SERVING_ROWS = 200_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--heads", nargs="+", type=int, default=[1, 2, 3, 5])
    p.add_argument(
        "--distilled",
        nargs="*",
        type=int,
        default=[1],
        help=f"students' heads, distilled from {TEACHER_HEADS} (none: no students)",
    )
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--seeds", nargs="+", type=int, default=list(range(42, 52)))
    p.add_argument("--rounds", type=int, default=5, help="serving rounds")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--data-dir", help="default $BSQ_DATA_DIR or ../shared/datasets")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "heads"))
    p.add_argument("--summary-only", action="store_true")
    return p.parse_args(argv)


def fit_one(name: str, seed: int, heads: int, folder, distilled_from: int = 0):
    if distilled_from:
        mse, seconds = fit_student(name, seed, heads, distilled_from, folder)
    else:
        row = run_paper.run_one(
            (name, seed, "bsq-default", BITS), folder, {"n_heads": heads}, None
        )
        mse, seconds = row["mse"], row["fit_seconds"]
    return {
        "dataset": name,
        "seed": seed,
        "n_heads": heads,
        "bits": BITS,
        "mse": mse,
        "fit_seconds": seconds,
        "distilled_from": distilled_from,
    }


def fit_student(name, seed, heads, teacher_heads, folder) -> tuple[float, float]:
    """Test MSE and fit seconds (teacher and student) of a student of ``heads``
    distilled on the training rows from a default of ``teacher_heads``."""
    import torch

    from sklearn_bsq import distill

    torch.set_num_threads(1)  # one thread per worker, as run_paper.run_one
    X, y, _ = datasets.load(name, folder)
    X_train, X_test, y_train, y_test = run_paper.paper_split(X, y, seed)
    teacher = run_paper.make_model(
        "bsq-default", BITS, seed, {"n_heads": teacher_heads}
    )
    start = time.perf_counter()
    teacher.fit(X_train, y_train)
    student = distill(teacher, X_train, n_heads=heads, random_state=seed)
    seconds = time.perf_counter() - start
    mse = float(((student.predict(X_test) - y_test) ** 2).mean())
    return round(mse, 6), round(seconds, 3)


def run_accuracy(args, runs_path: Path) -> None:
    from joblib import delayed

    done = set()
    if runs_path.exists():
        with runs_path.open() as f:
            done = {
                (r["dataset"], int(r["seed"]), int(r["n_heads"]), teacher_of(r))
                for r in csv.DictReader(f)
            }
    wanted = [(heads, 0) for heads in args.heads]
    wanted += [(heads, TEACHER_HEADS) for heads in args.distilled]
    todo = [
        (name, seed, heads, teacher)
        for heads, teacher in wanted
        for name in args.datasets
        for seed in args.seeds
        if (name, seed, heads, teacher) not in done
    ]
    print(f"{len(todo)} fits to do (results in {runs_path})", flush=True)
    folder = datasets.data_dir(args.data_dir)
    append_runs(
        runs_path,
        FIELDS,
        [delayed(fit_one)(name, seed, h, folder, t) for name, seed, h, t in todo],
        lambda row: (
            f"{row['dataset']} seed={row['seed']} {label(row['n_heads'], row)}: "
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


def teacher_of(row: dict) -> int:
    """The teacher's heads of a CSV row, 0 when trained directly (and in rows
    written before students were run)."""
    return int(row.get("distilled_from") or 0)


def label(heads, row_or_teacher) -> str:
    teacher = row_or_teacher
    if isinstance(row_or_teacher, dict):
        teacher = teacher_of(row_or_teacher)
    from sklearn_bsq import SoftQuantizer

    text = f"n_heads={heads}"
    if teacher:
        return f"{text}, distilled from {teacher}"
    return f"{text} (default)" if heads == SoftQuantizer().n_heads else text


def measure_fit_costs(data_dir, rounds: int = 2) -> dict:
    """Seconds of the fit of five heads, of distilling them into one head and of one
    head trained directly, best of interleaved rounds on one thread (the
    caller's threads restored)."""
    from sklearn_bsq import distill
    from sklearn_bsq._threads import torch_threads

    X, y, _ = datasets.load("california", datasets.data_dir(data_dir))
    X_train, _, y_train, _ = run_paper.paper_split(X, y, 42)
    best = {"teacher": np.inf, "distill": np.inf, "one head": np.inf}
    with torch_threads(1):
        for _ in range(rounds):
            teacher = run_paper.make_model(
                "bsq-default", BITS, 42, {"n_heads": TEACHER_HEADS}
            )
            start = time.perf_counter()
            teacher.fit(X_train, y_train)
            middle = time.perf_counter()
            distill(teacher, X_train, random_state=42)
            end = time.perf_counter()
            run_paper.make_model("bsq-default", BITS, 42, {"n_heads": 1}).fit(
                X_train, y_train
            )
            best["teacher"] = min(best["teacher"], middle - start)
            best["distill"] = min(best["distill"], end - middle)
            best["one head"] = min(best["one head"], time.perf_counter() - end)
    return {**best, "rounds": rounds}


def summarize(runs_path: Path, serving: dict | None) -> str:
    mse = defaultdict(list)
    with runs_path.open() as f:
        for r in csv.DictReader(f):
            mse[(r["dataset"], int(r["n_heads"]), teacher_of(r))].append(
                float(r["mse"])
            )
    names = [d for d in DATASETS if any(k[0] == d for k in mse)]
    served = {h for h in (serving or {}) if isinstance(h, int)}
    models = sorted({k[1:] for k in mse} | {(h, 0) for h in served})
    reference = max(h for h, teacher in models if not teacher)
    lines = [
        "# Accuracy against serving cost of n_heads",
        "",
        "Generated by `python benchmarks/run_heads.py` (see its docstring). Test MSE: "
        f"the default at {BITS} bits with `n_heads` set, the paper's protocol, mean "
        "± std over the seeds run (their count in brackets), and the ratio to the "
        f"mean of {reference} heads. A student distilled from five heads "
        "(`sklearn_bsq.distill` on the training rows) serves like a model of its "
        f"own heads. Serving: `predict_packed` on {SERVING_ROWS:,} "
        "rows of california against "
        "`MLPRegressor(hidden_layer_sizes=(128, 128)).predict` on the float32 rows,"
        " best call of interleaved rounds in one run"
        + (f" (torch threads {serving['threads']})." if serving else " (not run)."),
        "",
        "| model | table adds + multiply-adds per row | rows/s "
        "| vs MLPRegressor(128, 128) | " + " | ".join(names) + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for heads, teacher in models:
        cells = []
        for name in names:
            values = mse.get((name, heads, teacher))
            base = mse.get((name, reference, 0))
            if not values:
                cells.append("")
                continue
            text = f"{np.mean(values):.4f} ± {np.std(values):.4f} ({len(values)})"
            if base and (heads, teacher) != (reference, 0):
                text += f" {np.mean(values) / np.mean(base):.3f}x"
            cells.append(text)
        if serving and heads in serving:
            speed, ratio, adds, products = serving[heads]
            cost = f"{adds:,} + {products:,} | {speed:,.0f} | {ratio:.2f}x"
        else:
            cost = " |  | "
        lines.append(
            f"| {label(heads, teacher)} | {cost} | " + " | ".join(cells) + " |"
        )
    if serving:
        lines += ["", f"MLPRegressor(128, 128): {serving['peer']:,.0f} rows/s."]
    fits = (serving or {}).get("fit")
    if fits:
        lines += [
            "",
            "Fit side by side (full california, seed 42's split, one thread, best "
            f"of {fits['rounds']} interleaved rounds): five heads "
            f"{fits['teacher']:.1f} s, "
            f"then distilling them into one head {fits['distill']:.1f} s "
            f"({fits['distill'] / fits['teacher']:.2f}x the five heads' fit); one head "
            f"trained directly {fits['one head']:.1f} s.",
        ]
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
        served = sorted(set(args.heads) | set(args.distilled))
        serving = measure_serving(served, args.rounds, args.data_dir)
        if args.distilled:
            serving["fit"] = measure_fit_costs(args.data_dir)
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
