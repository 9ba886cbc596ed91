"""GPU check: fit and predict on CUDA, and the same bytes as on the CPU.

Usage (on a machine with CUDA): ``python benchmarks/gpu_check.py [--rows 200000]``

1. Fits ``SoftQuantizerClassifier(4, device="cuda")`` and the same estimator on the
   CPU (same seed, same data), side by side, and prints both fit times.
2. Equality of bytes: the CUDA model's thresholds are copied into the CPU model
   (through the fitted-state contract) and both encode the same rows; the bytes
   must be identical, since encoding is numpy on the float32 thresholds either way.
3. Server path: ``predict_proba_packed`` on CUDA against the CPU with the same
   network, maximum absolute difference of the probabilities, and throughput.
4. ``save`` on the CUDA model, ``load(device="cpu")``: the same bytes.

Prints one line per check and exits with 1 if a check fails; exits with 2 when
torch finds no CUDA device.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_bsq import SoftQuantizerClassifier, load, save
from sklearn_bsq._estimator import estimator_from_state, fitted_state


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("torch finds no CUDA device; nothing to check.")
        return 2
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    params = dict(n_bits=4, max_epochs=args.epochs, random_state=0)
    gpu, t_gpu = timed(
        lambda: SoftQuantizerClassifier(device="cuda", **params).fit(X, y)
    )
    cpu, t_cpu = timed(lambda: SoftQuantizerClassifier(**params).fit(X, y))
    print(f"fit {args.rows:,} x {args.features}: cuda {t_gpu:.1f} s, cpu {t_cpu:.1f} s")
    failures = 0

    twin = estimator_from_state(SoftQuantizerClassifier, fitted_state(gpu))
    same = np.array_equal(twin.transform(X), gpu.transform(X))
    print(f"bytes of the CUDA model encoded on the CPU equal its own: {same}")
    failures += not same

    packed = gpu.transform(X)
    proba_gpu, t_serve_gpu = timed(lambda: gpu.predict_proba_packed(packed))
    proba_cpu, t_serve_cpu = timed(lambda: twin.predict_proba_packed(packed))
    gap = float(np.abs(proba_gpu - proba_cpu).max())
    print(
        f"predict_proba_packed: cuda {args.rows / t_serve_gpu:,.0f} rows/s, cpu "
        f"{args.rows / t_serve_cpu:,.0f} rows/s, max |difference| {gap:.2e}"
    )
    failures += not gap < 1e-5

    with tempfile.TemporaryDirectory() as tmp:
        save(gpu, Path(tmp) / "gpu.bsq.npz")
        loaded = load(Path(tmp) / "gpu.bsq.npz", device="cpu")
    same = np.array_equal(loaded.transform(X), packed)
    print(f"saved on CUDA, loaded on the CPU: same bytes {same}")
    failures += not same
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
