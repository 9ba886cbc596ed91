"""Device-side encoders for a fitted quantizer (a C99 header and pure Python),
and the whole model as an ONNX graph for servers (:func:`export_onnx`).

Both write one row in wire format v1 and give exactly the bytes of
``estimator.transform``. Readings are compared as float32 with the learned
thresholds; a reading equal to a threshold goes to the lower code.

Non-finite readings, which ``transform`` refuses: NaN compares false with every
threshold, so it gets code 0; ``-inf`` gets code 0 and ``+inf`` the highest code.
Both encoders do exactly this (the C header must not be compiled with
``-ffast-math``, which breaks comparisons with NaN).
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

import numpy as np

from ._entropy import MESSAGE_FORMAT_VERSION
from ._estimator import fitted_state
from ._export_v2 import (
    c_compress_definitions,
    message_buffer_bytes,
    python_compress_source,
    table_bytes,
)
from ._files import write_atomically
from ._packing import WIRE_FORMAT_VERSION, bytes_per_row, word_pieces
from ._version import __version__
from ._widths import n_thresholds

__all__ = ["export_c", "export_onnx", "export_python", "register_skl2onnx"]

_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_path(path, what: str, returned: str | None = None) -> None:
    """Refuse, before any work, a destination that is not a file path."""
    if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
        hint = (
            f"; to write into a stream, leave it out and write {returned}"
            if returned
            else ""
        )
        raise TypeError(
            f"{what} must be a file path (str or path-like), got "
            f"{type(path).__name__}{hint}."
        )


def _model_facts(estimator, user: str):
    """Widths, float32 thresholds, feature names, model id and code tables
    (None for a model saved without them) of a fitted estimator."""
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
    return widths, thresholds, names, codec.model_id, codec.code_tables


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


def export_c(estimator, path=None, *, name: str = "bsq", source_path=None) -> str:
    """C encoder with the learned thresholds: one header, or a ``.c``/``.h`` pair.

    The header defines ``<NAME>_N_FEATURES``, ``<NAME>_BYTES_PER_ROW``,
    ``<NAME>_MODEL_ID`` (the model's ``model_id_``) and declares ``void
    <name>_encode(const float *x, uint8_t *out)``, which writes one row in wire
    format v1, and ``int <name>_self_test(void)``, which returns 0 when every
    threshold of the model compares as the wire format defines on this build
    (call it at boot: a build that flushes subnormals to zero, such as
    ``-funsafe-math-optimizations`` or a Cortex-M with ``FPSCR.FZ`` set, fails
    it for a model with subnormal thresholds instead of encoding wrongly). It
    needs only ``<stdint.h>``: no heap, no libm; it compiles as C89
    (``inline`` only where the language has it), C99 and C++. Each code is
    found by a branch-free binary search over the feature's ``2**b - 1`` sorted
    thresholds, unrolled at export time, so the cost per feature is ``b``
    comparisons. Compiling it with ``-ffast-math`` or ``-ffinite-math-only``
    (gcc or clang) is an error: they break the comparisons with NaN. On small
    cores the tables can go to flash: define ``BSQ_TABLE`` as ``PROGMEM`` and
    ``BSQ_READ(p)`` as ``pgm_read_float(p)`` before including it (AVR).

    Header only (the default), every definition is ``static`` and marked
    unused-safe, for one translation unit. With ``source_path``, the header
    only declares, and the tables and functions go into that ``.c`` file, so
    several translation units share one copy in flash.

    Parameters
    ----------
    estimator : fitted SoftQuantizer (or its classifier/regressor form)
    path : str or path-like, optional
        If given, the header is written there (atomically).
    name : str, default="bsq"
        C identifier used as prefix: ``<name>_encode``, ``<NAME>_N_FEATURES``.
    source_path : str or path-like, optional
        Write a ``.c`` file with the definitions there, and make the header
        declare them (needs ``path``; the ``.c`` includes the header by its
        file name).

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
    >>> "int iris_self_test(void)" in header
    True
    """
    if not isinstance(name, str) or not _C_IDENTIFIER.match(name):
        raise ValueError(f"name must be a C identifier such as 'bsq', got {name!r}.")
    if source_path is not None and path is None:
        raise ValueError("source_path needs path: the .c file includes the header.")
    _check_path(path, "export_c's path", "the header it returns")
    _check_path(source_path, "export_c's source_path")
    facts = _model_facts(estimator, "export_c")
    widths, thresholds, names, model_id, tables = facts
    split = source_path is not None
    header = _c_header(name, widths, names, model_id, tables, not split)
    if split:
        definitions = _c_definitions(name, widths, thresholds, tables, "")
        source = (
            f"/* {name}.c: the encoder of model {model_id} (sklearn_bsq "
            f"{__version__}); see {Path(path).name}. */\n"
            f'#include "{Path(path).name}"\n\n' + definitions
        )
        write_atomically(source_path, lambda f: f.write(source.encode("utf-8")))
    else:
        header = header.replace(
            "/* DEFINITIONS */\n",
            _c_definitions(name, widths, thresholds, tables, "static BSQ_UNUSED "),
        )
    if path is not None:
        write_atomically(path, lambda f: f.write(header.encode("utf-8")))
    return header


def _c_header(name, widths, names, model_id, tables, definitions: bool) -> str:
    """The header: documentation, guards, hooks, sizes, and either a
    placeholder for the definitions or the declarations."""
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
        " * subnormal reading compares as the tiny number it is.",
        f" * {name}_self_test(): 0 when every threshold compares so on this build;",
        " * call it at boot. Builds that flush subnormals to zero (-ffast-math and",
        " * -funsafe-math-optimizations, also when only given to the linker on x86,",
        " * -mdaz-ftz, FPSCR.FZ on Cortex-M, soft-float libraries without",
        " * subnormals) fail it when the model has subnormal thresholds;",
        " * -ffast-math and -ffinite-math-only also break NaN: refused below.",
        " *",
        " * Hooks, defined before including this file: BSQ_TABLE (where the tables",
        " * go; e.g. PROGMEM on AVR), BSQ_READ(p) and BSQ_READ_U16(p) (how a float",
        " * and a uint16_t table entry are read; e.g. pgm_read_float(p) and",
        " * pgm_read_word(p)); BSQ_INLINE (default: inline in C99 and C++).",
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
        "#if defined(__FAST_MATH__) || "
        "(defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)",
        f'#error "{name}.h: -ffast-math and -ffinite-math-only break the float '
        'comparisons the wire format defines (NaN); compile this file without them"',
        "#endif",
        "#ifndef BSQ_TABLE",
        "#define BSQ_TABLE",
        "#endif",
        "#ifndef BSQ_READ",
        "#define BSQ_READ(p) (*(p))",
        "#endif",
        "#ifndef BSQ_READ_U16",
        "#define BSQ_READ_U16(p) (*(p))",
        "#endif",
        "#ifndef BSQ_INLINE",
        "#if defined(__cplusplus) || "
        "(defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)",
        "#define BSQ_INLINE inline",
        "#else",
        "#define BSQ_INLINE",
        "#endif",
        "#endif",
        "#ifndef BSQ_UNUSED",
        "#if defined(__GNUC__)",
        "#define BSQ_UNUSED __attribute__((unused))",
        "#else",
        "#define BSQ_UNUSED",
        "#endif",
        "#endif",
        "#ifdef __cplusplus",
        "#define BSQ_BYTE(v) static_cast<uint8_t>(v)",
        "#define BSQ_U16(v) static_cast<uint16_t>(v)",
        "#else",
        "#define BSQ_BYTE(v) ((uint8_t)(v))",
        "#define BSQ_U16(v) ((uint16_t)(v))",
        "#endif",
        "",
        f"#define {upper}_N_FEATURES {len(widths)}",
        f"#define {upper}_BYTES_PER_ROW {n_bytes}",
        f"#define {upper}_TOTAL_BITS {sum(widths)}",
        f"#define {upper}_WIRE_FORMAT_VERSION {WIRE_FORMAT_VERSION}",
        f'#define {upper}_MODEL_ID "{model_id}"',
        "",
    ]
    if tables is not None:
        lines[lines.index(" * feature  bits  name") - 1 : 0] = [
            " *",
            f" * {name}_compress_row(x, out): the row as a message in format v2 (range",
            " * coded with the model's code tables); returns its length in bytes,",
            f" * at most {upper}_BYTES_PER_ROW (then it is the v1 row). out must hold",
            f" * {upper}_MESSAGE_BUFFER_BYTES bytes. Send the length with the message.",
        ]
        lines += [
            f"#define {upper}_MESSAGE_FORMAT_VERSION {MESSAGE_FORMAT_VERSION}",
            f"#define {upper}_MESSAGE_BUFFER_BYTES {message_buffer_bytes(widths)}",
            f"#define {upper}_MESSAGE_TABLE_BYTES {table_bytes(tables)}",
            "",
        ]
    if definitions:
        lines.append("/* DEFINITIONS */")
    else:
        lines += [
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            f"void {name}_encode(const float *x, uint8_t *out);",
            f"int {name}_self_test(void);",
            *(
                []
                if tables is None
                else [f"unsigned int {name}_compress_row(const float *x, uint8_t *o);"]
            ),
            "#ifdef __cplusplus",
            "}",
            "#endif",
            "",
        ]
    lines += [f"#endif /* {upper}_H */", ""]
    return "\n".join(lines)


def _c_definitions(name, widths, thresholds, tables, storage: str) -> str:
    """The tables, the encoder, the self-test and (with code frequencies) the
    format v2 encoder; ``storage`` prefixes each function ("static BSQ_UNUSED "
    in a header, "" in a .c file)."""
    inline = "BSQ_INLINE " if storage else ""
    lines = []
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
        f"{storage}{inline}void {name}_encode(const float *x, uint8_t *out)",
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
    lines += ["}", ""]
    lines += _c_self_test(name, widths, thresholds, storage, inline)
    if tables is not None:
        lines.append(c_compress_definitions(name, widths, tables, storage))
    return "\n".join(lines) + "\n"


def _c_self_test(name, widths, thresholds, storage: str, inline: str) -> list[str]:
    """``<name>_self_test``: 1 unless, for every threshold ``t``, ``t > t`` is
    false, the next float above ``t`` is greater and NaN is not (volatile: the
    build's own comparisons at run time, not the compiler's constant folding)."""
    lines = [
        f"static BSQ_INLINE BSQ_UNUSED int {name}_compares_badly(float t)",
        "{",
        "    union { float f; uint32_t u; } up, nan;",
        "    volatile float at, above, not_a_number;",
        "    up.f = t;",
        "    if (up.u == 0x80000000u) up.u = 1u; /* -0: the smallest subnormal */",
        "    else if (up.u & 0x80000000u) up.u -= 1u; /* negative: towards 0 */",
        "    else up.u += 1u; /* positive: away from 0 */",
        "    nan.u = 0x7fc00000u;",
        "    at = t;",
        "    above = up.f;",
        "    not_a_number = nan.f;",
        "    return (at > at) || !(above > at) || (not_a_number > at);",
        "}",
        "",
        f"{storage}{inline}int {name}_self_test(void)",
        "{",
        "    uint32_t k; /* a 16-bit int cannot count 65,535 thresholds */",
    ]
    for j, t in enumerate(thresholds):
        if t.size == 0:
            continue
        lines += [
            f"    for (k = 0u; k < {t.size}u; ++k) {{",
            f"        if ({name}_compares_badly(BSQ_READ(&{name}_t{j}[k]))) return 1;",
            "    }",
        ]
    lines += ["    return 0;", "}", ""]
    return lines


_PYTHON_TEMPLATE = '''"""Model {model_id}, wire format v{wire} (sklearn_bsq {version}).

No numpy, no imports beyond struct: runs on CPython and on MicroPython builds
whose floats are float32 (MICROPY_FLOAT_IMPL_FLOAT) or double; the thresholds are
stored as float32 bit patterns, not as decimal text that a single-precision
interpreter may parse 1 ulp off, and as one bytes constant, not a list literal
that a small interpreter builds on its stack. Builds with fewer float bits (the
30-bit floats of MicroPython's object representation C, e.g. micro:bit) cannot
compare exactly and are refused at import. encode(row) takes {n} readings and
returns {n_bytes} bytes, exactly as SoftQuantizer.transform. Readings are rounded
to float32 first; NaN and -inf give code 0, +inf the top code. For a model with
code frequencies, compress(row) returns the format v2 message, exactly as
SoftQuantizer.compress (it needs 33-bit integers: MicroPython with long ints).
Features: {names}
"""

import struct

if 1 + 2 ** -23 == 1:  # fewer mantissa bits than float32
    raise ImportError(
        "this encoder needs float32 or double floats; this interpreter's floats "
        "have fewer bits (MicroPython with 30-bit floats): build it with "
        "MICROPY_FLOAT_IMPL_FLOAT and an object representation other than C"
    )

MODEL_ID = "{model_id}"
N_FEATURES = {n}
BYTES_PER_ROW = {n_bytes}
N_BITS = {widths}
N_THRESHOLDS = {counts}
# every feature's sorted thresholds, float32 little-endian, one after another
THRESHOLD_DATA = {threshold_data}
# Wire format v{wire} layout: for every output byte, the (feature, shift) pieces
# ORed into it, code << shift (code >> -shift for a negative shift).
BYTES = {byte_pieces}


def _float32(value):
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # beyond float32: numpy rounds it to an infinity
        return float("inf") if value > 0 else float("-inf")


def _thresholds():
    tables, at = [], 0
    for count in N_THRESHOLDS:
        tables.append(
            [struct.unpack_from("<f", THRESHOLD_DATA, 4 * (at + k))[0]
             for k in range(count)]
        )
        at += count
    return tables


THRESHOLDS = _thresholds()


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
    _check_path(path, "export_python's path", "the source it returns")
    facts = _model_facts(estimator, "export_python")
    widths, thresholds, names, model_id, tables = facts
    # Bit patterns, not decimal text: exact on single-precision interpreters
    # too; one bytes constant, in lines of 16 floats.
    data = b"".join(t.astype("<f4").tobytes() for t in thresholds)
    lines = [
        "    b'" + "".join(f"\\x{b:02x}" for b in data[i : i + 64]) + "'\n"
        for i in range(0, len(data), 64)
    ]
    threshold_data = "(\n" + "".join(lines) + ")" if lines else "b''"
    source = _PYTHON_TEMPLATE.format(
        version=__version__,
        wire=WIRE_FORMAT_VERSION,
        n=len(widths),
        n_bytes=bytes_per_row(widths),
        names=", ".join(names),
        widths=widths,
        counts=[int(n_thresholds(b)) for b in widths],
        model_id=model_id,
        threshold_data=threshold_data,
        byte_pieces=_byte_pieces(widths),
    )
    if tables is not None:
        source += python_compress_source(widths, tables)
    if path is not None:
        write_atomically(path, lambda f: f.write(source.encode("utf-8")))
    return source


def export_onnx(estimator, path=None, *, input: str = "packed"):
    """The fitted model as an ONNX graph: a server predicts without Python.

    The graph gives the predictions of ``predict_packed``, ``predict_codes`` or
    ``predict`` (labels equal, probabilities and regression values equal up to
    float32 rounding) in any ONNX runtime. It is built from the fitted state
    alone, in opset 17; the model id, the input kind, the widths and the feature
    names are in its metadata (``model_id``, ``input``, ``n_bits``, ...).

    Parameters
    ----------
    estimator : fitted SoftQuantizer or FullPrecisionMLP
        Any of the package's estimators (a ``FullPrecisionMLP`` only with
        ``input="readings"``).
    path : str or path-like, optional
        If given, the model is also written there (atomically).
    input : {"packed", "codes", "readings"}, default="packed"
        What the graph takes, ``N`` rows of it:

        - ``"packed"``: uint8 ``[N, bytes_per_row_]``, wire format v1 (the
          bytes ``transform`` gives and a node sends);
        - ``"codes"``: int64 ``[N, n_features_in_]``, as ``encode`` gives them;
        - ``"readings"``: float32 ``[N, n_features_in_]``; the graph compares
          them with the float32 thresholds as a node does (NaN gets code 0,
          as in the exported encoders, where ``predict`` refuses it).

        The graph reads packed rows as wire format v1 whatever their padding
        bits. On codes, a row with a code outside its feature's width makes
        onnxruntime's call fail ("indices element out of data bounds"; ONNX
        has no way to raise a message): check them first with the codec's
        ``check_codes`` for a clear error.

    Returns
    -------
    model : onnx.ModelProto
        Outputs ``predictions`` (``[N]``: class labels, bool, int64, float64
        or string as the classes were given, or float64 values in the target's
        units) and, for classifiers, ``probabilities`` (float32
        ``[N, n_classes]``, columns as ``classes_``).

    Raises
    ------
    ImportError
        Without the ``onnx`` package (``pip install 'sklearn-bsq[onnx]'``).
    ValueError
        For an unknown ``input``, or a model whose per-code tables would be
        too large to write (thermometer steps at 16 bits).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizerClassifier, export_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftQuantizerClassifier(3, max_epochs=5, random_state=0).fit(X, y)
    >>> model = export_onnx(clf, input="packed")
    >>> session = ort.InferenceSession(model.SerializeToString())
    >>> labels, proba = session.run(None, {"packed": clf.transform(X)})
    >>> bool((labels == clf.predict(X)).all())
    True
    >>> bool(np.allclose(proba, clf.predict_proba(X), atol=1e-6))
    True
    """
    from ._onnx import onnx_model

    _check_path(path, "export_onnx's path", "the returned model's SerializeToString()")
    if hasattr(estimator, "steps"):
        raise TypeError(
            "export_onnx takes the estimator itself; a Pipeline converts with "
            "skl2onnx: call sklearn_bsq.register_skl2onnx(), then "
            "skl2onnx.to_onnx(pipeline, X[:1])."
        )
    model = onnx_model(estimator, input)
    if path is not None:
        data = model.SerializeToString()
        write_atomically(path, lambda f: f.write(data))
    return model


def register_skl2onnx() -> None:
    """Register converters for the package's estimators with skl2onnx.

    After this call ``skl2onnx.to_onnx`` converts a Pipeline that ends in any
    ``SoftQuantizer`` or ``FullPrecisionMLP`` (with a ColumnTransformer, a
    StandardScaler or any other convertible steps in front): the estimator
    takes the float features of the steps before it as readings, coded in
    the graph as a node codes them. Outputs follow skl2onnx's names,
    ``label`` and ``probabilities`` (no ZipMap; the option ``zipmap=False``
    is accepted) for a classifier and
    ``variable`` for a regressor. Convert with float64 inputs (``to_onnx(pipe,
    X[:1])`` for a float64 ``X``) to run the steps before in double, as
    scikit-learn does: then every reading gets the code ``predict`` gives it,
    where float32 steps may move a reading within rounding of a threshold to
    the neighbouring code. The converters write ai.onnx opset 13 or later
    (skl2onnx's default ``target_opset`` or any from 13). Calling it again is
    harmless.

    Raises
    ------
    ImportError
        Without skl2onnx (``pip install 'sklearn-bsq[onnx]'``).
    ValueError
        From ``to_onnx``, for a ``target_opset`` below 13.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_bsq import SoftQuantizerRegressor, register_skl2onnx
    >>> X, y = load_diabetes(return_X_y=True)
    >>> pipe = make_pipeline(
    ...     StandardScaler(), SoftQuantizerRegressor(3, max_epochs=2, random_state=0)
    ... ).fit(X, y)
    >>> register_skl2onnx()
    >>> session = ort.InferenceSession(to_onnx(pipe, X[:1]).SerializeToString())
    >>> (values,) = session.run(None, {"X": X})
    >>> bool(np.allclose(values, pipe.predict(X), rtol=1e-5))
    True
    """
    try:
        import skl2onnx  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "register_skl2onnx needs skl2onnx: pip install 'sklearn-bsq[onnx]'."
        ) from error
    from ._skl2onnx import register

    register()
