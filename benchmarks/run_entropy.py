"""Message bits of format v2 (range-coded) against wire format v1, on real data.

Usage (from the repository root)::

    python benchmarks/run_entropy.py              # 14 datasets, resumes from the CSV
    python benchmarks/run_entropy.py --quick      # smoke test

The protocol of ``run_accuracy.py`` (same splits, seeds, budget; it takes the same
options) for the default model at every width; each run also records, on the test
rows, the mean format v2 message bits, the cross-entropy of the test codes under
the tables learned at fit, the share of rows sent as v1, and the model's own
held-out estimate ``mean_message_bits_``. ``summarize_entropy.py`` writes
``summary.md`` and the rate-accuracy plots from ``runs.csv``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_accuracy  # noqa: E402

FIELDS = [
    *run_accuracy.FIELDS,
    "n_features",
    "message_bits",
    "cross_entropy_bits",
    "v1_share",
    "estimated_message_bits",
    "compress_seconds",
    "transform_seconds",
]
DEFAULT_OUT = Path(__file__).parent / "results" / "entropy"


def run_one(spec, folder, args):
    """A run of ``run_accuracy`` plus the message sizes of its test rows."""
    from sklearn_bsq._entropy import cross_entropy_bits

    row, model, (_, X_test, _) = run_accuracy.fit_one(spec, folder, args)
    codes = model.encode(X_test)
    bits = model.codec_.message_bits(codes)
    start = time.perf_counter()
    model.compress(X_test)
    compress_seconds = time.perf_counter() - start
    start = time.perf_counter()
    model.transform(X_test)
    transform_seconds = time.perf_counter() - start
    cross_entropy = cross_entropy_bits(codes, model.codec_.code_tables)
    row.update(
        n_features=X_test.shape[1],
        message_bits=round(float(bits.mean()), 4),
        cross_entropy_bits=round(float(cross_entropy.mean()), 4),
        v1_share=round(float((bits == 8 * model.bytes_per_row_).mean()), 4),
        estimated_message_bits=round(model.mean_message_bits_, 4),
        compress_seconds=round(compress_seconds, 4),
        transform_seconds=round(transform_seconds, 4),
    )
    return row


def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = ["--methods", "bsq-default", "--out", str(DEFAULT_OUT)]
    return run_accuracy.parse_args(defaults + argv)  # later options win


def main(argv=None) -> int:
    args = parse_args(argv)
    runs_path = run_accuracy.execute(args, FIELDS, run=run_one)
    import summarize_entropy

    summarize_entropy.main([str(runs_path)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
