"""GPU check: fit and predict on CUDA, and the same bytes as on the CPU.

Usage (on a machine with CUDA): ``python benchmarks/gpu_check.py [--rows 200000]
[--out benchmarks/results/speed/gpu.md]``

``--device cpu`` runs every check with the CPU in CUDA's place (the tests run it
so, with a few rows, so that the script works the day a device is lent).
``--out FILE`` also writes the lines as a Markdown page with the command (less
``--out``), the device and the verdict: the file to commit after a run on a GPU.

1. Fits ``SoftQuantizerClassifier(4, device="cuda")`` and the same estimator on the
   CPU (same seed, same data), side by side, and prints both fit times.
2. Equality of bytes: the CUDA model's thresholds are copied into the CPU model
   (through the fitted-state contract) and both encode the same rows; the bytes
   must be identical, since encoding is numpy on the float32 thresholds either way.
3. Server path: ``predict_proba_packed`` on CUDA against the CPU with the same
   network, maximum absolute difference of the probabilities, and rows per
   second (best of three calls, after a first call that builds the tables).
4. ``save`` on the CUDA model, ``load(device="cpu")``: the same bytes.
5. The default regressor at 4 bits (the model the server benchmark serves),
   fitted on CUDA: ``predict_packed`` on CUDA against its CPU twin, the largest
   difference of the predictions as a share of the largest prediction, and rows
   per second.

Prints one line per check and exits with 1 if a check fails; exits with 2 when
torch finds no CUDA device (and writes no file).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_bsq import SoftQuantizerClassifier, SoftQuantizerRegressor, load, save
from sklearn_bsq._estimator import estimator_from_state, fitted_state


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def served(fn, rows: int):
    """``fn()``'s result and its best rows per second over three calls after a
    first one (tables built, CUDA kernels loaded)."""
    result = fn()
    best = min(timed(fn)[1] for _ in range(3))
    return result, rows / best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--device", default="cuda", help="cuda, or cpu to try the script itself"
    )
    parser.add_argument(
        "--out", type=Path, help="also write the lines as a Markdown page here"
    )
    args = parser.parse_args(argv)
    device = args.device
    if device == "cuda":
        if not torch.cuda.is_available():
            print("torch finds no CUDA device; nothing to check.")
            return 2
        torch.zeros(1, device=device)  # CUDA's start-up stays out of the fit time
        machine = (
            f"torch {torch.__version__} (CUDA {torch.version.cuda}), "
            f"{torch.cuda.get_device_name(0)}"
        )
    else:
        machine = f"torch {torch.__version__}, device {device} in CUDA's place"
    lines = []

    def report(line: str) -> None:
        print(line)
        lines.append(line)

    report(machine)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    params = dict(n_bits=4, max_epochs=args.epochs, random_state=0)
    gpu, t_gpu = timed(
        lambda: SoftQuantizerClassifier(device=device, **params).fit(X, y)
    )
    cpu, t_cpu = timed(lambda: SoftQuantizerClassifier(**params).fit(X, y))
    report(
        f"fit {args.rows:,} x {args.features}: {device} {t_gpu:.1f} s, "
        f"cpu {t_cpu:.1f} s"
    )
    passed = []  # one entry per check with a verdict (all but the fit times)

    twin = estimator_from_state(SoftQuantizerClassifier, fitted_state(gpu))
    same = np.array_equal(twin.transform(X), gpu.transform(X))
    report(f"bytes of the {device} model encoded on the CPU equal its own: {same}")
    passed.append(same)

    packed = gpu.transform(X)
    proba_gpu, speed_gpu = served(lambda: gpu.predict_proba_packed(packed), args.rows)
    proba_cpu, speed_cpu = served(lambda: twin.predict_proba_packed(packed), args.rows)
    gap = float(np.abs(proba_gpu - proba_cpu).max())
    report(
        f"predict_proba_packed: {device} {speed_gpu:,.0f} rows/s, cpu "
        f"{speed_cpu:,.0f} rows/s, max |difference| {gap:.2e}"
    )
    passed.append(gap < 1e-5)

    with tempfile.TemporaryDirectory() as tmp:
        save(gpu, Path(tmp) / "gpu.bsq.npz")
        loaded = load(Path(tmp) / "gpu.bsq.npz", device="cpu")
    same = np.array_equal(loaded.transform(X), packed)
    report(f"saved on {device}, loaded on the CPU: same bytes {same}")
    passed.append(same)

    target = X[:, 0] + np.sin(X[:, 1]) + 0.1 * rng.normal(size=args.rows)
    reg = SoftQuantizerRegressor(device=device, **params).fit(X, target)
    reg_twin = estimator_from_state(SoftQuantizerRegressor, fitted_state(reg))
    packed = reg.transform(X)
    pred_gpu, speed_gpu = served(lambda: reg.predict_packed(packed), args.rows)
    pred_cpu, speed_cpu = served(lambda: reg_twin.predict_packed(packed), args.rows)
    gap = float(np.abs(pred_gpu - pred_cpu).max() / np.abs(pred_cpu).max())
    report(
        f"default regressor ({reg.n_heads} heads) predict_packed: {device} "
        f"{speed_gpu:,.0f} rows/s, cpu {speed_cpu:,.0f} rows/s, max |difference| "
        f"{gap:.2e} of the largest prediction"
    )
    passed.append(gap < 1e-5)
    if args.out is not None:
        write_page(args.out, argv, lines, passed)
    return 0 if all(passed) else 1


def without_out(args: list[str]) -> list[str]:
    """The arguments less ``--out``'s: where the page went (on a device, a
    scratch folder) is not part of the command that made its lines."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            kept.append(arg)
    return kept


def write_page(path: Path, argv, lines: list[str], passed: list[bool]) -> None:
    """The run as a Markdown page: the command, its lines (the first names torch
    and the device), and the verdict."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/gpu_check.py", *without_out(args)])
    failed = passed.count(False)
    verdict = (
        f"{failed} of {len(passed)} checks failed."
        if failed
        else f"All {len(passed)} checks passed."
    )
    text = [
        "# GPU check",
        "",
        f"Generated by `{command}` ({lines[0]}). The checks are the script's "
        "docstring's; the fit times are one fit each.",
        "",
        *[f"- {line}" for line in lines[1:]],
        "",
        verdict,
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text))


if __name__ == "__main__":
    sys.exit(main())
