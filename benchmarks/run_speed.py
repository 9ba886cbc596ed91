"""Speed and memory of the node and server paths, measured side by side in one run.

Usage: ``python benchmarks/run_speed.py [--rows 1000000] [--features 16]``

Reports, per bit width, for a float32 array of ``rows x features``:
- ``transform`` (encode + pack) against ``KBinsDiscretizer(encode="ordinal")
  .transform`` with the same number of bins, and against ``X.copy()`` (the memory
  bandwidth limit), in million features per second and as ratios;
- ``decode`` + ``predict_packed`` throughput;
- peak memory of ``transform`` (tracemalloc) relative to the input size;
- ``fit`` of SoftQuantizer against the same MLP trained by plain skorch without the
  quantizer, same data, epochs and batch size.
Times are the best of ``--repeats`` runs. Ratios are what to read: this machine is
shared and noisy, absolute times are not comparable between runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np
import torch
from sklearn.preprocessing import KBinsDiscretizer
from skorch import NeuralNetClassifier

from sklearn_bsq import SoftQuantizer
from sklearn_bsq._network import PlainMLP


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_memory(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def fit_ratio(
    bits: int, n: int, d: int, epochs: int, repeats: int
) -> tuple[float, float]:
    """Best-of-``repeats`` seconds to fit SoftQuantizer and the plain skorch MLP on
    the same data, the two fits alternating so that both see the same load."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(np.int64)
    sq = SoftQuantizer(bits, max_epochs=epochs, batch_size=128, random_state=0)

    def plain():
        torch.manual_seed(0)
        NeuralNetClassifier(
            PlainMLP(d, (64, 64), 2),
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            lr=3e-3,
            max_epochs=epochs,
            batch_size=128,
            train_split=None,
            verbose=0,
            iterator_train__shuffle=True,
        ).fit(X, y)

    sq_times, plain_times = [], []
    for _ in range(repeats):
        sq_times.append(best_time(lambda: sq.fit(X, y), 1))
        plain_times.append(best_time(plain, 1))
    return min(sq_times), min(plain_times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--bits", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fit-rows", type=int, default=20_000)
    parser.add_argument("--fit-epochs", type=int, default=5)
    args = parser.parse_args(argv)
    n, d = args.rows, args.features
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    sample = X[:2000]
    y_sample = (sample[:, 0] > 0).astype(int)
    mfeat = n * d / 1e6
    copy_s = best_time(lambda: X.copy(), args.repeats)
    print(
        f"{n} x {d} float32 ({X.nbytes / 1e6:.0f} MB); X.copy(): {mfeat / copy_s:.0f} "
        f"M features/s; torch threads: {torch.get_num_threads()}"
    )
    header = (
        f"{'bits':>4} {'transform Mf/s':>14} {'KBins Mf/s':>10} {'vs KBins':>8} "
        f"{'vs copy':>7} {'decode+predict_packed rows/s':>28} {'peak mem/input':>14} "
        f"{'fit sq/plain':>12}"
    )
    print(header)
    print("-" * len(header))
    for bits in args.bits:
        sq = SoftQuantizer(bits, max_epochs=1, random_state=0).fit(sample, y_sample)
        kbins = KBinsDiscretizer(n_bins=2**bits, encode="ordinal", strategy="uniform")
        kbins.fit(sample)
        t_sq = best_time(lambda sq=sq: sq.transform(X), args.repeats)
        t_kb = best_time(lambda kbins=kbins: kbins.transform(X), args.repeats)
        packed = sq.transform(X)
        t_server = best_time(lambda sq=sq, p=packed: sq.predict_packed(p), 1)
        peak = peak_memory(lambda sq=sq: sq.transform(X))
        sq_fit, plain_fit = fit_ratio(
            bits, args.fit_rows, d, args.fit_epochs, args.repeats
        )
        print(
            f"{bits:>4} {mfeat / t_sq:>14.0f} {mfeat / t_kb:>10.0f} "
            f"{t_kb / t_sq:>7.1f}x {copy_s / t_sq:>6.2f}x {n / t_server:>28,.0f} "
            f"{peak / X.nbytes:>13.2f}x {sq_fit / plain_fit:>11.2f}x",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
