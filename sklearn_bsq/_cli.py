"""The command line on files: fit a model on a CSV or Parquet table, turn tables into
the bytes a node sends, predict from tables or bytes, export encoders, describe a
model. Tables are read with pandas (``pip install "sklearn-bsq[cli]"``); every file
is written atomically (a temporary file renamed into place)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from ._estimator import SoftQuantizer
from ._files import write_atomically
from .export import export_c, export_python
from .persistence import load, save


class UsageError(Exception):
    """A mistake in the command or its files: reported in one line, exit code 2."""


def read_table(path: str):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UsageError(
            'the command line reads tables with pandas: pip install "sklearn-bsq[cli]"'
        ) from exc
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    raise UsageError(f"{path}: give a .csv, .csv.gz or .parquet file")


def parse_params(pairs: list[str]) -> dict:
    """``name=value`` pairs as keyword arguments; values are read as JSON when
    they parse as JSON (lists become tuples). A pair without "=" is a
    ``ValueError`` (also used by the benchmark scripts)."""
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--param takes name=value, got {pair!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        params[name] = tuple(value) if isinstance(value, list) else value
    return params


def fit(args) -> int:
    from sklearn.model_selection import train_test_split

    table = read_table(args.data)
    columns = [args.target] + ([args.sample_weight] if args.sample_weight else [])
    for column in columns:
        if column not in table.columns:
            raise UsageError(
                f"no column {column!r} in {args.data}; its columns: "
                f"{list(table.columns)}"
            )
    X, y = table.drop(columns=columns), table[args.target].to_numpy()
    weights = table[args.sample_weight].to_numpy() if args.sample_weight else None
    n_bits = "auto" if args.bit_budget else args.bits
    try:
        params = dict(random_state=args.seed, **parse_params(args.param))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        model = SoftQuantizer(n_bits, bit_budget=args.bit_budget, task=args.task)
        model.set_params(**params)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    score = None
    start = time.perf_counter()
    if args.holdout > 0:
        rows = np.arange(len(y))
        fit_rows, held_out = train_test_split(
            rows, test_size=args.holdout, random_state=args.seed
        )
        model.fit(X.iloc[fit_rows], y[fit_rows], sample_weight=_rows(weights, fit_rows))
        score = model.score(
            X.iloc[held_out], y[held_out], sample_weight=_rows(weights, held_out)
        )
    else:
        model.fit(X, y, sample_weight=weights)
    seconds = time.perf_counter() - start
    save(model, args.output)
    measure = "accuracy" if model.task_ == "classification" else "R2"
    print(f"model {model.model_id_}: {model.task_}, {model.n_features_in_} features")
    print(f"bits per feature: {model.n_bits_.tolist()}")
    print(
        f"{model.bytes_per_row_} bytes per row, {model.compression_ratio_:.1f}x "
        "smaller than float32"
    )
    if score is not None:
        print(f"held-out {measure} ({args.holdout:.0%} of the rows): {score:.4f}")
    print(f"fit in {seconds:.1f} s; saved to {args.output}")
    return 0


def _rows(weights, rows):
    """The weights of ``rows``, or None without weights."""
    return None if weights is None else weights[rows]


def _features(model, table):
    """The model's feature columns of ``table``, by name when it has names."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return table.to_numpy()
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise UsageError(f"the table lacks the model's feature columns {missing}")
    return table[list(names)]


def transform(args) -> int:
    model = load(args.model)
    packed = model.transform(_features(model, read_table(args.data)))
    if args.format == "npy":
        write_atomically(args.output, lambda f: np.save(f, packed))
    elif args.format == "hex":
        text = "".join(row.tobytes().hex() + "\n" for row in packed)
        write_atomically(args.output, lambda f: f.write(text.encode("ascii")))
    else:
        write_atomically(args.output, lambda f: f.write(packed.tobytes()))
    print(f"{len(packed)} rows, {model.bytes_per_row_} bytes each, to {args.output}")
    return 0


def _read_packed(path: str, bytes_per_row: int) -> np.ndarray:
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    data = Path(path).read_bytes()
    if path.endswith((".hex", ".txt")):
        data = bytes.fromhex(data.decode("ascii").replace("\n", ""))
    if len(data) % bytes_per_row:
        raise UsageError(
            f"{path} holds {len(data)} bytes, not a whole number of "
            f"{bytes_per_row}-byte rows"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, bytes_per_row)


def predict(args) -> int:
    import pandas as pd

    model = load(args.model)
    if args.packed:
        predictions = model.predict_packed(
            _read_packed(args.packed, model.bytes_per_row_)
        )
    elif args.data:
        predictions = model.predict(_features(model, read_table(args.data)))
    else:
        raise UsageError("predict needs a table (DATA) or --packed BYTES")
    text = pd.DataFrame({"prediction": predictions}).to_csv(index=False)
    write_atomically(args.output, lambda f: f.write(text.encode("utf-8")))
    print(f"{len(predictions)} predictions to {args.output}")
    return 0


def export(args) -> int:
    model = load(args.model)
    if args.lang == "c":
        export_c(model, name=args.name, path=args.output)
    else:
        export_python(model, path=args.output)
    print(f"{args.lang} encoder for model {model.model_id_} to {args.output}")
    return 0


def info(args) -> int:
    model = load(args.model)
    names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else None
    print(f"model {model.model_id_} ({type(model).__name__}, {model.task_})")
    print(
        f"{model.n_features_in_} features, {int(model.n_bits_.sum())} bits, "
        f"{model.bytes_per_row_} bytes per row, {model.compression_ratio_:.1f}x "
        "smaller than float32"
    )
    for j, (width, t) in enumerate(zip(model.n_bits_, model.thresholds_, strict=True)):
        name = names[j] if names else f"x{j}"
        shown = ", ".join(f"{v:.6g}" for v in t[:4]) + (", ..." if len(t) > 4 else "")
        print(f"  {name}: {int(width)} bits, thresholds [{shown}]")
    return 0


COMMANDS = {
    "fit": fit,
    "transform": transform,
    "predict": predict,
    "export": export,
    "info": info,
}


def run(args) -> int:
    """Run a file command; usage errors are one line on stderr and exit code 2."""
    try:
        return COMMANDS[args.command](args)
    except (UsageError, FileNotFoundError, ValueError, TypeError) as exc:
        print(f"sklearn-bsq {args.command}: error: {exc}", file=sys.stderr)
        return 2
