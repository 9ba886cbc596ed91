"""The command line on files: fit a model on a CSV or Parquet table, turn tables into
the bytes a node sends, predict from tables or bytes, export encoders, describe a
model. Tables are read with pandas (``pip install "sklearn-bsq[cli]"``); every file
is written atomically (a temporary file renamed into place)."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from ._distill import distill
from ._estimator import SoftQuantizer, check_parameters
from ._files import write_atomically
from ._target import looks_like_quantity
from .export import export_c, export_onnx, export_python
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
    if not path.endswith((".parquet", ".csv", ".csv.gz")):
        raise UsageError(f"{path}: give a .csv, .csv.gz or .parquet file")
    try:
        if path.endswith(".parquet"):
            table = pd.read_parquet(path)
        elif path.endswith(".gz"):
            # whole, so that a truncated file is an error, not fewer rows
            with gzip.open(path) as f:
                table = pd.read_csv(io.BytesIO(f.read()))
        else:
            table = pd.read_csv(path)
    except (ValueError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        # pandas' ParserError and EmptyDataError are ValueErrors; a damaged
        # .gz is an OSError (BadGzipFile), a zlib.error or an EOFError
        raise UsageError(f"{path} is not a readable table: {exc}") from exc
    if len(table) == 0:
        raise UsageError(f"{path} has a header but no rows")
    (first, *others) = map(str, table.columns)
    separator = next((c for c in ";\t|" if c in first), None)
    if not others and separator is not None:
        shown = first if len(first) <= 40 else first[:40] + "..."
        raise UsageError(
            f"{path} reads as one column, {shown!r}: its values are "
            f"separated by {separator!r}, not commas; write it with commas, e.g. "
            f"pandas.read_csv(path, sep={separator!r}).to_csv(new_path, index=False)"
        )
    return table


def output_path(args, *inputs) -> Path:
    """``-o``, checked before any work: a file name, in a folder that exists,
    and none of the command's inputs (nothing given is ever overwritten)."""
    text = args.output
    if not text:
        raise UsageError("-o needs a file name")
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"-o {text} is a directory; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"-o {text}: no such directory {path.parent}")
    for given in inputs:
        if given and _same_file(path, Path(given)):
            raise UsageError(f"-o {text} is the input {given}; write to another file")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        return False
    return os.path.realpath(a) == os.path.realpath(b)


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

    output = output_path(args, args.data)
    table = read_table(args.data)
    columns = [args.target] + ([args.sample_weight] if args.sample_weight else [])
    for column in columns:
        if column not in table.columns:
            raise UsageError(
                f"no column {column!r} in {args.data}; its columns: "
                f"{list(table.columns)}"
            )
    _refuse_missing_values(table, args.data)
    X, y = table.drop(columns=columns), table[args.target].to_numpy()
    weights = table[args.sample_weight].to_numpy() if args.sample_weight else None
    task, why = choose_task(args.task, y)
    n_bits = "auto" if args.bit_budget else args.bits
    try:
        params = parse_params(args.param)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if "random_state" in params:
        raise UsageError("give the seed with --seed, not --param random_state")
    try:
        model = SoftQuantizer(n_bits, bit_budget=args.bit_budget, task=task)
        model.set_params(random_state=args.seed, **params)
        model.set_params(verbose=max(model.verbose, int(sys.stderr.isatty())))
        check_parameters(model)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"task: {task} ({why})")
    score = None
    start = time.perf_counter()
    # the epoch table (verbose) goes to stderr: stdout is the report
    with contextlib.redirect_stdout(sys.stderr):
        if args.holdout > 0:
            rows = np.arange(len(y))
            fit_rows, held_out = train_test_split(
                rows, test_size=args.holdout, random_state=args.seed
            )
            fit_weights = _rows(weights, fit_rows)
            if fit_weights is not None and not np.any(fit_weights > 0):
                raise UsageError(
                    f"every row left for training after --holdout {args.holdout} "
                    "has weight 0; give more rows a positive weight or a smaller "
                    "--holdout"
                )
            model.fit(X.iloc[fit_rows], y[fit_rows], sample_weight=fit_weights)
            score = model.score(
                X.iloc[held_out], y[held_out], sample_weight=_rows(weights, held_out)
            )
        else:
            model.fit(X, y, sample_weight=weights)
    seconds = time.perf_counter() - start
    save(model, output)
    measure = "accuracy" if model.task_ == "classification" else "R2"
    print(f"model {model.model_id_}: {model.task_}, {model.n_features_in_} features")
    print(f"bits per feature: {model.n_bits_.tolist()}")
    print(
        f"{_bytes(model.bytes_per_row_)} per row, {model.compression_ratio_:.1f}x "
        "smaller than float32"
    )
    if score is not None:
        print(f"held-out {measure} ({args.holdout:.0%} of the rows): {score:.4f}")
    print(f"fit in {seconds:.1f} s; saved to {output}")
    return 0


def choose_task(task: str, y) -> tuple[str, str]:
    """The task to train and why: as given, or read from the target (whole
    numbers with many distinct values and few rows each are a quantity)."""
    from sklearn.utils.multiclass import type_of_target

    if task != "auto":
        return task, "--task"
    kind = type_of_target(y)
    if kind == "continuous":
        return "regression", "the target has fractional values"
    if kind not in ("binary", "multiclass"):
        raise UsageError(
            f"cannot tell the task from a target of type {kind!r}; give --task"
        )
    n_values = np.unique(y).size
    if looks_like_quantity(y):
        return "regression", (
            f"{n_values} distinct whole numbers, {len(y) / n_values:.1f} rows each "
            "on average: a quantity; --task classification to keep them as classes"
        )
    return "classification", f"{n_values} classes; --task regression if a quantity"


def _refuse_missing_values(table, path: str) -> None:
    """Missing values anywhere (the held-out rows too) refused before training."""
    missing = table.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        column, count = missing.index[0], int(missing.iloc[0])
        raise UsageError(
            f"{path} has missing values ({count} in column {column!r}"
            + (f" and {len(missing) - 1} more columns" if len(missing) > 1 else "")
            + "); fill or drop them first"
        )


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


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def transform(args) -> int:
    output = output_path(args, args.model, args.data)
    model = load(args.model)
    if args.coding == "entropy":
        return _write_messages(args, model, output)
    packed = model.transform(_features(model, read_table(args.data)))
    if args.format == "npy":
        write_atomically(output, lambda f: np.save(f, packed))
    elif args.format == "hex":
        text = "".join(row.tobytes().hex() + "\n" for row in packed)
        write_atomically(output, lambda f: f.write(text.encode("ascii")))
    else:
        write_atomically(output, lambda f: f.write(packed.tobytes()))
    print(f"{len(packed)} rows, {_bytes(model.bytes_per_row_)} each, to {output}")
    return 0


def _write_messages(args, model, output: Path) -> int:
    """Format v2 messages: raw, each behind its 2-byte big-endian length; or
    hex, one a line (an empty line for an empty message)."""
    if args.format == "npy":
        raise UsageError("--coding entropy writes raw or hex: messages vary in length")
    try:
        messages = model.compress(_features(model, read_table(args.data)))
    except ValueError as error:  # a model saved without code frequencies
        raise UsageError(str(error)) from error
    # The file's framing is not part of a message: the line below names it, so
    # that a file larger than the v1 rows' does not read as longer messages.
    if args.format == "hex":
        data = "".join(m.hex() + "\n" for m in messages).encode("ascii")
        framing = "hex, a line each"
    else:
        data = b"".join(len(m).to_bytes(2, "big") + m for m in messages)
        framing = "2-byte lengths"
    write_atomically(output, lambda f: f.write(data))
    bits = 8 * sum(len(m) for m in messages) / max(1, len(messages))
    print(
        f"{len(messages)} messages, {bits:.1f} bits each on average "
        f"(v1: {8 * model.bytes_per_row_}), to {output} "
        f"({len(data):,} bytes with the file's framing: {framing})"
    )
    return 0


def _read_messages(path: str, given: str) -> list[bytes]:
    """Messages as ``_write_messages`` writes them (hex: by ``.hex``/``.txt``
    or ``--packed-format hex``)."""
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    data = Path(path).read_bytes()
    kind = given if given != "auto" else "raw"
    if given == "auto" and path.endswith((".hex", ".txt")):
        kind = "hex"
    if kind == "npy":
        raise UsageError("--coding entropy reads raw or hex messages, not npy")
    if kind == "hex":
        try:
            return [bytes.fromhex(line) for line in data.decode("ascii").splitlines()]
        except (UnicodeDecodeError, ValueError) as error:
            raise UsageError(f"{path} is not hex text, one message a line") from error
    messages, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise UsageError(f"{path} ends inside a message's length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise UsageError(f"{path} ends inside message {len(messages)}")
        messages.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return messages


NPY_MAGIC = b"\x93NUMPY"


def packed_format(path: str, data: bytes, given: str) -> str:
    """The format of a file of packed rows: as given, or by the file name
    (.npy, .hex or .txt, else raw), checked against the content so that a
    file of one format is never read as another (raw rows that happen to
    look like hex text are read as raw with ``--packed-format raw``)."""
    by_name = "npy" if path.endswith(".npy") else "raw"
    if path.endswith((".hex", ".txt")):
        by_name = "hex"
    chosen = by_name if given == "auto" else given
    looks_npy = data.startswith(NPY_MAGIC)
    looks_hex = bool(data) and not data.strip(b"0123456789abcdefABCDEF\r\n")
    if chosen == "npy" and not looks_npy:
        raise UsageError(f"{path} is not an .npy file (no npy header)")
    if chosen == "hex" and not looks_hex:
        raise UsageError(f"{path} is not hex text (one row of hex digits a line)")
    if given == "auto" and chosen == "raw" and (looks_npy or looks_hex):
        kind = "an .npy file" if looks_npy else "hex text"
        raise UsageError(
            f"{path} looks like {kind}, not raw rows; say which with "
            f"--packed-format {'npy' if looks_npy else 'hex'} (or raw)"
        )
    return chosen


def _read_packed(path: str, bytes_per_row: int, given: str = "auto") -> np.ndarray:
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    data = Path(path).read_bytes()
    kind = packed_format(path, data, given)
    if kind == "npy":
        packed = np.load(path, allow_pickle=False)
        if packed.dtype != np.uint8 or packed.ndim != 2:
            raise UsageError(f"{path} holds {packed.dtype} {packed.shape}, not rows")
        return packed
    if kind == "hex":
        lines = data.decode("ascii").split()
        if any(len(line) != 2 * bytes_per_row for line in lines):
            raise UsageError(
                f"{path}: every line must be one row, {2 * bytes_per_row} hex digits"
            )
        data = bytes.fromhex("".join(lines))
    if len(data) % bytes_per_row:
        raise UsageError(
            f"{path} holds {len(data)} bytes, not a whole number of "
            f"{bytes_per_row}-byte rows"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, bytes_per_row)


def predict(args) -> int:
    import pandas as pd

    if args.packed and args.data:
        raise UsageError(
            "predict takes a table (DATA) or --packed BYTES, not both: the "
            "predictions are of one or the other"
        )
    output = output_path(args, args.model, args.data, args.packed)
    model = load(args.model)
    if args.packed and args.coding == "entropy":
        messages = _read_messages(args.packed, args.packed_format)
        predictions = model.predict_compressed(messages)
    elif args.packed:
        packed = _read_packed(args.packed, model.bytes_per_row_, args.packed_format)
        predictions = model.predict_packed(packed)
    elif args.data:
        predictions = model.predict(_features(model, read_table(args.data)))
    else:
        raise UsageError("predict needs a table (DATA) or --packed BYTES")
    text = pd.DataFrame({"prediction": predictions}).to_csv(index=False)
    write_atomically(output, lambda f: f.write(text.encode("utf-8")))
    print(f"{len(predictions)} predictions to {output}")
    return 0


def export(args) -> int:
    output = output_path(args, args.model)
    model = load(args.model)
    if args.lang == "onnx":
        export_onnx(model, path=output, input=args.input)
        print(f"onnx model on {args.input} rows, model {model.model_id_}, to {output}")
        return 0
    if args.lang == "c":
        export_c(model, name=args.name, path=output)
    else:
        export_python(model, path=output)
    print(f"{args.lang} encoder for model {model.model_id_} to {output}")
    return 0


def distill_model(args) -> int:
    output = output_path(args, args.model, args.data)
    model = load(args.model)
    X = _features(model, read_table(args.data))
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # progress to stderr, as fit's
        student = distill(
            model,
            X,
            n_heads=args.heads,
            max_epochs=args.max_epochs,
            random_state=args.seed,
            verbose=int(sys.stderr.isatty()),
        )
    seconds = time.perf_counter() - start
    save(student, output)
    wanted, got = model.predict(X), student.predict(X)
    if model.task_ == "classification":
        agreement = f"the same label as the model on {np.mean(wanted == got):.1%}"
    else:
        residual = np.sum((wanted - got) ** 2)
        spread = np.sum((wanted - wanted.mean()) ** 2)
        r2 = 1 - residual / spread if spread > 0 else float(residual == 0)
        agreement = f"R2 {r2:.4f} against the model's predictions"
    print(
        f"model {student.model_id_} (the same codec): n_heads {model.n_heads} -> "
        f"{student.n_heads}; on these {len(got)} rows {agreement}"
    )
    print(f"distilled in {seconds:.1f} s; saved to {output}")
    return 0


def info(args) -> int:
    model = load(args.model)
    names = getattr(model, "feature_names_in_", None)
    names = [printable(str(n)) for n in names] if names is not None else None
    print(f"model {model.model_id_} ({type(model).__name__}, {model.task_})")
    print(
        f"{model.n_features_in_} features, {int(model.n_bits_.sum())} bits, "
        f"{_bytes(model.bytes_per_row_)} per row, {model.compression_ratio_:.1f}x "
        "smaller than float32"
    )
    for j, (width, t) in enumerate(zip(model.n_bits_, model.thresholds_, strict=True)):
        name = names[j] if names else f"x{j}"
        shown = ", ".join(f"{v:.6g}" for v in t[:4]) + (", ..." if len(t) > 4 else "")
        print(f"  {name}: {int(width)} bits, thresholds [{shown}]")
    return 0


def printable(text: str) -> str:
    """``text`` safe for a terminal: control and other unprintable characters
    (escape sequences, line breaks) written as Python escapes.

    >>> printable("temp\\x1b[2J\\nfake line")
    'temp\\\\x1b[2J\\\\nfake line'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


COMMANDS = {
    "fit": fit,
    "transform": transform,
    "predict": predict,
    "export": export,
    "distill": distill_model,
    "info": info,
}


def run(args) -> int:
    """Run a file command; a mistake is one line on stderr and exit code 2."""
    try:
        return COMMANDS[args.command](args)
    except (
        UsageError,
        ValueError,
        TypeError,
        OSError,  # missing, unreadable or read-only files, directories
        FloatingPointError,  # training diverged (a huge lr)
        MemoryError,
    ) as exc:
        message = str(exc).strip().replace("\n", " ") or type(exc).__name__
        print(f"sklearn-bsq {args.command}: error: {message}", file=sys.stderr)
        return 2
