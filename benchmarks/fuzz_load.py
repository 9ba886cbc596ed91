"""Fuzz ``sklearn_bsq.load`` with damaged copies of a saved model.

Usage (from the repository root)::

    python benchmarks/fuzz_load.py              # 10,000 damaged files
    python benchmarks/fuzz_load.py --cases 500  # a quicker run

Each case copies a saved model (a small classifier with mixed widths and a
regressor, in turn) and damages it one way: a random bit flipped, a run of 1 to 64
bytes overwritten with random bytes, the file truncated at a random length, 1 to
64 of its first bytes dropped (zipfile then seeks before the start: an OSError),
its members deflated (a small file that inflates), or its class labels given a
string dtype of up to 500 million characters. ``load`` must then either raise
``ValueError`` or return a model whose bytes and predictions equal the
original's on the same rows (a flip in a part the loader never reads, such as a
zip comment, can be harmless). Anything else (another exception, an OSError
included, a different model, a case over 10 s) is a failure. Prints the counts
and writes ``results/fuzz_load.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np


def models():
    from sklearn.datasets import load_breast_cancer, load_diabetes

    from sklearn_bsq import SoftQuantizerClassifier, SoftQuantizerRegressor

    small = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    X, y = load_breast_cancer(return_X_y=True)
    clf = SoftQuantizerClassifier([1, 2, 3, 4, 5, 0] * 5, **small).fit(X, y)
    Xr, yr = load_diabetes(return_X_y=True)
    reg = SoftQuantizerRegressor(3, **small).fit(Xr, yr)
    return [(clf, X[:50]), (reg, Xr[:50])]


KINDS = ("flip", "overwrite", "truncate", "drop head", "deflate", "label dtype")


def damage(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    kind = KINDS[rng.integers(len(KINDS))]
    out = bytearray(data)
    if kind == "flip":
        at = int(rng.integers(len(out)))
        out[at] ^= 1 << int(rng.integers(8))
    elif kind == "overwrite":
        length = int(rng.integers(1, 65))
        at = int(rng.integers(len(out) - length))
        out[at : at + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    elif kind == "truncate":
        out = out[: int(rng.integers(len(out)))]
    elif kind == "drop head":
        out = out[int(rng.integers(1, 65)) :]
    elif kind == "deflate":
        out = _rezipped(data, zipfile.ZIP_DEFLATED)
    else:
        out = _with_label_dtype(data, f"<U{int(rng.integers(1, 500_000_000))}")
    return kind, bytes(out)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezipped(data: bytes, compression: int, members=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, content in (members or _members(data)).items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _with_label_dtype(data: bytes, dtype: str) -> bytes:
    """The file with string class labels of ``dtype`` (its metadata edited)."""
    members = _members(data)
    meta = np.load(io.BytesIO(members["__metadata__.npy"]), allow_pickle=False)
    metadata = json.loads(meta.tobytes())
    metadata["classes"] = {"dtype": dtype, "values": ["a", "b"]}
    text = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    buffer = io.BytesIO()
    np.save(buffer, text)
    members["__metadata__.npy"] = buffer.getvalue()
    return _rezipped(data, zipfile.ZIP_STORED, members)


def main(argv=None) -> int:
    from sklearn_bsq import load, save

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    folder = Path(tempfile.mkdtemp())
    originals = []
    for i, (est, X) in enumerate(models()):
        path = folder / f"model{i}.bsq.npz"
        save(est, path)
        originals.append((path.read_bytes(), est.transform(X), est.predict(X), X))
    counts = {"refused": 0, "loaded the same model": 0, "failure": 0}
    kinds: dict[str, int] = {}
    failures = []
    started = time.perf_counter()
    target = folder / "damaged.npz"
    for case in range(args.cases):
        data, packed, predictions, X = originals[case % len(originals)]
        kind, bad = damage(data, rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        target.write_bytes(bad)
        start = time.perf_counter()
        try:
            est = load(target)
            same = np.array_equal(est.transform(X), packed) and np.array_equal(
                est.predict(X), predictions
            )
            outcome = "loaded the same model" if same else "failure"
            detail = "loaded a different model"
        except ValueError:
            outcome, detail = "refused", ""
        except Exception as exc:  # noqa: BLE001 - every other exception is the finding
            outcome, detail = "failure", f"{type(exc).__name__}: {exc}"
        if time.perf_counter() - start > 10:
            outcome, detail = "failure", "took over 10 s"
        counts[outcome] += 1
        if outcome == "failure":
            failures.append(f"case {case} ({kind}): {detail}")
        if (case + 1) % 1000 == 0:
            print(
                f"{case + 1} cases, {time.perf_counter() - started:.0f} s: {counts}",
                flush=True,
            )
    lines = [
        "# Fuzzing `load`",
        "",
        f"`python benchmarks/fuzz_load.py --cases {args.cases} --seed {args.seed}`: "
        f"{args.cases} damaged copies of two saved models "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}).",
        "",
        *(f"- {k}: {n}" for k, n in counts.items()),
        "",
        *(f"- {f}" for f in failures[:50]),
    ]
    out = Path(__file__).parent / "results" / "fuzz_load.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    for path in folder.iterdir():
        os.unlink(path)
    folder.rmdir()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
