"""The server path over a Dask cluster against one process, side by side.

Usage: ``python benchmarks/dask_scale.py [--rows 4000000] [--workers 2]``
(needs ``pip install "sklearn-bsq[dask]"``).

Fits ``SoftQuantizerClassifier(4)`` on breast_cancer (30 features), makes
``--rows`` readings block by block on a ``distributed.LocalCluster`` (processes, one
thread each), and times ``transform`` then ``predict_packed`` per block on the
cluster (the second of two runs) against the same work in this process on the
materialised array; checks that the predictions are equal.
"""

from __future__ import annotations

import argparse
import time

import dask.array as da
import distributed
import numpy as np
from sklearn.datasets import load_breast_cancer

from sklearn_bsq import SoftQuantizerClassifier


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    X, y = load_breast_cancer(return_X_y=True)
    sq = SoftQuantizerClassifier(4, random_state=0).fit(X, y)
    cluster = distributed.LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    with distributed.Client(cluster):
        noise = da.random.default_rng(0).normal(
            size=(args.rows, 30), chunks=(250_000, 30)
        )
        rows = (noise * X.std(0) + X.mean(0)).astype(np.float32)
        packed = rows.map_blocks(
            sq.transform, dtype=np.uint8, chunks=(rows.chunks[0], (sq.bytes_per_row_,))
        )
        predicted = packed.map_blocks(sq.predict_packed, dtype=int, drop_axis=1)
        for _ in range(2):
            start = time.perf_counter()
            on_cluster = predicted.compute()
            t_cluster = time.perf_counter() - start
        local = rows.compute()
    cluster.close()
    start = time.perf_counter()
    in_memory = sq.predict_packed(sq.transform(local))
    t_local = time.perf_counter() - start
    print(
        f"{args.rows:,} x 30 readings, 4 bits, transform + predict_packed: cluster "
        f"({args.workers} workers x 1 thread, readings made on the workers) "
        f"{args.rows / t_cluster:,.0f} rows/s; this process "
        f"{args.rows / t_local:,.0f} rows/s; equal: "
        f"{np.array_equal(on_cluster, in_memory)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
