"""Which coder for one-row messages: the range coder against prefix (Huffman) codes.

Usage: ``python benchmarks/coder_choice.py [--datasets ...] [--seed 0]``

For every dataset, the default model at 4 bits is fitted under the protocol of
``run_accuracy.py`` (4,000 training rows); its test rows' codes are then coded
four ways with tables learned from the training rows' codes, every message
rounded up to whole bytes and replaced by the v1 row when that is not longer
(as format v2 does):

- Huffman: one prefix code per feature, from the same smoothed frequencies;
- Huffman with contexts: one prefix code per context code (the model's contexts);
- range coder, one table per feature;
- range coder with contexts: format v2 as the model writes it.

Prints mean bits per row. A prefix code spends at least one bit per feature,
which is what it loses on features whose code is mostly one value.
"""

from __future__ import annotations

import argparse
import heapq
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import run_accuracy  # noqa: E402


def huffman_lengths(frequencies: np.ndarray) -> np.ndarray:
    """Code length of every symbol of a Huffman code for these frequencies."""
    if len(frequencies) == 1:
        return np.zeros(1, dtype=np.int64)
    heap = [(int(f), i, [i]) for i, f in enumerate(frequencies)]
    heapq.heapify(heap)
    lengths = np.zeros(len(frequencies), dtype=np.int64)
    order = len(frequencies)
    while len(heap) > 1:
        f1, _, a = heapq.heappop(heap)
        f2, _, b = heapq.heappop(heap)
        lengths[a + b] += 1
        heapq.heappush(heap, (f1 + f2, order, a + b))
        order += 1
    return lengths


def prefix_bits(codes, tables, v1_bits: int) -> float:
    """Mean message bits of per-feature (or per-context) Huffman codes."""
    bits = np.zeros(len(codes), dtype=np.int64)
    for j, table in enumerate(tables.frequencies):
        if not table.size:
            continue
        lengths = np.stack([huffman_lengths(row) for row in table])
        bits += lengths[tables.row_index(codes, j), codes[:, j]]
    whole_bytes = 8 * -(-bits // 8)
    return float(np.minimum(whole_bytes, v1_bits).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(datasets.TASKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    from sklearn_bsq._entropy import CodeTables, RangeCoder, code_frequencies

    protocol = run_accuracy.parse_args(["--methods", "bsq-default"])
    folder = datasets.data_dir(args.data_dir)
    print(
        f"{'dataset':16s} {'v1':>5s} {'Huffman':>8s} {'Huff+ctx':>9s} "
        f"{'range':>7s} {'range+ctx':>10s}   (mean bits per row, test rows)"
    )
    for name in args.datasets:
        spec = (name, args.seed, "bsq-default", 4)
        _, model, (X_train, X_test, _) = run_accuracy.fit_one(spec, folder, protocol)
        widths = model.n_bits_
        train, test = model.encode(X_train), model.encode(X_test)
        v1_bits = 8 * model.bytes_per_row_
        plain = CodeTables.checked(
            [
                code_frequencies(train[:, j], int(b)) if b else np.zeros(0, int)
                for j, b in enumerate(widths)
            ],
            None,
            widths,
        )
        with_context = model.codec_.code_tables
        results = [
            prefix_bits(test, plain, v1_bits),
            prefix_bits(test, with_context, v1_bits),
            float(RangeCoder(widths, plain).message_bits(test).mean()),
            float(model.codec_.message_bits(test).mean()),
        ]
        print(
            f"{name:16s} {v1_bits:5d} "
            + " ".join(
                f"{r:>{w}.1f}" for r, w in zip(results, (8, 9, 7, 10), strict=True)
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
