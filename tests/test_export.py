"""Device encoders: the C header and the pure-Python module give transform's bytes."""

import io
import re
import shutil
import subprocess

import numpy as np
import pytest

from sklearn_bsq import SoftQuantizer, export_c, export_python

GCC_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
# With an argument, each row's format v2 message behind a length byte.
HARNESS = """#include <stdio.h>
#include "model.h"
int main(int argc, char **argv)
{
    float x[BSQ_N_FEATURES];
    uint8_t out[BSQ_MESSAGE_BUFFER_BYTES], length[1];
    unsigned int n;
    (void)argv;
    while (fread(x, sizeof(float), BSQ_N_FEATURES, stdin) == BSQ_N_FEATURES) {
        if (argc > 1) {
            n = bsq_compress_row(x, out);
            length[0] = BSQ_BYTE(n);
            fwrite(length, 1, 1, stdout);
            fwrite(out, 1, n, stdout);
        } else {
            bsq_encode(x, out);
            fwrite(out, 1, BSQ_BYTES_PER_ROW, stdout);
        }
    }
    return 0;
}
"""
# 1 to 16 bits; 56 bits in all (7 bytes), 12 + 1 + 3 = 16 bits (2 bytes), and
# features that are not sent (width 0) between, before and after the others
WIDTHS = {
    "mixed": [16, 1, 13, 3, 9, 5, 2, 7],
    "aligned": [12, 1, 3],
    "four": [4] * 16,
    "skipped": [0, 5, 0, 0, 3, 8, 0, 1, 0],
    "sparse": [4] * 10 + [2, 8, 0, 16],  # mostly zero readings: skewed codes
    "correlated": [3, 4, 2, 4, 3],  # each feature follows the one before
}


@pytest.fixture(scope="module", params=list(WIDTHS))
def model(request):
    widths = WIDTHS[request.param]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, len(widths))) * np.arange(1, len(widths) + 1) * 10
    if request.param == "sparse":
        X *= rng.random(X.shape) < 0.2
    if request.param == "correlated":  # codes in the context of the one before
        X = np.cumsum(rng.normal(size=(64, 1)) + 0.1 * X, axis=1)
    y = (X.sum(axis=1) > 0).astype(int)
    sq = SoftQuantizer(
        widths, representation="levels", max_epochs=1, batch_size=64, random_state=0
    )
    return sq.fit(X, y), X


# The header compiles cleanly as C89, C99 and C++11 and gives the same bytes.
COMPILERS = {
    "c89": ["gcc", "-std=c89", *GCC_FLAGS[1:]],
    "c99": ["gcc", *GCC_FLAGS],
    "clang-c99": ["clang", *GCC_FLAGS],
    "c++11": ["g++", "-std=c++11", "-Wold-style-cast", *GCC_FLAGS[1:]],
}


def compiled_encoder(model, folder, command):
    """``encode(X)`` through the header compiled with ``command``."""
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is required for the C export tests")
    export_c(model[0], name="bsq", path=folder / "model.h")
    (folder / "main.c").write_text(HARNESS)
    subprocess.run(
        [*command, "-o", str(folder / "encode"), str(folder / "main.c")],
        check=True,
        capture_output=True,
        text=True,
    )

    def encode(X, *mode):
        rows = np.ascontiguousarray(X, dtype="<f4").tobytes()
        result = subprocess.run(
            [str(folder / "encode"), *mode], input=rows, capture_output=True, check=True
        )
        if mode:
            return split_messages(result.stdout)
        return np.frombuffer(result.stdout, dtype=np.uint8).reshape(len(X), -1)

    encode.compress = lambda X: encode(X, "compress")
    return encode


def split_messages(stream: bytes) -> list[bytes]:
    """Messages written each behind its length byte."""
    messages, at = [], 0
    while at < len(stream):
        messages.append(stream[at + 1 : at + 1 + stream[at]])
        at += 1 + stream[at]
    return messages


def python_encoder(model):
    namespace = {}
    exec(compile(export_python(model[0]), "exported", "exec"), namespace)
    encode = namespace["encode"]

    def encode_rows(X):
        rows = [np.frombuffer(encode(list(row)), dtype=np.uint8) for row in X]
        return np.array(rows).reshape(len(X), -1)

    encode_rows.compress = lambda X: [namespace["compress"](list(r)) for r in X]
    return encode_rows


ENCODERS = [*COMPILERS, "python"]


@pytest.fixture(scope="module")
def encoders(model, tmp_path_factory):
    built = {
        name: compiled_encoder(model, tmp_path_factory.mktemp(name), command)
        for name, command in COMPILERS.items()
    }
    return {**built, "python": python_encoder(model)}


def hard_rows(model):
    """Random rows, rows on every threshold and one float32 ulp either side."""
    sq, X = model
    rng = np.random.default_rng(1)
    low, high = X.min(axis=0), X.max(axis=0)
    span = high - low
    rows = [rng.uniform(low - span, high + span, size=(3000, X.shape[1]))]
    base = np.median(X, axis=0).astype(np.float32)
    for j, t in enumerate(sq.thresholds_):
        for values in (
            t,
            np.nextafter(t, np.float32(-np.inf)),
            np.nextafter(t, np.float32(np.inf)),
        ):
            block = np.tile(base, (len(values), 1))
            block[:, j] = values
            rows.append(block)
    rows.append(np.tile(base, (2, 1)) * 0 + np.array([[-3e38], [3e38]]))
    rows.append(np.tile(base, (2, 1)) * 0 + np.array([[-1e30], [1e30]]))
    return np.vstack(rows).astype(np.float32)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_bit_exact_with_transform(model, encoder, encoders):
    encode = encoders[encoder]
    X = hard_rows(model)
    np.testing.assert_array_equal(encode(X), model[0].transform(X))


@pytest.mark.parametrize("encoder", ENCODERS)
def test_messages_bit_exact_with_compress(model, encoder, encoders):
    sq, X = model
    rows = np.vstack([X, hard_rows(model)])
    expected = sq.compress(rows)
    assert encoders[encoder].compress(rows) == expected
    if 0 in sq.n_bits_:  # "skipped" and "sparse": codes skewed enough to code
        assert sum(len(m) < sq.bytes_per_row_ for m in expected) > 30
    if len(sq.n_bits_) == 5:  # "correlated"
        assert max(sq.codec_.code_tables.contexts) >= 0


@pytest.mark.parametrize("encoder", ENCODERS)
def test_non_finite_readings(model, encoder, encoders):
    sq, X = model
    encode = encoders[encoder]
    d = X.shape[1]
    rows = np.array([[np.nan] * d, [-np.inf] * d, [np.inf] * d], dtype=np.float32)
    top = [2 ** int(b) - 1 for b in sq.n_bits_]
    expected = sq.encode(np.zeros((3, d)))
    expected[0], expected[1], expected[2] = 0, 0, top
    from sklearn_bsq import pack

    np.testing.assert_array_equal(encode(rows), pack(expected, sq.n_bits_))
    # the codec, the node side in Python, gives the same bytes
    np.testing.assert_array_equal(sq.codec_.transform(rows), encode(rows))


def test_header_contents(model):
    sq, _ = model
    header = export_c(sq, name="node7")
    assert f"#define NODE7_N_FEATURES {sq.n_features_in_}" in header
    assert f"#define NODE7_BYTES_PER_ROW {sq.bytes_per_row_}" in header
    assert "void node7_encode(const float *x, uint8_t *out)" in header
    assert "Wire format v1" in header and "sklearn_bsq 0.1.0" in header
    includes = [line for line in header.splitlines() if line.startswith("#include")]
    assert includes == ["#include <stdint.h>"]
    # each code in the smallest type that holds it (8-bit cores)
    for j, width in enumerate(sq.n_bits_):
        kind = "uint8_t" if width <= 8 else "uint16_t"
        assert (f"    {kind} c{j} = 0u;" in header) == (width > 0)


def test_header_needs_no_library(model, tmp_path):
    """Freestanding, no libc: the object file has no undefined symbols."""
    (tmp_path / "model.h").write_text(export_c(model[0], name="bsq"))
    (tmp_path / "unit.c").write_text(
        '#include "model.h"\n'
        "void encode_row(const float *x, uint8_t *out);\n"
        "void encode_row(const float *x, uint8_t *out) { bsq_encode(x, out); }\n"
    )
    obj = tmp_path / "unit.o"
    subprocess.run(
        [
            "gcc",
            *GCC_FLAGS,
            "-ffreestanding",
            "-c",
            "-o",
            str(obj),
            str(tmp_path / "unit.c"),
        ],
        check=True,
    )
    symbols = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True)
    assert symbols.stdout.strip() == ""


def test_feature_names_in_header():
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["temp_c", "humidity"])
    sq = SoftQuantizer(2, max_epochs=1, random_state=0).fit(
        X, (X.temp_c > 0).astype(int)
    )
    header = export_c(sq)
    assert "temp_c" in header and "humidity" in header
    assert "temp_c" in export_python(sq)


def test_writes_the_file(model, tmp_path):
    path = tmp_path / "enc.h"
    assert export_c(model[0], path=path) == path.read_text()
    path = tmp_path / "enc.py"
    assert export_python(model[0], path=path) == path.read_text()


def test_a_stream_for_a_path_is_refused_with_the_way_to_write_one(model, tmp_path):
    with pytest.raises(TypeError, match="got BytesIO; .* write the header it returns"):
        export_c(model[0], io.BytesIO())
    with pytest.raises(TypeError, match="source_path must be a file path"):
        export_c(model[0], tmp_path / "enc.h", source_path=io.StringIO())
    with pytest.raises(TypeError, match="got int; .* write the source it returns"):
        export_python(model[0], 3)
    assert not (tmp_path / "enc.h").exists()


@pytest.mark.parametrize("name", ["9lives", "my-model", "", None])
def test_bad_name(model, name):
    with pytest.raises(ValueError, match="name must be a C identifier"):
        export_c(model[0], name=name)


def test_unfitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        export_c(SoftQuantizer())
    with pytest.raises(NotFittedError):
        export_python(SoftQuantizer())


HOSTILE_NAMES = [
    "a*\\\n/ int injected = 42; /*",  # backslash-newline splices the comment's end
    "b ??/\n int injected2 = 1; /*",  # a trigraph backslash under -std=c99
    "c */ int injected3 = 3; /*",
    'd """; injected4 = 4; """',
    "e\\\n''' + 'injected5'",
    "f\x00g",  # NUL made the Python export a SyntaxError
    "h\r\n// line\n#define injected6",
    "ünïcödé °C",
    "\\N{BULLET} \\u2022 \\x41",
]


def test_hostile_feature_names_stay_inert_text(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, len(HOSTILE_NAMES))), columns=HOSTILE_NAMES)
    sq = SoftQuantizer(2, max_epochs=1, random_state=0).fit(X, (X.iloc[:, 0] > 0))
    header = export_c(sq, name="bsq")
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "main.c").write_text(HARNESS)
    subprocess.run(
        ["gcc", *GCC_FLAGS, "-o", str(tmp_path / "encode"), str(tmp_path / "main.c")],
        check=True,
    )
    symbols = subprocess.run(
        ["nm", str(tmp_path / "encode")], capture_output=True, text=True, check=True
    ).stdout
    assert "injected" not in symbols
    # The name table stays inside the header's first comment, with nothing in it
    # that could open or close a comment.
    table_end = header.index(" */\n#ifndef")
    assert "injected6" in header[:table_end]
    assert "*/" not in header[2:table_end] and "/*" not in header[2:table_end]

    source = export_python(sq)
    namespace = {}
    exec(compile(source, "exported", "exec"), namespace)
    assert not any(k.startswith("injected") for k in namespace)
    assert namespace["encode"](X.to_numpy()[0]) == sq.transform(X[:1]).tobytes()
    docstring = namespace["__doc__"]
    assert (
        "h<U+000D><U+000A><U+002F><U+002F> line<U+000A>#define injected6" in docstring
    )
    assert "<U+00FC>n<U+00EF>c<U+00F6>d<U+00E9> <U+00B0>C" in docstring


@pytest.mark.parametrize(
    "compiler, flag",
    [
        ("gcc", "-ffast-math"),
        ("gcc", "-ffinite-math-only"),
        ("clang", "-ffast-math"),
        ("clang", "-ffinite-math-only"),
    ],
)
def test_fast_math_is_refused_at_compile_time(model, tmp_path, compiler, flag):
    if shutil.which(compiler) is None:
        pytest.fail(f"{compiler} is required for the C export tests (see .ci/run)")
    (tmp_path / "model.h").write_text(export_c(model[0], name="bsq"))
    (tmp_path / "main.c").write_text(HARNESS)
    build = subprocess.run(
        [compiler, *GCC_FLAGS, flag, "-o", str(tmp_path / "e"), "main.c"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert build.returncode != 0
    assert "-ffinite-math-only break the float comparisons" in build.stderr


SELF_TEST = """#include <stdio.h>
#include "model.h"
int main(void)
{
    int failed = bsq_self_test();
    printf("%d\\n", failed);
    return failed != 0;
}
"""


@pytest.fixture(scope="module")
def subnormal_model():
    """Readings around 1e-39: every threshold is a subnormal float32."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * 1e-39
    y = (X.sum(axis=1) > 0).astype(int)
    sq = SoftQuantizer(3, max_epochs=1, random_state=0).fit(X, y)
    tiny = np.finfo(np.float32).tiny
    assert all(np.all(np.abs(t) < tiny) for t in sq.thresholds_)
    return sq


def _self_test(sq, folder, command):
    export_c(sq, folder / "model.h")
    (folder / "main.c").write_text(SELF_TEST)
    subprocess.run(
        [*command, "-o", str(folder / "t"), "main.c"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return subprocess.run([str(folder / "t")], capture_output=True, text=True)


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_the_self_test_passes_on_an_ieee_build(subnormal_model, tmp_path, compiler):
    result = _self_test(subnormal_model, tmp_path, [compiler, *GCC_FLAGS])
    assert result.returncode == 0 and result.stdout.strip() == "0"


def test_a_build_that_flushes_subnormals_fails_its_self_test(subnormal_model, tmp_path):
    """-funsafe-math-optimizations links crtfastmath on x86 (flush to zero and
    denormals are zero from startup): the encoder would give subnormal readings
    wrong codes, and the self-test says so instead."""
    command = ["gcc", *GCC_FLAGS, "-funsafe-math-optimizations"]
    result = _self_test(subnormal_model, tmp_path, command)
    assert result.returncode == 1 and int(result.stdout) >= 1


def test_a_c_and_h_pair_is_shared_by_several_translation_units(model, tmp_path):
    """One copy of the tables however many files include the header; a file
    that includes it without calling anything builds warning-free as C89."""
    sq, X = model
    header = export_c(sq, tmp_path / "model.h", source_path=tmp_path / "model.c")
    assert "static const float" not in header
    assert export_c(sq, tmp_path / "other.h") == (tmp_path / "other.h").read_text()
    (tmp_path / "main.c").write_text(HARNESS)
    (tmp_path / "unused.c").write_text('#include "model.h"\nint unused;\n')
    (tmp_path / "unused_header_only.c").write_text('#include "other.h"\nint x;\n')
    c89 = ["gcc", "-std=c89", *GCC_FLAGS[1:]]
    for unit in ("unused.c", "unused_header_only.c"):
        subprocess.run([*c89, "-c", unit], cwd=tmp_path, check=True)
    subprocess.run(
        [*c89, "-o", "encode", "main.c", "unused.c", "model.c"],
        cwd=tmp_path,
        check=True,
    )
    rows = hard_rows(model)
    result = subprocess.run(
        [str(tmp_path / "encode")],
        input=np.ascontiguousarray(rows, dtype="<f4").tobytes(),
        capture_output=True,
        check=True,
    )
    np.testing.assert_array_equal(
        np.frombuffer(result.stdout, np.uint8).reshape(len(rows), -1),
        sq.transform(rows),
    )
    with pytest.raises(ValueError, match="source_path needs path"):
        export_c(sq, source_path=tmp_path / "x.c")


def test_the_model_id_names_the_encoder_everywhere(model, tmp_path):
    from sklearn_bsq import load, save

    sq, X = model
    assert re.fullmatch(r"[0-9a-f]{16}", sq.model_id_)
    assert f'#define BSQ_MODEL_ID "{sq.model_id_}"' in export_c(sq, name="bsq")
    namespace = {}
    exec(export_python(sq), namespace)
    assert namespace["MODEL_ID"] == sq.model_id_
    save(sq, tmp_path / "m.bsq.npz")
    assert load(tmp_path / "m.bsq.npz").model_id_ == sq.model_id_
    # a refit with the same seed is the same model; one threshold less is not
    again = SoftQuantizer(**sq.get_params()).fit(X, (X.sum(axis=1) > 0).astype(int))
    assert again.model_id_ == sq.model_id_
    other = SoftQuantizer(**{**sq.get_params(), "random_state": 1})
    assert other.fit(X, (X.sum(axis=1) > 0).astype(int)).model_id_ != sq.model_id_


def test_a_file_whose_model_id_does_not_match_is_refused(model, tmp_path):
    import json

    from sklearn_bsq import load, save

    save(model[0], tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    metadata = json.loads(arrays.pop("__metadata__").tobytes())
    metadata["model_id"] = "0" * 16
    meta = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    np.savez(tmp_path / "bad.npz", __metadata__=meta, **arrays)
    with pytest.raises(ValueError, match="names model '0000000000000000'"):
        load(tmp_path / "bad.npz")


def naive_float32_parse(text: str) -> np.float32:
    """How a single-precision interpreter without correct rounding reads a
    decimal literal (MicroPython accumulates the digits in its float type):
    digits and powers of ten in float32, rounding at every step."""
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, fraction = mantissa.lstrip("-").partition(".")
    value = np.float32(0)
    for digit in whole + fraction:
        value = np.float32(value * np.float32(10) + np.float32(int(digit)))
    power = int(exponent or 0) - len(fraction)
    scale = np.float32(10) ** np.float32(abs(power))
    value = value * scale if power >= 0 else value / scale
    return np.float32(-value if mantissa.startswith("-") else value)


def test_python_export_is_exact_on_single_precision_interpreters():
    """The old export wrote thresholds as decimal text, which a single-precision
    parser reads up to 1 ulp off; bit patterns are read exactly everywhere."""
    import ast

    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    sq = SoftQuantizer(4, max_epochs=2, random_state=0).fit(X, y)
    thresholds = np.concatenate(sq.thresholds_)
    decimal = [repr(float(t)) for t in thresholds]
    misread = sum(
        naive_float32_parse(d) != t for d, t in zip(decimal, thresholds, strict=True)
    )
    assert misread > 0  # what the decimal tables suffered from

    source = export_python(sq)
    tree = ast.parse(source)
    floats = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and type(n.value) is float
    ]
    assert floats == []  # no decimal float literal left to misread
    namespace = {}
    exec(source, namespace)
    table = np.concatenate([np.array(t, np.float32) for t in namespace["THRESHOLDS"]])
    np.testing.assert_array_equal(table, thresholds)

    rng = np.random.default_rng(0)
    rows = np.tile(np.median(X, axis=0), (100_000, 1)).astype(np.float32)
    for j, t in enumerate(sq.thresholds_):
        if not len(t):
            continue  # a feature the learned widths do not send
        picks = t[rng.integers(0, len(t), len(rows))]
        step = rng.integers(-1, 2, len(rows))
        rows[:, j] = np.where(step < 0, np.nextafter(picks, np.float32(-np.inf)), picks)
        rows[:, j] = np.where(
            step > 0, np.nextafter(picks, np.float32(np.inf)), rows[:, j]
        )
    encode = namespace["encode"]
    got = b"".join(encode(row.tolist()) for row in rows)
    assert got == sq.transform(rows).tobytes()


def test_python_export_suits_small_interpreters():
    """No list literal of thresholds (a small interpreter builds one on its
    stack: a 12-bit feature exhausted MicroPython's default pystack), and an
    interpreter whose floats have fewer bits than float32 is refused at import
    rather than encoding inexactly."""
    import ast

    X = np.random.default_rng(0).normal(size=(300, 2))
    sq = SoftQuantizer([12, 2], max_epochs=1, random_state=0).fit(X, X[:, 0] > 0)
    source = export_python(sq)
    sizes = [
        len(n.elts) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.List)
    ]
    assert max(sizes, default=0) < 100
    guard = "if 1 + 2 ** -23 == 1:"
    assert guard in source
    namespace = {}
    exec(source, namespace)  # this interpreter: double floats, no refusal
    assert namespace["encode"](X[0]) == sq.transform(X[:1]).tobytes()
    with pytest.raises(ImportError, match="needs float32 or double floats"):
        exec(source.replace(guard, "if True:"), {})  # as a 30-bit float build
