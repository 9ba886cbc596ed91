"""Device encoders: the C header and the pure-Python module give transform's bytes."""

import shutil
import subprocess

import numpy as np
import pytest

from sklearn_bsq import SoftQuantizer, export_c, export_python

GCC_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
HARNESS = """#include <stdio.h>
#include "model.h"
int main(void)
{
    float x[BSQ_N_FEATURES];
    uint8_t out[BSQ_BYTES_PER_ROW];
    while (fread(x, sizeof(float), BSQ_N_FEATURES, stdin) == BSQ_N_FEATURES) {
        bsq_encode(x, out);
        fwrite(out, 1, BSQ_BYTES_PER_ROW, stdout);
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
}


@pytest.fixture(scope="module", params=list(WIDTHS))
def model(request):
    widths = WIDTHS[request.param]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, len(widths))) * np.arange(1, len(widths) + 1) * 10
    y = (X.sum(axis=1) > 0).astype(int)
    sq = SoftQuantizer(
        widths, representation="levels", max_epochs=1, batch_size=64, random_state=0
    )
    return sq.fit(X, y), X


@pytest.fixture(scope="module")
def c_encoder(model, tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required for the C export tests")
    folder = tmp_path_factory.mktemp("c")
    export_c(model[0], name="bsq", path=folder / "model.h")
    (folder / "main.c").write_text(HARNESS)
    subprocess.run(
        ["gcc", *GCC_FLAGS, "-o", str(folder / "encode"), str(folder / "main.c")],
        check=True,
        capture_output=True,
        text=True,
    )

    def encode(X):
        rows = np.ascontiguousarray(X, dtype="<f4").tobytes()
        result = subprocess.run(
            [str(folder / "encode")], input=rows, capture_output=True, check=True
        )
        return np.frombuffer(result.stdout, dtype=np.uint8).reshape(len(X), -1)

    return encode


@pytest.fixture(scope="module")
def python_encoder(model):
    namespace = {}
    exec(compile(export_python(model[0]), "exported", "exec"), namespace)
    encode = namespace["encode"]
    return lambda X: np.array(
        [np.frombuffer(encode(list(row)), dtype=np.uint8) for row in X]
    ).reshape(len(X), -1)


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


@pytest.mark.parametrize("encoder", ["c_encoder", "python_encoder"])
def test_bit_exact_with_transform(model, encoder, request):
    encode = request.getfixturevalue(encoder)
    X = hard_rows(model)
    np.testing.assert_array_equal(encode(X), model[0].transform(X))


@pytest.mark.parametrize("encoder", ["c_encoder", "python_encoder"])
def test_non_finite_readings(model, encoder, request):
    sq, X = model
    encode = request.getfixturevalue(encoder)
    d = X.shape[1]
    rows = np.array([[np.nan] * d, [-np.inf] * d, [np.inf] * d], dtype=np.float32)
    top = [2 ** int(b) - 1 for b in sq.n_bits_]
    expected = sq.encode(np.zeros((3, d)))
    expected[0], expected[1], expected[2] = 0, 0, top
    from sklearn_bsq import pack

    np.testing.assert_array_equal(encode(rows), pack(expected, sq.n_bits_))


def test_header_contents(model):
    sq, _ = model
    header = export_c(sq, name="node7")
    assert f"#define NODE7_N_FEATURES {sq.n_features_in_}" in header
    assert f"#define NODE7_BYTES_PER_ROW {sq.bytes_per_row_}" in header
    assert "void node7_encode(const float *x, uint8_t *out)" in header
    assert "Wire format v1" in header and "sklearn_bsq 0.1.0" in header
    includes = [line for line in header.splitlines() if line.startswith("#include")]
    assert includes == ["#include <stdint.h>"]


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
