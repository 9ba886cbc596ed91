"""Node and server cost of format v2 messages against wire format v1.

Usage: ``python benchmarks/message_speed.py [--rows 200000]``

Fits the default model at 4 bits on 4,000 rows of california, then times, side by
side in one process (best of three), on ``--rows`` rows (the dataset tiled):
``transform`` against ``compress`` (node side, numpy) and ``decode`` against
``decompress`` and ``predict_packed`` against ``predict_compressed`` (server
side). Prints rows per second and the ratios; the machine is shared, so only the
ratios mean much.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
from run_speed import best_time  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    from sklearn_bsq import SoftQuantizerRegressor

    X, y, _ = datasets.load("california", datasets.data_dir(args.data_dir))
    model = SoftQuantizerRegressor(4, random_state=0).fit(X[:4000], y[:4000])
    rows = np.tile(X, (-(-args.rows // len(X)), 1))[: args.rows]
    packed, messages = model.transform(rows), model.compress(rows)
    bits = 8 * np.mean([len(m) for m in messages])
    print(
        f"california, default model at 4 bits, {len(rows):,} rows: v1 "
        f"{8 * model.bytes_per_row_} bits, v2 {bits:.1f} bits per row on average"
    )
    pairs = [
        (
            "node",
            "transform",
            lambda: model.transform(rows),
            "compress",
            lambda: model.compress(rows),
        ),
        (
            "server",
            "decode",
            lambda: model.decode(packed),
            "decompress",
            lambda: model.decompress(messages),
        ),
        (
            "server",
            "predict_packed",
            lambda: model.predict_packed(packed),
            "predict_compressed",
            lambda: model.predict_compressed(messages),
        ),
    ]
    for side, v1_name, v1_call, v2_name, v2_call in pairs:
        v1_rate = len(rows) / best_time(v1_call, 3)
        v2_rate = len(rows) / best_time(v2_call, 3)
        print(
            f"{side:6s} {v1_name:>15s} {v1_rate:>13,.0f} rows/s   {v2_name:>18s} "
            f"{v2_rate:>13,.0f} rows/s   v2/v1 {v2_rate / v1_rate:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
