"""Speed and memory of the node and server paths, measured side by side in one run.

Usage: ``python benchmarks/run_speed.py [--rows 1000000] [--features 16]``

Reports, per bit width, for a float32 array of ``rows x features``:
- ``transform`` (encode + pack) against ``KBinsDiscretizer(encode="ordinal")
  .transform`` with the same number of bins, and against ``X.copy()`` (the memory
  bandwidth limit), in million features per second and as ratios;
- ``decode`` + ``predict_packed`` throughput (the default network);
- peak memory of ``transform`` (tracemalloc) relative to the input size;
- ``fit`` of SoftQuantizer against the same MLP trained by plain skorch without the
  quantizer, same data, epochs and batch size: one (64, 64) MLP (``n_heads=1``),
  so the ratio is the price of the quantizer and the training loop.
Times are the best of ``--repeats`` runs. Ratios are what to read: this machine is
shared and noisy, absolute times are not comparable between runs. The table and a
plot go to ``--out`` (default ``benchmarks/results/speed``) as ``summary.md`` and
``speed.png``.

``--server`` instead measures the server path side by side (200,000 rows, 16
features, 4 bits, one (64, 64) MLP, by default): ``predict_packed`` against the
bare torch module on ready int64 code tensors and against scikit-learn's
``MLPClassifier.predict`` (same hidden sizes) on the float inputs, in rows per
second; and the peak memory ``predict_packed`` adds (in a fresh process: the peak
resident size, reset before the call, minus the resident size before it; Linux)
against the packed input. Targets: >= 0.5x the bare
module, >= 1x MLPClassifier, memory <= 4x the input plus one batch of activations.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from sklearn.preprocessing import KBinsDiscretizer
from skorch import NeuralNetClassifier

from sklearn_bsq import SoftQuantizer
from sklearn_bsq._network import PREDICT_BATCH_ROWS, PlainMLP


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
    sq = SoftQuantizer(
        bits,
        hidden_layer_sizes=(64, 64),
        n_heads=1,
        max_epochs=epochs,
        batch_size=128,
        random_state=0,
    )

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


_MEMORY_CHILD = """
import pickle, sys
import numpy as np
def status(field):
    text = open("/proc/self/status").read().split(field + ":")[1]
    return int(text.split()[0]) * 1024
sq = pickle.load(open(sys.argv[1], "rb"))
packed = np.load(sys.argv[2])
sq.predict_packed(packed[:8192])  # one-time allocations (threads, BLAS buffers)
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM)
before = status("VmRSS")
sq.predict_packed(packed)
print(status("VmHWM") - before)
"""


def server(rows: int, d: int, bits: int, repeats: int) -> None:
    """The server path against the bare module and MLPClassifier, one run."""
    import pickle
    import subprocess
    import tempfile
    from pathlib import Path

    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, d)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    fit_rows = slice(0, 5000)
    sq = SoftQuantizer(
        bits, hidden_layer_sizes=(64, 64), n_heads=1, max_epochs=2, random_state=0
    ).fit(X[fit_rows], y[fit_rows])
    mlp = MLPClassifier((64, 64), max_iter=5, random_state=0).fit(
        X[fit_rows], y[fit_rows]
    )
    packed = sq.transform(X)
    module = sq.net_.module_
    codes = torch.as_tensor(sq.decode(packed).astype(np.int64))

    def bare():
        with torch.inference_mode():
            module(codes=codes)

    t_packed = best_time(lambda: sq.predict_proba_packed(packed), repeats)
    t_bare = best_time(bare, repeats)
    t_mlp = best_time(lambda: mlp.predict_proba(X), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        model, data = Path(tmp) / "m.pkl", Path(tmp) / "p.npy"
        model.write_bytes(pickle.dumps(sq))
        np.save(data, packed)
        grew = int(
            subprocess.run(
                [sys.executable, "-c", _MEMORY_CHILD, str(model), str(data)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
        )
    # one batch: the int64 codes, the quantizer's steps and output, the layers
    widths = [2 * d, 2 * module.quantizer.out_features, 64, 64, 2]
    batch = max(sq.batch_size, PREDICT_BATCH_ROWS)
    activations = batch * sum(widths) * 4  # float32 (int64 codes counted twice)
    print(
        f"server path, {rows:,} x {d} at {bits} bits, (64, 64) network, "
        f"torch threads {torch.get_num_threads()}:\n"
        f"  predict_proba_packed: {rows / t_packed:,.0f} rows/s\n"
        f"  bare module on ready code tensors: {rows / t_bare:,.0f} rows/s "
        f"(predict_proba_packed: {t_bare / t_packed:.2f}x; target >= 0.5x)\n"
        f"  MLPClassifier.predict_proba on float32: {rows / t_mlp:,.0f} rows/s "
        f"(predict_proba_packed: {t_mlp / t_packed:.2f}x; target >= 1x)\n"
        f"  peak memory added by predict_packed: {grew / 1e6:.1f} MB for "
        f"{packed.nbytes / 1e6:.1f} MB of packed input = {grew / packed.nbytes:.1f}x; "
        f"target <= 4x + one batch of activations "
        f"({activations / 1e6:.1f} MB): {4 * packed.nbytes + activations >= grew}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--bits", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fit-rows", type=int, default=20_000)
    parser.add_argument("--fit-epochs", type=int, default=5)
    parser.add_argument("--server", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "speed"
    )
    args = parser.parse_args(argv)
    if args.server:
        rows = 200_000 if args.rows == 1_000_000 else args.rows
        server(
            rows,
            args.features,
            4 if args.bits == [1, 2, 4, 8] else args.bits[0],
            args.repeats,
        )
        return 0
    n, d = args.rows, args.features
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    sample = X[:2000]
    y_sample = (sample[:, 0] > 0).astype(int)
    mfeat = n * d / 1e6
    copy_s = best_time(lambda: X.copy(), args.repeats)
    lines = [
        f"{n} x {d} float32 ({X.nbytes / 1e6:.0f} MB); X.copy(): {mfeat / copy_s:.0f} "
        f"M features/s; torch threads: {torch.get_num_threads()}"
    ]
    print(lines[0])
    header = (
        f"{'bits':>4} {'transform Mf/s':>14} {'KBins Mf/s':>10} {'vs KBins':>8} "
        f"{'vs copy':>7} {'decode+predict_packed rows/s':>28} {'peak mem/input':>14} "
        f"{'fit sq/plain':>12}"
    )
    lines += [header, "-" * len(header)]
    print("\n".join(lines[1:]))
    measured = []
    for bits in args.bits:
        sq = SoftQuantizer(bits, max_epochs=1, random_state=0).fit(sample, y_sample)
        kbins = KBinsDiscretizer(n_bins=2**bits, encode="ordinal", strategy="uniform")
        kbins.fit(sample)
        t_sq = best_time(lambda sq=sq: sq.transform(X), args.repeats)
        t_kb = best_time(lambda kbins=kbins: kbins.transform(X), args.repeats)
        packed = sq.transform(X)
        t_server = best_time(lambda sq=sq, p=packed: sq.predict_packed(p), args.repeats)
        peak = peak_memory(lambda sq=sq: sq.transform(X))
        sq_fit, plain_fit = fit_ratio(
            bits, args.fit_rows, d, args.fit_epochs, args.repeats
        )
        measured.append((bits, mfeat / t_sq, mfeat / t_kb, n / t_server))
        lines.append(
            f"{bits:>4} {mfeat / t_sq:>14.0f} {mfeat / t_kb:>10.0f} "
            f"{t_kb / t_sq:>7.1f}x {copy_s / t_sq:>6.2f}x {n / t_server:>28,.0f} "
            f"{peak / X.nbytes:>13.2f}x {sq_fit / plain_fit:>11.2f}x"
        )
        print(lines[-1], flush=True)
    write_results(args.out, argv, lines, measured)
    return 0


def write_results(out: Path, argv, lines: list[str], measured: list[tuple]) -> None:
    """``summary.md`` (the command, the machine, the table) and ``speed.png``."""
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python benchmarks/run_speed.py", *(argv or sys.argv[1:])])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    text = [
        "# Node and server speed",
        "",
        f"Generated by `{command.strip()}` on {machine}; times are the best of the "
        "repeats, ratios measured side by side in one run (see the script's "
        "docstring). The default network: five heads of 128-128.",
        "",
        "```text",
        *lines,
        "```",
        "",
    ]
    (out / "summary.md").write_text("\n".join(text))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = zip(*measured, strict=True)
    bits, ours, kbins, server_rows = (list(column) for column in columns)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(bits, ours, "o-", label="transform (encode + pack)")
    left.plot(bits, kbins, "s--", label="KBinsDiscretizer.transform")
    left.set_xlabel("bits per feature")
    left.set_ylabel("million features per second")
    left.set_title("the node")
    left.legend()
    right.plot(bits, server_rows, "o-", color="C2")
    right.set_xlabel("bits per feature")
    right.set_ylabel("rows per second")
    right.set_title("the server: decode + predict_packed")
    for ax in (left, right):
        ax.set_xticks(bits)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(out / "speed.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
