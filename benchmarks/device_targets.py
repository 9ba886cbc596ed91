"""Code size and RAM of the exported C encoder on each target the tests run.

Usage: ``python benchmarks/device_targets.py``

For two models (wine: 13 features at 8 bits; synthetic: 16 features at 4 bits) it
compiles an object file holding only the encoder (``-Os`` for AVR, ``-O2``
elsewhere) with every toolchain found among gcc (C89, C99), g++ (C++11),
arm-linux-gnueabihf-gcc and avr-gcc (tables in flash through the ``BSQ_TABLE`` /
``BSQ_READ`` hooks), and prints the sizes that ``size`` reports: code and tables
(text) and RAM (data + bss). Bit-exactness on these targets is what
``tests/test_export.py`` and ``tests/test_device_targets.py`` check.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine

from sklearn_bsq import SoftQuantizer, export_c

WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
TARGETS = {
    "x86-64 gcc -std=c89 -O2": (["gcc", "-std=c89", "-O2"], "size", ""),
    "x86-64 gcc -std=c99 -O2": (["gcc", "-std=c99", "-O2"], "size", ""),
    "x86-64 g++ -std=c++11 -O2": (
        ["g++", "-std=c++11", "-O2", "-Wold-style-cast"],
        "size",
        "",
    ),
    "armhf gcc -std=c99 -O2": (
        ["arm-linux-gnueabihf-gcc", "-std=c99", "-O2"],
        "arm-linux-gnueabihf-size",
        "",
    ),
    "atmega328p avr-gcc -std=c99 -Os, PROGMEM": (
        ["avr-gcc", "-mmcu=atmega328p", "-std=c99", "-Os"],
        "avr-size",
        "#include <avr/pgmspace.h>\n#define BSQ_TABLE PROGMEM\n"
        "#define BSQ_READ(p) pgm_read_float(p)\n",
    ),
}
UNIT = """%s#include "model.h"
void encode_row(const float *x, uint8_t *out);
void encode_row(const float *x, uint8_t *out) { bsq_encode(x, out); }
"""


def models():
    X, y = load_wine(return_X_y=True)
    yield "wine, 13 x 8 bits", SoftQuantizer(8, max_epochs=1, random_state=0).fit(X, y)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 16))
    sq = SoftQuantizer(4, max_epochs=1, random_state=0)
    yield "synthetic, 16 x 4 bits", sq.fit(X, (X[:, 0] > 0).astype(int))


def sizes(command, size_tool, prelude, header, folder: Path):
    (folder / "model.h").write_text(header)
    (folder / "unit.c").write_text(UNIT % prelude)
    obj = folder / "unit.o"
    subprocess.run(
        [*command, *WARNINGS, "-c", "-o", str(obj), str(folder / "unit.c")],
        check=True,
        capture_output=True,
    )
    out = subprocess.run([size_tool, str(obj)], capture_output=True, text=True)
    text, data, bss = map(int, out.stdout.splitlines()[1].split()[:3])
    return text, data + bss


def main() -> int:
    print("| model | target | code + tables (bytes) | RAM (bytes) |")
    print("|---|---|---|---|")
    for label, sq in models():
        header = export_c(sq, name="bsq")
        for target, (command, size_tool, prelude) in TARGETS.items():
            if shutil.which(command[0]) is None or shutil.which(size_tool) is None:
                print(f"| {label} | {target} | (toolchain not installed) | |")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                text, ram = sizes(command, size_tool, prelude, header, Path(tmp))
            print(f"| {label} | {target} | {text} | {ram} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
