"""How close ``fit``'s memory estimate (``sklearn_bsq._memory``) comes to what a fit
takes: each case fits one epoch in a fresh process on 8 breast_cancer features and
reports the estimate beside the growth of the peak resident memory.

    python benchmarks/memory_estimate.py

Writes ``results/memory_estimate.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CASES = [(8, "thermometer"), (10, "thermometer"), (14, "thermometer"), (16, "auto")]

PROBE = """
import resource, sys
from sklearn.datasets import load_breast_cancer
from sklearn_bsq import SoftQuantizerClassifier
from sklearn_bsq._memory import training_bytes
from sklearn_bsq._quantizers import (
    level_channels, network_inputs, resolve_representation
)
X, y = load_breast_cancer(return_X_y=True)
X = X[:, :8]
bits, asked = int(sys.argv[1]), sys.argv[2]
rep = resolve_representation(asked, [bits])
inputs = network_inputs(rep, [bits] * 8)
estimate = training_bytes(
    [bits] * 8, inputs, (128, 128), 5, 2, 256, 1 + level_channels(rep)
) / 2**20
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
model = SoftQuantizerClassifier(bits, representation=asked, max_epochs=1)
model.set_params(random_state=0).fit(X, y)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"| {bits} | {rep} | {estimate:,.0f} | {after - before:,.0f} |")
"""


def main() -> int:
    from sklearn_bsq import SoftQuantizer

    heads = SoftQuantizer().n_heads
    lines = [
        "# Memory estimate against a fit's peak memory growth",
        "",
        "`python benchmarks/memory_estimate.py`: one epoch on 8 breast_cancer "
        f"features, default network ({heads} heads of 128-128, batch 256), a fresh "
        "process per case. Below a few hundred MiB the process's fixed "
        "overhead (torch's allocator and kernels) dominates; the guard is for "
        "fits of gigabytes (the last rows).",
        "",
        "| bits | representation | estimate (MiB) | peak growth (MiB) |",
        "| --- | --- | --- | --- |",
    ]
    for bits, representation in CASES:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(bits), representation],
            capture_output=True,
            text=True,
            check=True,
        )
        lines.append(out.stdout.strip().splitlines()[-1])
        print(lines[-1], flush=True)
    out = Path(__file__).parent / "results" / "memory_estimate.md"
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
