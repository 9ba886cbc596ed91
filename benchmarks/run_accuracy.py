"""Score versus bits per feature on real data: SoftQuantizer against the baselines.

Usage (from the repository root)::

    python benchmarks/run_accuracy.py            # full protocol, resumes from the CSV
    python benchmarks/run_accuracy.py --quick    # smoke test, a few minutes

Protocol, the same for every method: per seed a fixed split into train (60 %),
validation (20 %, for early stopping) and test (20 %); training data capped at
``--max-train`` rows; features standardized inside the estimators; the same MLP,
optimizer and epoch budget. Classification is scored by accuracy, regression by MSE
on the target standardized with the training mean and std (the paper's metric).
Every finished run is appended to ``runs.csv`` at once, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import train_test_split

from sklearn_bsq._cli import parse_params

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
from paper_protocol import baseline_heads  # noqa: E402

METHODS = {
    # name: (quantizer, threshold_init, representation); None = full precision
    "float32": None,
    "kbins-uniform": ("fixed", "uniform", "thermometer"),
    "kbins-quantile": ("fixed", "quantile", "thermometer"),
    "kbins-kmeans": ("fixed", "kmeans", "thermometer"),
    "lsq": ("lsq", "uniform", "thermometer"),
    "bsq-thermometer": ("soft", "quantile", "thermometer"),
    "bsq-bits": ("soft", "quantile", "bits"),
    "bsq-levels": ("soft", "quantile", "levels"),
    "bsq-embedding": ("soft", "quantile", "embedding"),
    "bsq-levels+thermometer": ("soft", "quantile", "levels+thermometer"),
    # the estimator's defaults, representation included ("auto")
    "bsq-default": ("soft", "quantile", None),
    # the defaults with every feature at `bits` (allocation="uniform"; the
    # default until allocation="auto", recorded as bsq-default then)
    "bsq-uniform": ("soft", "quantile", None),
    # learned widths: `bits` is the average budget per feature (run_allocation.py)
    "bsq-learned": ("soft", "quantile", "levels"),
}
LEARNED_WIDTHS = {"bsq-learned"}
FIELDS = [
    "dataset",
    "task",
    "seed",
    "method",
    "bits",
    "metric",
    "score",
    "fit_seconds",
    "n_train",
    "bytes_per_row",
    "code_entropy_bits",
]
# run_allocation.py also records the widths each run used.
ALLOCATION_FIELDS = [*FIELDS, "widths"]


def split(X, y, task, seed, max_train, max_test):
    """Fixed 60/20/20 split per seed; train+validation are returned together."""
    stratify = y if task == "classification" else None
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=stratify
    )
    n_rest = min(len(y_rest), int(max_train / 0.75))
    if n_rest < len(y_rest):
        X_rest, _, y_rest, _ = train_test_split(
            X_rest,
            y_rest,
            train_size=n_rest,
            random_state=seed,
            stratify=y_rest if task == "classification" else None,
        )
    if len(y_test) > max_test:
        X_test, y_test = X_test[:max_test], y_test[:max_test]
    return X_rest, X_test, y_rest, y_test


def code_entropy(codes: np.ndarray) -> float:
    """Mean over features of the empirical entropy of the codes, in bits."""
    total = 0.0
    for column in codes.T:
        p = np.bincount(column) / len(column)
        p = p[p > 0]
        total += float(-(p * np.log2(p)).sum())
    return total / codes.shape[1]


def run_one(task_spec, folder, args):
    """One fitted and scored run as a CSV row."""
    return fit_one(task_spec, folder, args)[0]


def fit_one(task_spec, folder, args):
    """Fit one run: its CSV row, the fitted model, the training rows, the test
    rows and their target."""
    import torch

    from sklearn_bsq import FullPrecisionMLP, SoftQuantizer

    torch.set_num_threads(1)  # one thread per worker: no oversubscription
    name, seed, method, bits = task_spec
    X, y, task = datasets.load(name, folder)
    X_rest, X_test, y_rest, y_test = split(
        X, y, task, seed, args.max_train, args.max_test
    )
    if task == "regression":  # train and score on the standardized target
        mean, std = y_rest.mean(), y_rest.std()
        y_rest, y_test = (y_rest - mean) / std, (y_test - mean) / std
    common = dict(
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=args.patience,
        random_state=seed,
    )
    # Network and training settings: the library's defaults unless given.
    given = dict(
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden_layer_sizes=None if args.hidden is None else tuple(args.hidden),
    )
    common.update({k: v for k, v in given.items() if v is not None})
    if METHODS[method] is None:
        model = FullPrecisionMLP(task=task, **common)
    else:
        quantizer, init, representation = METHODS[method]
        widths = dict(n_bits=bits)
        if method in LEARNED_WIDTHS:
            widths = dict(n_bits=bits, allocation="learned")
        elif method != "bsq-default":  # the baselines and variants: one width
            widths = dict(n_bits=bits, allocation="uniform")
        if representation is not None:
            common["representation"] = representation
        quantizer_params = dict(quantizer=quantizer, threshold_init=init)
        quantizer_params.update(baseline_heads(method, {**common, **args.param}))
        model = SoftQuantizer(**widths, task=task, **quantizer_params)
    start = time.perf_counter()
    model.fit(X_rest, y_rest)
    seconds = time.perf_counter() - start
    metric, score = score_on_test(model, X_test, y_test, task)
    row = dict(
        dataset=name,
        task=task,
        seed=seed,
        method=method,
        bits=bits,
        metric=metric,
        score=score,
        fit_seconds=round(seconds, 3),
        n_train=int(len(y_rest) * 0.75),
        bytes_per_row=getattr(model, "bytes_per_row_", 4 * X.shape[1]),
        code_entropy_bits=""
        if METHODS[method] is None
        else round(code_entropy(model.encode(X_test)), 4),
        widths=" ".join(str(b) for b in getattr(model, "n_bits_", [])),
    )
    return row, model, (X_rest, X_test, y_test)


def score_on_test(model, X_test, y_test, task: str) -> tuple[str, float]:
    """The metric's name and the model's score on the test rows (the target
    standardized as ``fit_one`` gives it)."""
    pred = model.predict(X_test)
    if task == "classification":
        return "accuracy", float((pred == y_test).mean())
    return "mse", float(((pred - y_test) ** 2).mean())


def done_keys(path: Path) -> set:
    if not path.exists():
        return set()
    with path.open() as f:
        return {
            (r["dataset"], int(r["seed"]), r["method"], int(r["bits"]))
            for r in csv.DictReader(f)
        }


def check_columns(path: Path, fields: list[str]) -> None:
    """Refuse to append rows to an existing CSV with other columns (written by an
    older version or by another script) rather than leave it unreadable."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    if header != list(fields):
        raise SystemExit(
            f"{path} has the columns {header}, this script writes {list(fields)}; "
            "add the missing columns to it or give another --out."
        )


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data-dir",
        help="dataset folder (default $BSQ_DATA_DIR or ../shared/datasets)",
    )
    p.add_argument("--datasets", nargs="+", default=list(datasets.TASKS))
    p.add_argument(
        "--methods",
        nargs="+",
        default=[
            m
            for m in METHODS
            if m
            not in LEARNED_WIDTHS
            | {"bsq-uniform", "bsq-embedding", "bsq-levels+thermometer"}
        ],
        choices=list(METHODS),
    )
    p.add_argument("--bits", nargs="+", type=int, default=[1, 2, 3, 4, 6, 8])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--max-train", type=int, default=4000)
    p.add_argument("--max-test", type=int, default=5000)
    # None: the library's default (the results in results/runs.csv were made with
    # --max-epochs 40 --batch-size 128 --lr 3e-3 --hidden 64 64 by the release
    # before dropout, lr_schedule and threshold_lr)
    p.add_argument("--max-epochs", type=int)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--hidden", nargs="+", type=int)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a SoftQuantizer parameter for every bsq-* method, the value read as "
        "JSON when it parses (e.g. threshold_lr=0.05, steepness=[4,64]); "
        "runs are keyed without it, so give such a probe its own --out",
    )
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.add_argument(
        "--quick",
        action="store_true",
        help="3 datasets, 1 seed, widths 2 and 4, small budget (CI smoke test)",
    )
    args = p.parse_args(argv)
    try:
        args.param = parse_params(args.param)
    except ValueError as exc:
        p.error(str(exc))
    if args.quick:
        args.datasets = ["wine_quality", "MagicTelescope", "satimage"]
        args.seeds, args.bits = [0], [2, 4]
        args.max_train, args.max_test, args.max_epochs = 1000, 1000, 8
        args.out = str(Path(args.out) / "quick")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    runs_path = execute(args, FIELDS)
    import summarize

    summarize.main([str(runs_path)])
    return 0


def runs_csv(args, fields) -> Path:
    """``args.out``/runs.csv, checked to have ``fields`` (before the data is
    looked for: a wrong CSV is refused on its own); removed for ``--quick``,
    which always runs from scratch."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "runs.csv"
    if args.quick and runs_path.exists():
        runs_path.unlink()
    check_columns(runs_path, fields)
    return runs_path


def execute(args, fields, run=run_one) -> Path:
    """Run every (dataset, seed, method, bits) not yet in the CSV with ``run``
    (a function of ``(spec, folder, args)`` returning the row); its path."""
    runs_path = runs_csv(args, fields)
    folder = datasets.data_dir(args.data_dir)
    done = done_keys(runs_path)
    todo = []
    for name in args.datasets:
        for seed in args.seeds:
            for method in args.methods:
                for bits in [32] if METHODS[method] is None else args.bits:
                    if (name, seed, method, bits) not in done:
                        todo.append((name, seed, method, bits))
    run_specs(runs_path, fields, todo, len(done), run, folder, args)
    return runs_path


def run_specs(runs_path, fields, todo, n_done, run, folder, args) -> None:
    """Run ``run(spec, folder, args)`` for every ``(dataset, seed, method, bits)``
    spec of ``todo`` and append its row to the CSV, a progress line each."""
    print(f"{len(todo)} runs to do ({n_done} already in {runs_path})", flush=True)
    append_runs(
        runs_path,
        fields,
        [delayed(run)(spec, folder, args) for spec in todo],
        lambda row: (
            f"{row['dataset']} seed={row['seed']} {row['method']} {row['bits']} bit: "
            f"{row['metric']}={row['score']:.4f} ({row['fit_seconds']:.1f}s)"
        ),
        args.jobs,
        extrasaction="ignore",
    )


def append_runs(runs_path, fields, calls, describe, jobs, extrasaction="raise"):
    """Run joblib's delayed ``calls`` on ``jobs`` workers and append each row
    they return to the CSV as it arrives (a header first on a new file), so an
    interrupted benchmark resumes; one progress line per row, ``describe(row)``."""
    new_file = not runs_path.exists()
    started = time.perf_counter()
    with runs_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction=extrasaction)
        if new_file:
            writer.writeheader()
        rows = Parallel(n_jobs=jobs, return_as="generator_unordered")(calls)
        for i, row in enumerate(rows, 1):
            writer.writerow(row)
            f.flush()
            elapsed = time.perf_counter() - started
            print(f"[{i}/{len(calls)} {elapsed:6.0f}s] {describe(row)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
