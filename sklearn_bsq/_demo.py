"""The main job: bits versus score on one dataset, next to full precision.

Run ``python -m sklearn_bsq demo`` (or ``sklearn-bsq demo``). It needs no download:
the default dataset ships with scikit-learn. ``--dataset`` also takes the path of
a CSV file (optionally gzipped) whose last column is the target.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from sklearn import datasets
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

from ._estimator import SoftQuantizer
from ._full_precision import FullPrecisionMLP
from ._packing import bytes_per_row, compression_ratio
from ._target import resolve_task

BUILTIN = {
    "breast_cancer": (datasets.load_breast_cancer, "classification"),
    "digits": (datasets.load_digits, "classification"),
    "wine": (datasets.load_wine, "classification"),
    "iris": (datasets.load_iris, "classification"),
    "diabetes": (datasets.load_diabetes, "regression"),
}


def load_dataset(name: str, task: str = "auto"):
    """``(X, y, task)`` for a scikit-learn toy dataset name or a CSV path."""
    if name in BUILTIN:
        loader, builtin_task = BUILTIN[name]
        X, y = loader(return_X_y=True)
        return X, y, builtin_task if task == "auto" else task
    if name.endswith((".csv", ".csv.gz")):
        import pandas as pd  # only needed for files

        frame = pd.read_csv(name)
        X = frame.iloc[:, :-1].to_numpy(np.float32)
        y = frame.iloc[:, -1].to_numpy()
        return X, y, resolve_task(task, y)  # the table names the task's score
    raise ValueError(
        f"unknown dataset {name!r}: use one of {sorted(BUILTIN)} or a path ending "
        ".csv or .csv.gz."
    )


@dataclass
class Row:
    label: str
    bits: float
    bytes_per_sample: float
    ratio: float
    scores: list
    seconds: list


def run_demo(
    dataset: str = "breast_cancer",
    bits=(1, 2, 4, 8),
    folds: int = 5,
    seed: int = 0,
    task: str = "auto",
    estimator_params: dict | None = None,
    log=sys.stderr,
) -> list[Row]:
    """Cross-validated score and fit time per bit width and for float32 inputs.

    Prints one progress line per fold on ``log``.
    """
    X, y, task = load_dataset(dataset, task)
    params = dict(random_state=seed, **(estimator_params or {}))
    reference = FullPrecisionMLP(task=task, **params)
    n_features = X.shape[1]
    rows = [Row("float32", 32, 4 * n_features, 1.0, [], [])]
    for b in bits:
        widths = [b] * n_features
        b_bytes = bytes_per_row(widths)
        rows.append(Row(f"{b} bit", b, b_bytes, compression_ratio(widths), [], []))
    splitter = (StratifiedKFold if task == "classification" else KFold)(
        folds, shuffle=True, random_state=seed
    )
    print(
        f"{dataset}: {X.shape[0]} samples, {n_features} features, {task}, "
        f"{folds}-fold cross-validation",
        file=log,
        flush=True,
    )
    started = time.perf_counter()
    for fold, (train, test) in enumerate(splitter.split(X, y), start=1):
        models = [clone(reference)] + [
            SoftQuantizer(b, task=task, **params) for b in bits
        ]
        for row, model in zip(rows, models, strict=True):
            start = time.perf_counter()
            model.fit(X[train], y[train])
            row.seconds.append(time.perf_counter() - start)
            row.scores.append(model.score(X[test], y[test]))
        scores = ", ".join(f"{row.label} {row.scores[-1]:.3f}" for row in rows)
        print(
            f"  fold {fold}/{folds} ({time.perf_counter() - started:.0f} s): {scores}",
            file=log,
            flush=True,
        )
    return rows


def format_table(rows: list[Row], task: str) -> str:
    score_name = "accuracy" if task == "classification" else "R2"
    header = (
        f"{'input':>8}  {'bits/feature':>12}  {'bytes/sample':>12}  "
        f"{'compression':>11}  {'test ' + score_name:>17}  {'fit time (s)':>12}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        score = f"{np.mean(row.scores):.4f} ± {np.std(row.scores):.4f}"
        lines.append(
            f"{row.label:>8}  {row.bits:>12g}  {row.bytes_per_sample:>12g}  "
            f"{row.ratio:>10.1f}x  {score:>17}  {np.mean(row.seconds):>12.2f}"
        )
    return "\n".join(lines)


def main_demo(args) -> int:
    start = time.perf_counter()
    rows = run_demo(args.dataset, tuple(args.bits), args.folds, args.seed, args.task)
    _, _, task = load_dataset(args.dataset, args.task)
    print(
        "Each feature sent as a b-bit code (the row packed into whole bytes) instead "
        "of a 32-bit float;\nthe same MLP on float32 inputs is the reference."
    )
    print(format_table(rows, task))
    print(f"total time: {time.perf_counter() - start:.1f} s")
    print(
        "The full comparison (14 datasets, 3 seeds, four baselines) is "
        "`python benchmarks/run_accuracy.py`;\nthe paper's protocol on full data is "
        "`python benchmarks/run_paper.py` (see benchmarks/README.md)."
    )
    return 0
