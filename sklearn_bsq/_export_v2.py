"""The message format v2 encoder in the exported C header and Python module.

Both implement ``_entropy``'s range coder on 32-bit unsigned integers (C: no
64-bit type, no heap, no floating point beyond the threshold comparisons) and
give exactly the messages of ``compress``. Each feature's frequencies and their
running sums are one table of 16-bit values (``start_table``).
"""

from __future__ import annotations

import numpy as np

from ._entropy import precision_bits
from ._packing import bytes_per_row, word_pieces


def message_buffer_bytes(widths) -> int:
    """Bytes ``compress_row`` may write before it knows the message's length:
    every code costs at most ``P`` bits, the finish four bytes (and never fewer
    than a v1 row, which it writes when that is shorter)."""
    coded = -(-sum(precision_bits(b) for b in widths if b) // 8) + 4
    return max(coded, bytes_per_row(widths))


def start_table(frequencies: np.ndarray) -> np.ndarray:
    """Sum of the frequencies below every code, and the total last, modulo
    2**16: code ``c``'s frequency is ``s[c + 1] - s[c]`` modulo 2**16 (every
    frequency is below 2**16), so one 16-bit table holds both."""
    starts = np.zeros(frequencies.size + 1, dtype=np.int64)
    starts[1:] = np.cumsum(frequencies, dtype=np.int64)
    return starts % (1 << 16)


def table_bytes(widths) -> int:
    """Flash the format v2 tables take: ``2**b + 1`` 16-bit values per sent
    feature."""
    return sum(2 * ((1 << int(b)) + 1) for b in widths if b)


def c_compress_definitions(name: str, widths, frequencies, storage: str) -> str:
    """``<name>_compress_row`` and its tables. It writes the row with
    ``<name>_encode``, reads the codes back from those bytes and range-codes
    them: the comparisons are not compiled twice."""
    inline = "BSQ_INLINE " if storage else ""
    upper, n_bytes = name.upper(), bytes_per_row(widths)
    lines = []
    for j, f in enumerate(frequencies):
        if widths[j]:
            values = ", ".join(f"{int(v)}u" for v in start_table(f))
            lines.append(
                f"static const uint16_t {name}_s{j}[{f.size + 1}] BSQ_TABLE = "
                f"{{{values}}};"
            )
    lines += [
        "",
        "/* One code into the range coder: low and range narrow to the code's",
        "   share; a carry out of low adds one to the bytes written so far. */",
        f"static BSQ_INLINE BSQ_UNUSED void {name}_code_(uint32_t *low, "
        "uint32_t *range,",
        "    uint8_t *out, unsigned int *n, const uint16_t *s, unsigned int precision)",
        "{",
        "    uint16_t start = BSQ_READ_U16(s);",
        "    uint32_t r = *range >> precision;",
        "    uint32_t add = r * start;",
        "    unsigned int i = *n;",
        "    *low += add;",
        "    if (*low < add) {",
        "        while (++out[--i] == 0u) {",
        "        }",
        "    }",
        "    *range = r * BSQ_U16(BSQ_READ_U16(s + 1) - start);",
        "    while (*range < 0x1000000ul) {",
        "        out[(*n)++] = BSQ_BYTE(*low >> 24);",
        "        *low <<= 8;",
        "        *range <<= 8;",
        "    }",
        "}",
        "",
        f"{storage}{inline}unsigned int {name}_compress_row(const float *x, "
        "uint8_t *out)",
        "{",
        f"    uint8_t row[{max(1, n_bytes)}];",
        "    uint16_t c;",
        "    uint32_t low = 0u, range = 0xfffffffful, unit = 0x1000000ul, add;",
        "    unsigned int n = 0u, i, z;",
        f"    {name}_encode(x, row);",
    ]
    pieces = {}
    for j, byte, shift in word_pieces(widths, 8):
        pieces.setdefault(j, []).append((byte, shift))
    for j, b in enumerate(widths):
        if not b:
            continue
        terms = [
            f"(BSQ_U16(row[{byte}]) {'>>' if shift >= 0 else '<<'} {abs(shift)})"
            for byte, shift in pieces[j]
        ]
        lines += [
            f"    c = BSQ_U16(({' | '.join(terms)}) & {(1 << int(b)) - 1}u);",
            f"    {name}_code_(&low, &range, out, &n, &{name}_s{j}[c], "
            f"{precision_bits(int(b))}u);",
        ]
    lines += [
        "    /* finish: the fewest bytes (1 to 4) all of whose continuations lie",
        "       in low .. low + range - 1 */",
        "    for (z = 1u; z < 4u; ++z, unit >>= 8) {",
        "        add = (unit - (low & (unit - 1u))) & (unit - 1u);",
        "        if (add <= range - unit) break;",
        "    }",
        "    if (z == 4u) add = 0u;",
        "    low += add;",
        "    if (low < add) {",
        "        i = n;",
        "        while (++out[--i] == 0u) {",
        "        }",
        "    }",
        "    for (i = 0u; i < z; ++i, low <<= 8) out[n++] = BSQ_BYTE(low >> 24);",
        f"    if (n < {upper}_BYTES_PER_ROW) return n;",
        "    /* not shorter than the v1 row: send that */",
        f"    for (i = 0u; i < {upper}_BYTES_PER_ROW; ++i) out[i] = row[i];",
        f"    return {upper}_BYTES_PER_ROW;",
        "}",
        "",
    ]
    return "\n".join(lines) + "\n"


PYTHON_COMPRESS = '''
# Message format v2: each sent feature's code frequencies, uint16 little-endian,
# one table after another; they sum to 2**PRECISION[j].
PRECISION = {precision}
FREQUENCY_DATA = {frequency_data}


def _tables():
    frequencies, starts, at = [], [], 0
    for bits in N_BITS:
        count = (1 << bits) if bits else 0
        f = [struct.unpack_from("<H", FREQUENCY_DATA, 2 * (at + k))[0]
             for k in range(count)]
        s, total = [], 0
        for value in f:
            s.append(total)
            total += value
        frequencies.append(f)
        starts.append(s)
        at += count
    return frequencies, starts


FREQUENCIES, STARTS = _tables()


def compress(row):
    """The format v2 message of one row (at most BYTES_PER_ROW bytes)."""
    row_bytes = encode(row)
    codes = _codes_of(row_bytes)
    out = bytearray()
    low, width = 0, 0xFFFFFFFF
    for code, bits, f, s, p in zip(codes, N_BITS, FREQUENCIES, STARTS, PRECISION):
        if not bits:
            continue
        r = width >> p
        low += r * s[code]
        width = r * f[code]
        if low > 0xFFFFFFFF:
            low &= 0xFFFFFFFF
            _carry(out)
        while width < 0x1000000:
            out.append(low >> 24)
            low = (low << 8) & 0xFFFFFFFF
            width <<= 8
    unit, z = 0x1000000, 1
    while z < 4:
        add = (unit - (low & (unit - 1))) & (unit - 1)
        if add <= width - unit:
            break
        z += 1
        unit >>= 8
    if z == 4:
        add = 0
    low += add
    if low > 0xFFFFFFFF:
        low &= 0xFFFFFFFF
        _carry(out)
    for k in range(z):
        out.append((low >> (24 - 8 * k)) & 0xFF)
    if len(out) < BYTES_PER_ROW:
        return bytes(out)
    return row_bytes


def _carry(out):
    i = len(out) - 1
    while out[i] == 0xFF:
        out[i] = 0
        i -= 1
    out[i] += 1


def _codes_of(row_bytes):
    """The codes of a v1 row, read back bit by bit."""
    codes, at = [], 0
    for bits in N_BITS:
        code = 0
        for _ in range(bits):
            code = (code << 1) | ((row_bytes[at >> 3] >> (7 - (at & 7))) & 1)
            at += 1
        codes.append(code)
    return codes
'''


def python_compress_source(widths, frequencies) -> str:
    """The ``compress`` part of the exported Python module."""
    sent = [f for f, b in zip(frequencies, widths, strict=True) if b]
    data = b"".join(np.asarray(f, dtype="<u2").tobytes() for f in sent)
    lines = [
        "    b'" + "".join(f"\\x{b:02x}" for b in data[i : i + 64]) + "'\n"
        for i in range(0, len(data), 64)
    ]
    frequency_data = "(\n" + "".join(lines) + ")" if lines else "b''"
    return PYTHON_COMPRESS.format(
        precision=[precision_bits(int(b)) if b else 0 for b in widths],
        frequency_data=frequency_data,
    )
