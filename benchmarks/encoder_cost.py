"""Cost of the exported C encoders: instructions per row under callgrind.

Usage: ``python benchmarks/encoder_cost.py [--features 16] [--bits 2 4 8]``

For each width it fits a SoftQuantizer on synthetic data (the cost does not depend on
the data), exports the header, compiles a driver with gcc -O2 and counts, with
``valgrind --tool=callgrind``, the instructions executed inside the encoder for
N rows: ``bsq_encode`` (wire format v1) and ``bsq_compress_row`` (format v2, which
calls the v1 encoder and range-codes its codes). Instruction counts are repeatable,
unlike times. Also reports the size of the threshold tables and of the format v2
tables. Needs gcc and valgrind.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from sklearn_bsq import SoftQuantizer, export_c

FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include "model.h"

__attribute__((noinline)) unsigned encode_row(const float *x, uint8_t *out);
__attribute__((noinline)) unsigned encode_row(const float *x, uint8_t *out)
{
#ifdef V2
    return bsq_compress_row(x, out);
#else
    bsq_encode(x, out);
    return BSQ_BYTES_PER_ROW;
#endif
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000, i;
    int j;
    unsigned checksum = 0, state = 12345u;
    float *rows = malloc(sizeof(float) * BSQ_N_FEATURES * (size_t)n);
    uint8_t out[BSQ_MESSAGE_BUFFER_BYTES];
    unsigned length;
    for (i = 0; i < n * BSQ_N_FEATURES; ++i) {  /* readings in [-4, 4) */
        state = state * 1664525u + 1013904223u;
        rows[i] = (float)(state >> 8) / 16777216.0f * 8.0f - 4.0f;
    }
    for (i = 0; i < n; ++i) {
        length = encode_row(rows + i * BSQ_N_FEATURES, out);
        for (j = 0; j < (int)length; ++j) checksum += out[j];
    }
    printf("%u\\n", checksum);
    free(rows);
    return 0;
}
"""


def instructions_in_encoder(binary: Path, n_rows: int, folder: Path) -> int:
    out_file = folder / "callgrind.out"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out_file}",
            "--toggle-collect=encode_row",
            str(binary),
            str(n_rows),
        ],
        check=True,
        capture_output=True,
    )
    totals = re.search(r"^(?:summary|totals):\s+(\d+)", out_file.read_text(), re.M)
    return int(totals.group(1))


def measure(n_features: int, bits: int, n_rows: int) -> dict:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, n_features))
    y = (X[:, 0] > 0).astype(int)
    sq = SoftQuantizer(bits, representation="levels", max_epochs=1, random_state=0)
    sq.fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        header = export_c(sq, name="bsq", path=folder / "model.h")
        (folder / "driver.c").write_text(DRIVER)
        totals = []
        for defines in ([], ["-DV2"]):
            binary = folder / "driver"
            source = str(folder / "driver.c")
            subprocess.run(
                ["gcc", *FLAGS, *defines, "-o", str(binary), source], check=True
            )
            totals.append(instructions_in_encoder(binary, n_rows, folder))
    v2_tables = int(re.search(r"BSQ_MESSAGE_TABLE_BYTES (\d+)", header).group(1))
    return dict(
        bits=bits,
        per_feature=totals[0] / n_rows / n_features,
        v2_per_feature=totals[1] / n_rows / n_features,
        table_bytes=4 * sum(t.size for t in sq.thresholds_),
        v2_table_bytes=v2_tables,
        bytes_per_row=sq.bytes_per_row_,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    print(
        f"C encoder, {args.features} features, gcc {' '.join(FLAGS)}; "
        f"callgrind instructions inside the encoder over {args.rows} rows"
    )
    print(
        f"{'bits':>4}  {'v1 instr/feature':>16}  {'v2 instr/feature':>16}  "
        f"{'threshold bytes':>15}  {'v2 table bytes':>14}  {'bytes/row':>9}"
    )
    for bits in args.bits:
        r = measure(args.features, bits, args.rows)
        print(
            f"{r['bits']:>4}  {r['per_feature']:>16.2f}  {r['v2_per_feature']:>16.2f}  "
            f"{r['table_bytes']:>15}  {r['v2_table_bytes']:>14}  "
            f"{r['bytes_per_row']:>9}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
