"""Device-side encoders for a fitted quantizer: a C99 header and pure Python.

Both write one row in wire format v1 and give exactly the bytes of
``estimator.transform``. Readings are compared as float32 with the learned
thresholds; a reading equal to a threshold goes to the lower code.

Non-finite readings, which ``transform`` refuses: NaN compares false with every
threshold, so it gets code 0; ``-inf`` gets code 0 and ``+inf`` the highest code.
Both encoders do exactly this (the C header must not be compiled with
``-ffast-math``, which breaks comparisons with NaN).
"""

from __future__ import annotations

import re
import string

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._files import write_atomically
from ._packing import WIRE_FORMAT_VERSION, bytes_per_row

_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _model_facts(estimator):
    """Widths, float32 thresholds and feature names of a fitted estimator."""
    check_is_fitted(estimator, "thresholds_")
    widths = [int(b) for b in estimator.n_bits_]
    thresholds = [np.asarray(t, dtype=np.float32) for t in estimator.thresholds_]
    for j, t in enumerate(thresholds):
        if not np.all(np.isfinite(t)):
            raise ValueError(
                f"feature {j} has non-finite thresholds; a model trained on readings "
                "near the float32 limit cannot be exported."
            )
    names = getattr(estimator, "feature_names_in_", None)
    names = (
        [_printable_name(str(n)) for n in names]
        if names is not None
        else [f"x{j}" for j in range(len(widths))]
    )
    return widths, thresholds, names


# Feature names go into C comments and a Python docstring. Only characters that
# cannot end, nest or continue either are written as they are; no backslash
# (line splicing, escapes), no '*' or '/' (comment ends, -Wcomment), no '?'
# (the trigraph ??/ is a backslash), no quotes, nothing outside printable ASCII.
_NAME_CHARACTERS = frozenset(
    string.ascii_letters + string.digits + " _-.,:;()[]%+=#@!&^~|$"
)


def _printable_name(name: str) -> str:
    """``name`` with every character outside a safe set written ``<U+XXXX>``.

    >>> _printable_name("temp_c (°C) */")
    'temp_c (<U+00B0>C) <U+002A><U+002F>'
    """
    return "".join(c if c in _NAME_CHARACTERS else f"<U+{ord(c):04X}>" for c in name)


def _c_float(value: np.float32) -> str:
    """A C float literal that parses back to exactly this float32."""
    text = f"{float(value):.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def _byte_pieces(widths):
    """For every output byte: ``(feature, shift)`` pieces to OR together.

    A positive shift moves the code left, a negative one right, so that its bits
    land in their place of the byte (wire format v1, MSB first).
    """
    n_bytes = bytes_per_row(widths)
    pieces = [[] for _ in range(n_bytes)]
    offset = 0
    for j, width in enumerate(widths):
        end = offset + width  # bit positions [offset, end) of the row
        for byte in range(offset // 8, (end - 1) // 8 + 1 if width else 0):
            # shift that moves the code's last bit to position `end` in this byte
            pieces[byte].append((j, 8 * (byte + 1) - end))
        offset = end
    return pieces


def _shifted(variable: str, shift: int) -> str:
    if shift > 0:
        return f"({variable} << {shift})"
    if shift < 0:
        return f"({variable} >> {-shift})"
    return variable


def export_c(estimator, name: str = "bsq", path=None) -> str:
    """C99 header with the learned thresholds and a one-row encoder.

    The header defines ``<NAME>_N_FEATURES``, ``<NAME>_BYTES_PER_ROW`` and
    ``void <name>_encode(const float *x, uint8_t *out)``, which writes one row in
    wire format v1. It needs only ``<stdint.h>``: no heap, no libm. Each code is
    found by a branch-free binary search over the feature's ``2**b - 1`` sorted
    thresholds, unrolled at export time, so the cost per feature is ``b``
    comparisons.

    Parameters
    ----------
    estimator : fitted SoftQuantizer (or its classifier/regressor form)
    name : str, default="bsq"
        C identifier used as prefix: ``<name>_encode``, ``<NAME>_N_FEATURES``.
    path : str or path-like, optional
        If given, the header is also written there (atomically).

    Returns
    -------
    source : str
        The header's text.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizer, export_c
    >>> X, y = load_iris(return_X_y=True)
    >>> sq = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    >>> header = export_c(sq, name="iris")
    >>> "void iris_encode(const float *x, uint8_t *out)" in header
    True
    """
    if not isinstance(name, str) or not _C_IDENTIFIER.match(name):
        raise ValueError(f"name must be a C identifier such as 'bsq', got {name!r}.")
    widths, thresholds, names = _model_facts(estimator)
    from . import __version__

    upper, n_bytes = name.upper(), bytes_per_row(widths)
    lines = [
        f"/* {name}.h: bitwise soft quantization encoder, generated by sklearn_bsq "
        f"{__version__}.",
        f" * Wire format v{WIRE_FORMAT_VERSION}: codes MSB first, concatenated, "
        "zero-padded to whole bytes.",
        f" * {len(widths)} features, {sum(widths)} bits, {n_bytes} bytes per row.",
        " * A reading's code is the number of thresholds strictly below it (float32",
        " * comparison). NaN and -inf give code 0, +inf the highest code. Do not",
        " * compile with -ffast-math: it breaks the comparisons with NaN.",
        " *",
        " * feature  bits  name",
    ]
    for j, (b, n) in enumerate(zip(widths, names, strict=True)):
        note = "  (not sent: need not be measured)" if b == 0 else ""
        lines.append(f" * {j:7d}  {b:4d}  {n}{note}")
    lines += [
        " */",
        f"#ifndef {upper}_H",
        f"#define {upper}_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define {upper}_N_FEATURES {len(widths)}",
        f"#define {upper}_BYTES_PER_ROW {n_bytes}",
        f"#define {upper}_TOTAL_BITS {sum(widths)}",
        f"#define {upper}_WIRE_FORMAT_VERSION {WIRE_FORMAT_VERSION}",
        "",
    ]
    for j, t in enumerate(thresholds):
        if t.size == 0:  # width 0: the feature is not measured or sent
            continue
        values = ", ".join(_c_float(v) for v in t)
        lines.append(f"static const float {name}_t{j}[{t.size}] = {{{values}}};")
    lines += [
        "",
        f"static inline void {name}_encode(const float *x, uint8_t *out)",
        "{",
    ]
    # Each byte is written as soon as its last code is known, which keeps few
    # codes alive at once (no register spills on small cores).
    byte_pieces = _byte_pieces(widths)
    ready = {}
    for byte, pieces in enumerate(byte_pieces):
        ready.setdefault(max(j for j, _ in pieces), []).append(byte)
    for j, width in enumerate(widths):
        if width:
            lines.append(f"    uint32_t c{j} = 0u;")
        for level in range(width - 1, -1, -1):
            step = 1 << level
            compare = f"x[{j}] > {name}_t{j}[c{j} + {step - 1}u]"
            lines.append(f"    c{j} += ({compare}) ? {step}u : 0u;")
        for byte in ready.get(j, []):
            terms = [_shifted(f"c{i}", shift) for i, shift in byte_pieces[byte]]
            lines.append(f"    out[{byte}] = (uint8_t)({' | '.join(terms)});")
    lines += ["}", "", f"#endif /* {upper}_H */", ""]
    source = "\n".join(lines)
    if path is not None:
        write_atomically(path, lambda f: f.write(source.encode("utf-8")))
    return source


_PYTHON_TEMPLATE = '''"""Encoder from sklearn_bsq {version}, wire format v{wire}.

No numpy, no imports beyond struct: runs on CPython and MicroPython. encode(row)
takes {n} readings and returns {n_bytes} bytes, exactly as SoftQuantizer.transform.
Readings are rounded to float32 first; NaN and -inf give code 0, +inf the top code.
Features: {names}
"""

import struct

N_FEATURES = {n}
BYTES_PER_ROW = {n_bytes}
N_BITS = {widths}
THRESHOLDS = {thresholds}


def _float32(value):
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # beyond float32: numpy rounds it to an infinity
        return float("inf") if value > 0 else float("-inf")


def encode(row):
    if len(row) != N_FEATURES:
        raise ValueError("expected %d readings, got %d" % (N_FEATURES, len(row)))
    acc = 0
    n_acc = 0
    out = bytearray()
    for value, t, bits in zip(row, THRESHOLDS, N_BITS):
        x = _float32(float(value))
        code = 0
        step = (1 << bits) >> 1  # 0 for a feature that is not sent
        while step:
            if x > t[code + step - 1]:
                code += step
            step >>= 1
        acc = (acc << bits) | code
        n_acc += bits
        while n_acc >= 8:
            n_acc -= 8
            out.append((acc >> n_acc) & 0xFF)
        acc &= (1 << n_acc) - 1
    if n_acc:
        out.append((acc << (8 - n_acc)) & 0xFF)
    return bytes(out)
'''


def export_python(estimator, path=None) -> str:
    """Source of a pure-Python module (no numpy) with ``encode(row) -> bytes``.

    For MicroPython-class devices and for servers that must not import torch.
    It gives exactly the bytes of ``transform`` for finite readings, and the
    documented codes for non-finite ones (see the module docstring).

    Parameters
    ----------
    estimator : fitted SoftQuantizer
    path : str or path-like, optional
        If given, the module is also written there (atomically).

    Returns
    -------
    source : str

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizer, export_python
    >>> X, y = load_iris(return_X_y=True)
    >>> sq = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    >>> namespace = {}
    >>> exec(export_python(sq), namespace)
    >>> namespace["encode"](X[0]) == sq.transform(X[:1]).tobytes()
    True
    """
    widths, thresholds, names = _model_facts(estimator)
    from . import __version__

    # repr of a float32 widened to float64 is exact and parses back exactly.
    tables = (
        "[\n"
        + "".join(
            "    [" + ", ".join(repr(float(v)) for v in t) + "],\n" for t in thresholds
        )
        + "]"
    )
    source = _PYTHON_TEMPLATE.format(
        version=__version__,
        wire=WIRE_FORMAT_VERSION,
        n=len(widths),
        n_bytes=bytes_per_row(widths),
        names=", ".join(names),
        widths=widths,
        thresholds=tables,
    )
    if path is not None:
        write_atomically(path, lambda f: f.write(source.encode("utf-8")))
    return source
