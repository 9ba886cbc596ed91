"""The message format v2 encoder in the exported C header and Python module.

Both implement ``_entropy``'s range coder on 32-bit unsigned integers (C: no
64-bit type, no heap, no floating point beyond the threshold comparisons) and
give exactly the messages of ``compress``. Each feature's frequencies and their
running sums are one table of 16-bit values (``start_table``).
"""

from __future__ import annotations

import numpy as np

from ._entropy import coded_bytes_bound, precision_bits
from ._packing import bytes_per_row, word_pieces


def message_buffer_bytes(widths) -> int:
    """Bytes ``compress_row`` may write before it knows the message's length
    (never fewer than a v1 row, which it writes when that is shorter)."""
    return max(coded_bytes_bound(widths), bytes_per_row(widths))


def start_table(frequencies: np.ndarray) -> np.ndarray:
    """Per table row, the sum of the frequencies below every code and the total
    last, modulo 2**16: code ``c``'s frequency is ``s[c + 1] - s[c]`` modulo
    2**16 (every frequency is below 2**16), so one 16-bit table holds both.
    Rows are concatenated, ``2**b + 1`` values each."""
    starts = np.zeros((frequencies.shape[0], frequencies.shape[1] + 1), np.int64)
    starts[:, 1:] = np.cumsum(frequencies, axis=1, dtype=np.int64)
    return (starts % (1 << 16)).ravel()


def table_bytes(tables) -> int:
    """Flash the format v2 tables take: ``2**b + 1`` 16-bit values per row."""
    return sum(2 * f.shape[0] * (f.shape[1] + 1) for f in tables.frequencies if f.size)


def c_compress_definitions(name: str, widths, tables, storage: str) -> str:
    """``<name>_compress_row`` and its tables. It writes the row with
    ``<name>_encode``, reads the codes back from those bytes and range-codes
    them: the comparisons are not compiled twice."""
    inline = "BSQ_INLINE " if storage else ""
    upper, n_bytes = name.upper(), bytes_per_row(widths)
    lines = []
    for j, f in enumerate(tables.frequencies):
        if widths[j]:
            starts = start_table(f)
            values = ", ".join(f"{int(v)}u" for v in starts)
            lines.append(
                f"static const uint16_t {name}_s{j}[{starts.size}] BSQ_TABLE = "
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
        *[f"    uint16_t c{j};" for j, b in enumerate(widths) if b],
        "    uint32_t low = 0u, range = 0xfffffffful, unit = 0x1000000ul, add;",
        "    unsigned int n = 0u, i, z;",
        f"    {name}_encode(x, row);",
    ]
    pieces = {}
    for j, byte, shift in word_pieces(widths, 8):
        pieces.setdefault(j, []).append((byte, shift))
    for j, b in enumerate(widths):
        if b:
            terms = [
                f"(BSQ_U16(row[{byte}]) {'>>' if shift >= 0 else '<<'} {abs(shift)})"
                for byte, shift in pieces[j]
            ]
            lines.append(
                f"    c{j} = BSQ_U16(({' | '.join(terms)}) & {(1 << int(b)) - 1}u);"
            )
    for j, b in enumerate(widths):
        if b:
            k = tables.contexts[j]  # the table row: the context's code, or 0
            entry = f"c{j}" if k < 0 else f"c{k} * {(1 << int(b)) + 1}u + c{j}"
            lines.append(
                f"    {name}_code_(&low, &range, out, &n, &{name}_s{j}[{entry}], "
                f"{precision_bits(int(b))}u);"
            )
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
# one table row after another; a row sums to 2**PRECISION[j]. A feature with a
# context (CONTEXTS[j] >= 0) has one row per code of that earlier feature.
PRECISION = {precision}
CONTEXTS = {contexts}
FREQUENCY_DATA = {frequency_data}


def _tables():
    frequencies, starts, at = [], [], 0
    for bits, context in zip(N_BITS, CONTEXTS):
        count = (1 << bits) if bits else 0
        rows = (1 << N_BITS[context]) if context >= 0 else 1
        f = [struct.unpack_from("<H", FREQUENCY_DATA, 2 * (at + k))[0]
             for k in range(rows * count)]
        s = []
        for k, value in enumerate(f):
            s.append(0 if k % count == 0 else s[-1] + f[k - 1])
        frequencies.append(f)
        starts.append(s)
        at += rows * count
    return frequencies, starts


FREQUENCIES, STARTS = _tables()


def compress(row):
    """The format v2 message of one row (at most BYTES_PER_ROW bytes)."""
    row_bytes = encode(row)
    codes = _codes_of(row_bytes)
    out = bytearray()
    low, width = 0, 0xFFFFFFFF
    for j, (code, bits) in enumerate(zip(codes, N_BITS)):
        if not bits:
            continue
        entry = code
        if CONTEXTS[j] >= 0:
            entry += codes[CONTEXTS[j]] << bits
        r = width >> PRECISION[j]
        low += r * STARTS[j][entry]
        width = r * FREQUENCIES[j][entry]
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


def python_compress_source(widths, tables) -> str:
    """The ``compress`` part of the exported Python module."""
    sent = [f for f, b in zip(tables.frequencies, widths, strict=True) if b]
    data = b"".join(np.asarray(f, dtype="<u2").tobytes() for f in sent)
    lines = [
        "    b'" + "".join(f"\\x{b:02x}" for b in data[i : i + 64]) + "'\n"
        for i in range(0, len(data), 64)
    ]
    frequency_data = "(\n" + "".join(lines) + ")" if lines else "b''"
    return PYTHON_COMPRESS.format(
        precision=[precision_bits(int(b)) if b else 0 for b in widths],
        contexts=list(tables.contexts),
        frequency_data=frequency_data,
    )
