"""The exported C header on real targets: 32-bit ARM (armhf, under qemu-arm) and
an 8-bit AVR (atmega328p, in simavr), bit-exact with ``transform`` and, for the
format v2 messages, with ``compress``.

The toolchains come from Debian (.ci/run installs them). Without them these
tests are skipped, unless BSQ_REQUIRE_CROSS=1 (set by CI) makes that a failure.
"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_wine
from test_export import HARNESS, hard_rows, split_messages

from sklearn_bsq import SoftQuantizer, export_c, pack

WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic"]


def require(*tools):
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"cross-target tools missing: {missing} (see .ci/run)"
        if os.environ.get("BSQ_REQUIRE_CROSS") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def wine_8bit():
    """13 features at 8 bits: 13 x 255 thresholds, 13 KB of tables; trained on
    readings of which most are zero, so a zero reading's code is common and
    its messages are range-coded."""
    X, y = load_wine(return_X_y=True)
    X = X * (np.random.default_rng(0).random(X.shape) < 0.3)
    return SoftQuantizer(8, max_epochs=1, random_state=0).fit(X, y), X


# --------------------------------------------------------------- armhf (qemu)
def test_armhf_under_qemu_is_bit_exact(tmp_path):
    require("arm-linux-gnueabihf-gcc", "qemu-arm")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)) * [1, 10, 100, 1e-3, 1e5, 1]
    X *= rng.random(X.shape) < 0.3  # mostly zero: skewed codes, short messages
    X[:, 4] = X[:, 1] * 1e4 + rng.normal(size=200)  # feature 1 predicts it
    sq = SoftQuantizer([1, 4, 8, 12, 3, 16], max_epochs=1, random_state=0)
    sq.fit(X, (X[:, 0] > 0).astype(int))
    (tmp_path / "model.h").write_text(export_c(sq, name="bsq"))
    (tmp_path / "main.c").write_text(HARNESS)
    binary = tmp_path / "encode"
    compile_args = ["arm-linux-gnueabihf-gcc", "-std=c99", "-O2", "-static"]
    subprocess.run(
        [*compile_args, *WARNINGS, "-o", str(binary), str(tmp_path / "main.c")],
        check=True,
    )
    rows = np.vstack([X, hard_rows((sq, X)), special_rows(sq)])
    runs = [
        subprocess.run(
            ["qemu-arm", str(binary), *mode],
            input=rows.astype("<f4").tobytes(),
            capture_output=True,
            check=True,
        )
        for mode in ([], ["compress"])
    ]
    got = np.frombuffer(runs[0].stdout, np.uint8).reshape(len(rows), -1)
    mismatches = int(np.any(got != reference_bytes(sq, rows), axis=1).sum())
    assert len(rows) > 2000 and mismatches == 0
    messages = split_messages(runs[1].stdout)
    assert sq.codec_.code_tables.contexts[4] == 1
    assert messages == sq.codec_.compress_codes(reference_codes(sq, rows))
    assert sum(len(m) < sq.bytes_per_row_ for m in messages) > 100


def reference_bytes(sq, rows):
    """What the wire format defines for any float32 reading, NaN and infinities
    included (``transform`` refuses those)."""
    return pack(reference_codes(sq, rows), sq.n_bits_)


def reference_codes(sq, rows):
    """The count of thresholds strictly below every reading, compared as
    float32; NaN gets code 0."""
    rows = np.asarray(rows, dtype=np.float32)
    codes = np.stack(
        [
            np.searchsorted(t, rows[:, j], side="left")
            for j, t in enumerate(sq.thresholds_)
        ],
        axis=1,
    )
    codes[np.isnan(rows)] = 0  # NaN compares false with every threshold
    return codes


def special_rows(sq):
    """Every feature at NaN, +-inf, +-0 and subnormals, one row each."""
    values = np.array(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-39, -1e-39],
        dtype=np.float32,
    )
    return np.repeat(values[:, None], sq.n_features_in_, axis=1)


# ------------------------------------------------------- atmega328p (simavr)
ROWS_ON_DEVICE = 2000
SPECIAL_BITS = [
    0x7FC00000,  # NaN
    0x7F800000,  # +inf
    0xFF800000,  # -inf
    0x00000000,  # +0
    0x80000000,  # -0
    0x00000001,  # smallest subnormal
    0x807FFFFF,  # largest negative subnormal
    0x00800000,  # smallest normal
]
# What every device program shares: the tables in flash, a UART at 1 Mbaud
# (simavr echoes it) and a stop that ends the simulation.
AVR_PRELUDE = """#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
#define BSQ_TABLE PROGMEM
#define BSQ_READ(p) pgm_read_float(p)
#define BSQ_READ_U16(p) pgm_read_word(p)
#include "model.h"

static void put(char c)
{
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    UDR0 = c;
}

static void put_hex(const uint8_t *bytes, uint8_t n)
{
    static const char hex[] PROGMEM = "0123456789abcdef";
    uint8_t j;
    for (j = 0; j < n; j++) {
        put(pgm_read_byte(&hex[bytes[j] >> 4]));
        put(pgm_read_byte(&hex[bytes[j] & 15]));
    }
}

static void start_uart(void)
{
    UBRR0H = 0;
    UBRR0L = 0;
    UCSR0A = (1 << U2X0);
    UCSR0B = (1 << TXEN0);
}

static void stop(void)
{
    cli();
    sleep_enable();
    sleep_cpu();
}
"""
AVR_MAIN = (
    AVR_PRELUDE
    + """
static const uint32_t special[%(n_special)d] PROGMEM = {%(special)s};
static const float *const tables[BSQ_N_FEATURES] PROGMEM = {%(tables)s};
static const uint16_t counts[BSQ_N_FEATURES] PROGMEM = {%(counts)s};
static uint32_t state = 2463534242u;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

int main(void)
{
    union { uint32_t bits; float value; } reading;
    float x[BSQ_N_FEATURES];
    uint8_t out[BSQ_MESSAGE_BUFFER_BYTES];
    uint16_t row;
    uint8_t j, n;
    start_uart();
    for (row = 0; row < %(rows)d; row++) {
        for (j = 0; j < BSQ_N_FEATURES; j++) {
            uint32_t r = next();
            if ((r & 1u) == 0u) {  /* zero: the common reading */
                x[j] = 0.0f;
                continue;
            }
            r >>= 1;
            if ((r & 7u) < 6u) {  /* a threshold, or one ulp either side */
                const float *t = (const float *)pgm_read_word(&tables[j]);
                uint16_t k = (uint16_t)((r >> 3) %% pgm_read_word(&counts[j]));
                reading.bits = pgm_read_dword(&t[k]) + (uint32_t)((r >> 16) %% 3u) - 1u;
            } else if ((r & 7u) == 6u) {
                reading.bits = pgm_read_dword(&special[(r >> 3) %% %(n_special)du]);
            } else {
                reading.bits = next();  /* any pattern */
            }
            x[j] = reading.value;
        }
        bsq_encode(x, out);
        put_hex(out, BSQ_BYTES_PER_ROW);
        put(':');
        n = (uint8_t)bsq_compress_row(x, out);
        put_hex(out, n);
        put('\\n');
    }
    stop();
    return 0;
}
"""
)


def rows_the_device_builds(sq, n_rows):
    """The readings AVR_MAIN generates, rebuilt bit for bit on the host."""
    state = 2463534242
    mask = 0xFFFFFFFF

    def draw():
        nonlocal state
        state ^= (state << 13) & mask
        state ^= state >> 17
        state ^= (state << 5) & mask
        return state

    tables = [t.astype("<f4").view("<u4") for t in sq.thresholds_]
    bits = np.zeros((n_rows, len(tables)), dtype=np.uint32)
    for row in range(n_rows):
        for j, table in enumerate(tables):
            r = draw()
            if r & 1 == 0:
                continue  # a zero reading: the bits stay 0
            r >>= 1
            if (r & 7) < 6:
                k = (r >> 3) % len(table)
                bits[row, j] = (int(table[k]) + (r >> 16) % 3 - 1) & mask
            elif (r & 7) == 6:
                bits[row, j] = SPECIAL_BITS[(r >> 3) % len(SPECIAL_BITS)]
            else:
                bits[row, j] = draw()
    return bits.view(np.float32)


def build_avr(sq, folder, hooks=True):
    widths = [int(b) for b in sq.n_bits_]
    source = AVR_MAIN % dict(
        n_special=len(SPECIAL_BITS),
        special=", ".join(f"0x{b:08X}u" for b in SPECIAL_BITS),
        tables=", ".join(f"bsq_t{j}" for j in range(len(widths))),
        counts=", ".join(str(2**b - 1) for b in widths),
        rows=ROWS_ON_DEVICE,
    )
    if not hooks:
        for hook in ("BSQ_TABLE PROGMEM", "BSQ_READ(p) pgm_read_float(p)"):
            source = source.replace(f"#define {hook}\n", "")
        source = source.replace("#define BSQ_READ_U16(p) pgm_read_word(p)\n", "")
    (folder / "model.h").write_text(export_c(sq, name="bsq"))
    (folder / "main.c").write_text(source)
    elf = folder / "encode.elf"
    return elf, subprocess.run(
        ["avr-gcc", "-mmcu=atmega328p", "-Os", "-std=c99", *WARNINGS]
        + ["-o", str(elf), str(folder / "main.c")],
        capture_output=True,
        text=True,
    )


def simavr_uart(elf) -> str:
    """What the program wrote to the UART; simavr echoes it in colour, a
    newline shown as "."."""
    run = subprocess.run(
        ["simavr", "-m", "atmega328p", "-f", "16000000", str(elf)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)


def test_atmega328p_in_simavr_is_bit_exact_with_tables_in_flash(wine_8bit, tmp_path):
    require("avr-gcc", "avr-size", "simavr")
    sq, _ = wine_8bit
    elf, build = build_avr(sq, tmp_path)
    assert build.returncode == 0, build.stderr
    text, data, bss = map(
        int,
        subprocess.run(["avr-size", str(elf)], capture_output=True, text=True)
        .stdout.splitlines()[1]
        .split()[:3],
    )
    assert data + bss < 100  # RAM: the tables stay in flash
    text = simavr_uart(elf)
    width = 2 * sq.bytes_per_row_
    pattern = rf"^([0-9a-f]{{{width}}}):([0-9a-f]*)\.$"
    lines = re.findall(pattern, text, flags=re.MULTILINE)
    got = np.array([list(bytes.fromhex(v1)) for v1, _ in lines], dtype=np.uint8)
    rows = rows_the_device_builds(sq, ROWS_ON_DEVICE)
    assert got.shape == (ROWS_ON_DEVICE, sq.bytes_per_row_)
    mismatches = int(np.any(got != reference_bytes(sq, rows), axis=1).sum())
    assert mismatches == 0
    messages = [bytes.fromhex(v2) for _, v2 in lines]
    assert messages == sq.codec_.compress_codes(reference_codes(sq, rows))
    assert sum(len(m) < sq.bytes_per_row_ for m in messages) > 100


def test_atmega328p_without_the_hooks_does_not_fit(wine_8bit, tmp_path):
    """13 KB of tables in RAM: the link fails, which is why the hooks exist."""
    require("avr-gcc")
    _, build = build_avr(wine_8bit[0], tmp_path, hooks=False)
    assert build.returncode != 0 and "not within region `data'" in build.stderr


AVR_MESSAGES = (
    AVR_PRELUDE
    + """
static const float rows[%(n_rows)d][BSQ_N_FEATURES] PROGMEM = {%(rows)s};

int main(void)
{
    float x[BSQ_N_FEATURES];
    uint8_t out[BSQ_MESSAGE_BUFFER_BYTES];
    uint16_t row;
    uint8_t j;
    start_uart();
    for (row = 0; row < %(n_rows)d; row++) {
        for (j = 0; j < BSQ_N_FEATURES; j++) x[j] = pgm_read_float(&rows[row][j]);
        put('m');
        put_hex(out, (uint8_t)bsq_compress_row(x, out));
        put('\\n');
    }
    stop();
    return 0;
}
"""
)


def test_atmega328p_messages_with_contexts_in_simavr(tmp_path):
    """Format v2 with context tables (a 16-bit int multiplies the context's
    code) on rows like the training rows, which mostly code short."""
    require("avr-gcc", "simavr")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 1)) + 0.2 * rng.normal(size=(300, 5))  # alike
    sq = SoftQuantizer(4, max_epochs=1, random_state=0).fit(X, X[:, -1] > 0)
    assert max(sq.codec_.code_tables.contexts) >= 0
    rows = X[:150].astype(np.float32)
    values = ",".join(
        "{" + ",".join(f"{v!r}f" for v in row.tolist()) + "}" for row in rows
    )
    (tmp_path / "model.h").write_text(export_c(sq, name="bsq"))
    (tmp_path / "main.c").write_text(AVR_MESSAGES % dict(n_rows=len(rows), rows=values))
    elf = tmp_path / "messages.elf"
    build = subprocess.run(
        ["avr-gcc", "-mmcu=atmega328p", "-Os", "-std=c99", *WARNINGS]
        + ["-o", str(elf), str(tmp_path / "main.c")],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    text = simavr_uart(elf)
    lines = re.findall(r"^m([0-9a-f]*)\.$", text, flags=re.MULTILINE)
    messages = [bytes.fromhex(line) for line in lines]
    expected = sq.compress(rows)
    assert messages == expected
    assert sum(len(m) < sq.bytes_per_row_ for m in expected) > len(rows) / 2
