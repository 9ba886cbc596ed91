"""
Exporting and compiling the C encoder
=====================================

The node runs C, not Python. :func:`~sklearn_bsq.export_c` writes the thresholds and
an encoder into one header; a program that includes it turns each row of float32
readings into the bytes ``transform`` makes, and the server predicts from them. The
same encoder as a pure-Python module comes from :func:`~sklearn_bsq.export_python`.
"""

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from sklearn_bsq import SoftQuantizer, export_c, export_python

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
model = SoftQuantizer(n_bits=4, random_state=0).fit(X_train, y_train)
work = Path(tempfile.mkdtemp())
export_c(model, work / "bsq.h")
print((work / "bsq.h").read_text().splitlines()[0])
print("model id:", model.model_id_)

# %%
# The firmware: read rows of float32 from stdin, write packets to stdout
# ----------------------------------------------------------------------
(work / "node.c").write_text(
    """#include <stdio.h>
#include "bsq.h"

int main(void)
{
    float reading[BSQ_N_FEATURES];
    uint8_t packet[BSQ_BYTES_PER_ROW];
    if (bsq_self_test() != 0) return 1;  /* the build compares as the format says */
    while (fread(reading, sizeof(float), BSQ_N_FEATURES, stdin) == BSQ_N_FEATURES) {
        bsq_encode(reading, packet);
        fwrite(packet, 1, BSQ_BYTES_PER_ROW, stdout);
    }
    return 0;
}
"""
)
readings = X_test.astype(np.float32)
compiler = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
if compiler:
    subprocess.run(
        [compiler, "-std=c99", "-O2", "-Wall", "-Werror", "-o", "node", "node.c"],
        cwd=work,
        check=True,
    )
    sent = subprocess.run(
        [str(work / "node")], input=readings.tobytes(), capture_output=True, check=True
    ).stdout
    print(
        f"compiled with {Path(compiler).name}: {len(sent)} bytes for {len(X_test)} rows"
    )
else:  # no C compiler here: the Python export writes the same bytes
    export_python(model, work / "bsq_node.py")
    spec = importlib.util.spec_from_file_location("bsq_node", work / "bsq_node.py")
    print("no C compiler found; using the exported Python encoder")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sent = b"".join(module.encode(row) for row in readings.tolist())

# %%
# The server: the packets equal ``transform``'s bytes, and predict alike
# ------------------------------------------------------------------------
packets = np.frombuffer(sent, np.uint8).reshape(-1, model.bytes_per_row_)
assert (packets == model.transform(X_test)).all()
accuracy = (model.predict_packed(packets) == y_test).mean()
print(f"accuracy from the node's bytes: {accuracy:.3f}")

fig, ax = plt.subplots(figsize=(6, 2.6))
sizes = {"float32 row": 4 * X.shape[1], "packet (4 bits)": model.bytes_per_row_}
ax.barh(list(sizes), list(sizes.values()), color=["0.6", "tab:blue"])
for i, size in enumerate(sizes.values()):
    ax.text(size, i, f" {size} B", va="center")
ax.set_xlabel("bytes sent per row")
ax.set_xlim(0, 140)
fig.tight_layout()
