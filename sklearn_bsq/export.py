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

from ._estimator import fitted_state
from ._files import write_atomically
from ._packing import WIRE_FORMAT_VERSION, bytes_per_row, word_pieces
from ._version import __version__

_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _model_facts(estimator, user: str):
    """Widths, float32 thresholds and feature names of a fitted estimator."""
    state = fitted_state(estimator, user)
    codec = state.codec
    widths = [int(b) for b in codec.n_bits]
    thresholds = list(codec.thresholds)
    for j, t in enumerate(thresholds):
        if not np.all(np.isfinite(t)):
            raise ValueError(
                f"feature {j} has non-finite thresholds; a model trained on readings "
                "near the float32 limit cannot be exported."
            )
    names = [_printable_name(n) for n in state.feature_names()]
    return widths, thresholds, names, codec.model_id


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


def _byte_pieces(widths) -> list[list[tuple[int, int]]]:
    """For every output byte, the ``(feature, shift)`` pieces ORed into it: the
    wire format's layout (``word_pieces``) in bytes."""
    pieces = [[] for _ in range(bytes_per_row(widths))]
    for j, byte, shift in word_pieces(widths, 8):
        pieces[byte].append((j, shift))
    return pieces


def _shifted(variable: str, shift: int) -> str:
    if shift > 0:
        return f"({variable} << {shift})"
    if shift < 0:
        return f"({variable} >> {-shift})"
    return variable


def export_c(estimator, name: str = "bsq", path=None) -> str:
    """C header with the learned thresholds and a one-row encoder.

    The header defines ``<NAME>_N_FEATURES``, ``<NAME>_BYTES_PER_ROW``,
    ``<NAME>_MODEL_ID`` (the model's ``model_id_``) and ``void
    <name>_encode(const float *x, uint8_t *out)``, which writes one row in wire
    format v1. It needs only ``<stdint.h>``: no heap, no libm; it compiles as
    C89 (``inline`` only where the language has it), C99 and C++. Each code is
    found by a branch-free binary search over the feature's ``2**b - 1`` sorted
    thresholds, unrolled at export time, so the cost per feature is ``b``
    comparisons. Compiling it with ``-ffast-math`` is an error (it breaks the
    comparisons with NaN and subnormals). On small cores the tables can go to
    flash: define ``BSQ_TABLE`` as ``PROGMEM`` and ``BSQ_READ(p)`` as
    ``pgm_read_float(p)`` before including it (AVR).

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
    The tests compile it with ``-Wall -Wextra -Werror -pedantic`` as C89, C99
    and C++11:

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
    widths, thresholds, names, model_id = _model_facts(estimator, "export_c")
    upper, n_bytes = name.upper(), bytes_per_row(widths)
    lines = [
        f"/* {name}.h: bitwise soft quantization encoder, generated by sklearn_bsq "
        f"{__version__}.",
        f" * Model {model_id}. Wire format v{WIRE_FORMAT_VERSION}: codes MSB first, "
        "concatenated,",
        " * zero-padded to whole bytes.",
        " *",
        f" * {name}_encode(x, out): x holds {len(widths)} float readings, one per "
        "feature in the",
        " * order below (features that are not sent included: their values are not "
        "read),",
        f" * in the units the model was trained on; out receives {n_bytes} bytes "
        f"({sum(widths)} bits).",
        " * A reading's code is the number of thresholds strictly below it (float32",
        " * comparison): NaN and -inf give code 0, +inf the highest code, and a",
        " * subnormal reading compares as the tiny number it is. Builds that flush",
        " * subnormals to zero (-ffast-math, also when only given to the linker on",
        " * x86, -mdaz-ftz, soft-float libraries without subnormals) change the",
        " * codes of readings within 1.2e-38 of a threshold at 0; -ffast-math also",
        " * breaks NaN, so it is refused below.",
        " *",
        " * Hooks, defined before including this file: BSQ_TABLE (where the tables",
        " * go; e.g. PROGMEM on AVR) and BSQ_READ(p) (how a table entry is read;",
        " * e.g. pgm_read_float(p)); BSQ_INLINE (default: inline in C99 and C++).",
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
        "#if defined(__FAST_MATH__)",
        f'#error "{name}.h: -ffast-math breaks the float comparisons the wire format'
        ' defines (NaN, subnormals); compile this file without it"',
        "#endif",
        "#ifndef BSQ_TABLE",
        "#define BSQ_TABLE",
        "#endif",
        "#ifndef BSQ_READ",
        "#define BSQ_READ(p) (*(p))",
        "#endif",
        "#ifndef BSQ_INLINE",
        "#if defined(__cplusplus) || "
        "(defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)",
        "#define BSQ_INLINE inline",
        "#else",
        "#define BSQ_INLINE",
        "#endif",
        "#endif",
        "#ifdef __cplusplus",
        "#define BSQ_BYTE(v) static_cast<uint8_t>(v)",
        "#else",
        "#define BSQ_BYTE(v) ((uint8_t)(v))",
        "#endif",
        "",
        f"#define {upper}_N_FEATURES {len(widths)}",
        f"#define {upper}_BYTES_PER_ROW {n_bytes}",
        f"#define {upper}_TOTAL_BITS {sum(widths)}",
        f"#define {upper}_WIRE_FORMAT_VERSION {WIRE_FORMAT_VERSION}",
        f'#define {upper}_MODEL_ID "{model_id}"',
        "",
    ]
    for j, t in enumerate(thresholds):
        if t.size == 0:  # width 0: the feature is not measured or sent
            continue
        values = ", ".join(_c_float(v) for v in t)
        lines.append(
            f"static const float {name}_t{j}[{t.size}] BSQ_TABLE = {{{values}}};"
        )
    sent = [j for j, width in enumerate(widths) if width]
    lines += [
        "",
        f"static BSQ_INLINE void {name}_encode(const float *x, uint8_t *out)",
        "{",
    ]
    # C89: every declaration first. Each code in the smallest type that holds it.
    for j in sent:
        code_type = "uint8_t" if widths[j] <= 8 else "uint16_t"
        lines.append(f"    {code_type} c{j} = 0u;")
    # Each byte is written as soon as its last code is known, which keeps few
    # codes alive at once (no register spills on small cores).
    byte_pieces = _byte_pieces(widths)
    ready = {}
    for byte, pieces in enumerate(byte_pieces):
        ready.setdefault(max(j for j, _ in pieces), []).append(byte)
    for j, width in enumerate(widths):
        for level in range(width - 1, -1, -1):
            step = 1 << level
            entry = f"BSQ_READ(&{name}_t{j}[c{j} + {step - 1}u])"
            lines.append(f"    c{j} += (x[{j}] > {entry}) ? {step}u : 0u;")
        for byte in ready.get(j, []):
            terms = [_shifted(f"c{i}", shift) for i, shift in byte_pieces[byte]]
            lines.append(f"    out[{byte}] = BSQ_BYTE({' | '.join(terms)});")
    lines += ["}", "", f"#endif /* {upper}_H */", ""]
    source = "\n".join(lines)
    if path is not None:
        write_atomically(path, lambda f: f.write(source.encode("utf-8")))
    return source


_PYTHON_TEMPLATE = '''"""Model {model_id}, wire format v{wire} (sklearn_bsq {version}).

No numpy, no imports beyond struct: runs on CPython and MicroPython, also with
single-precision floats (the thresholds are stored as float32 bit patterns, not as
decimal text that such an interpreter may parse 1 ulp off). encode(row) takes {n}
readings and returns {n_bytes} bytes, exactly as SoftQuantizer.transform.
Readings are rounded to float32 first; NaN and -inf give code 0, +inf the top code.
Features: {names}
"""

import struct

MODEL_ID = "{model_id}"
N_FEATURES = {n}
BYTES_PER_ROW = {n_bytes}
N_BITS = {widths}
# float32 bit patterns of every feature's sorted thresholds
THRESHOLD_BITS = {threshold_bits}
# Wire format v{wire} layout: for every output byte, the (feature, shift) pieces
# ORed into it, code << shift (code >> -shift for a negative shift).
BYTES = {byte_pieces}


def _float32(value):
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # beyond float32: numpy rounds it to an infinity
        return float("inf") if value > 0 else float("-inf")


def _from_bits(pattern):
    return struct.unpack("<f", struct.pack("<I", pattern))[0]


THRESHOLDS = [[_from_bits(p) for p in row] for row in THRESHOLD_BITS]


def encode(row):
    if len(row) != N_FEATURES:
        raise ValueError("expected %d readings, got %d" % (N_FEATURES, len(row)))
    codes = []
    for value, t, bits in zip(row, THRESHOLDS, N_BITS):
        x = _float32(float(value))
        code = 0
        step = (1 << bits) >> 1  # 0 for a feature that is not sent
        while step:
            if x > t[code + step - 1]:
                code += step
            step >>= 1
        codes.append(code)
    out = bytearray()
    for pieces in BYTES:
        byte = 0
        for j, shift in pieces:
            byte |= codes[j] << shift if shift >= 0 else codes[j] >> -shift
        out.append(byte & 0xFF)
    return bytes(out)
'''


def export_python(estimator, path=None) -> str:
    """Source of a pure-Python module (no numpy) with ``encode(row) -> bytes``.

    For MicroPython-class devices and for servers that must not import torch.
    It gives exactly the bytes of ``transform`` for finite readings, and the
    documented codes for non-finite ones (see the module docstring). The
    thresholds are stored as float32 bit patterns, so an interpreter with
    single-precision floats reads them exactly too; ``MODEL_ID`` is the model's
    ``model_id_``.

    Parameters
    ----------
    estimator : fitted SoftQuantizer
    path : str or path-like, optional
        If given, the module is also written there (atomically).

    Returns
    -------
    source : str
        The module's text: ``MODEL_ID``, ``N_FEATURES``, ``BYTES_PER_ROW`` and
        ``encode``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn_bsq import SoftQuantizerRegressor, export_python
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = SoftQuantizerRegressor([3] * 10, max_epochs=2, random_state=0)
    >>> namespace = {}
    >>> exec(export_python(reg.fit(X, y)), namespace)
    >>> namespace["encode"](X[0]) == reg.transform(X[:1]).tobytes()
    True
    """
    widths, thresholds, names, model_id = _model_facts(estimator, "export_python")
    # Bit patterns, not decimal text: exact on single-precision interpreters too.
    patterns = [t.astype("<f4").view("<u4") for t in thresholds]
    bit_rows = "".join(
        "    [" + ", ".join(f"0x{int(p):08X}" for p in row) + "],\n" for row in patterns
    )
    source = _PYTHON_TEMPLATE.format(
        version=__version__,
        wire=WIRE_FORMAT_VERSION,
        n=len(widths),
        n_bytes=bytes_per_row(widths),
        names=", ".join(names),
        widths=widths,
        model_id=model_id,
        threshold_bits="[\n" + bit_rows + "]",
        byte_pieces=_byte_pieces(widths),
    )
    if path is not None:
        write_atomically(path, lambda f: f.write(source.encode("utf-8")))
    return source
