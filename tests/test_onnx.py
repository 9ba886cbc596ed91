"""ONNX export: onnxruntime gives the torch server's predictions from bytes,
codes and readings, for every representation, heads, mixed widths and the
committed fixture; skl2onnx converts pipelines that end in an estimator."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    FullPrecisionMLPClassifier,
    FullPrecisionMLPRegressor,
    SoftQuantizer,
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
    export_onnx,
    load,
    register_skl2onnx,
)
from sklearn_bsq._quantizers.representations import representation_names

FIXTURES = Path(__file__).parent / "fixtures"
REPRESENTATIONS = representation_names()
# Regression outputs and probabilities: float32 products summed in another order
RTOL, ATOL = 1e-5, 1e-7


def run(model, kind, data):
    session = ort.InferenceSession(model.SerializeToString())
    return session.run(None, {kind: data})


def inputs(estimator, X):
    return {
        "packed": estimator.transform(X),
        "codes": estimator.encode(X).astype(np.int64),
        "readings": np.asarray(X, np.float32),
    }


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("n_heads", [1, 3])
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_a_classifier_gives_the_same_labels_and_probabilities(
    iris, representation, n_heads
):
    X, y = iris
    clf = SoftQuantizerClassifier(
        [0, 3, 5, 2],
        representation=representation,
        n_heads=n_heads,
        max_epochs=3,
        random_state=0,
    ).fit(X, y)
    for kind, data in inputs(clf, X).items():
        labels, probabilities = run(export_onnx(clf, input=kind), kind, data)
        np.testing.assert_array_equal(labels, clf.predict_packed(clf.transform(X)))
        np.testing.assert_allclose(
            probabilities, clf.predict_proba(X), rtol=RTOL, atol=ATOL
        )


@pytest.mark.parametrize("n_heads", [1, 3])
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_a_regressor_gives_the_same_values_for_mixed_widths(
    diabetes, representation, n_heads
):
    """Widths 0 to 16 in one model (the steps' representations to 8 bits: at
    16 their inputs per code are refused, see below)."""
    X, y = diabetes
    steps = representation in ("thermometer", "bits", "levels+thermometer")
    widths = [1, 8 if steps else 16, 0, 4, 8, 2, 3, 13 if not steps else 3, 3, 5]
    reg = SoftQuantizerRegressor(
        widths,
        representation=representation,
        n_heads=n_heads,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    for kind, data in inputs(reg, X).items():
        (predictions,) = run(export_onnx(reg, input=kind), kind, data)
        assert predictions.dtype == np.float64 and predictions.shape == (len(X),)
        np.testing.assert_allclose(predictions, reg.predict(X), rtol=RTOL)


def test_range_coded_messages_are_served_as_their_decompressed_codes(diabetes):
    """No graph reads format v2; the server guide's way: ``decompress``, then
    the graph on codes."""
    X, y = diabetes
    widths = [4, 3, 0, 5, 4, 2, 3, 4, 6, 3]
    reg = SoftQuantizerRegressor(widths, max_epochs=2, random_state=0).fit(X, y)
    messages = reg.compress(X)
    assert min(map(len, messages)) < reg.bytes_per_row_  # some rows range-coded
    codes = reg.decompress(messages).astype(np.int64)
    (predictions,) = run(export_onnx(reg, input="codes"), "codes", codes)
    np.testing.assert_allclose(predictions, reg.predict_compressed(messages), rtol=RTOL)


def initializer_kinds(model) -> set[str]:
    """The initializers' names without the builder's numbering."""
    return {tensor.name.rsplit("_", 1)[0] for tensor in model.graph.initializer}


@pytest.mark.parametrize(
    ("bits", "table_limit", "tables", "products"),
    [
        (4, None, {"byte_table"}, 0),
        (3, None, {"byte_bits", "window_table"}, 1),
        ([3, 5, 2, 4, 6, 3, 4, 5, 7, 1], None, {"byte_bits", "window_table"}, 1),
        (4, 0, {"byte_bits", "window_table"}, 1),
    ],
)
def test_packed_rows_are_read_by_byte_or_by_window_of_features(
    diabetes, monkeypatch, bits, table_limit, tables, products
):
    """At 4 bits two features share each byte: the graph looks every byte's value
    up in a table per head and never unpacks codes. Where features span bytes
    it unpacks the bits and weights them, in one product, to the combined codes
    of windows of features, whose combinations it looks up; with the tables'
    size limit at zero, every feature's code alone. Every way gives the torch
    server's values."""
    from sklearn_bsq import _first_layer

    if table_limit is not None:
        monkeypatch.setattr(_first_layer, "COMBINED_TABLE_MAX_VALUES", table_limit)
    X, y = diabetes
    reg = SoftQuantizerRegressor(bits, max_epochs=2, random_state=0).fit(X, y)
    model = export_onnx(reg)
    used = initializer_kinds(model) & {
        "byte_table",
        "byte_bits",
        "window_table",
        "window_weights",
    }
    assert used == tables
    assert [node.op_type for node in model.graph.node].count("MatMul") == products
    (predictions,) = run(model, "packed", reg.transform(X))
    np.testing.assert_allclose(predictions, reg.predict(X), rtol=RTOL)


def test_windows_narrowed_to_fit_serve_the_same_predictions(diabetes, monkeypatch):
    """Ten 3-bit features make 10-bit windows of three; with the tables' limit
    just below those, the server and the graph take pairs of features (6 bits)
    rather than one feature each, and predict what the wider windows did."""
    from sklearn_bsq import _first_layer

    X, y = diabetes
    reg = SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, y)
    module = reg.net_.module_
    wide = _first_layer.first_layer_tables(module)
    assert [len(window) for window in wide.windows] == [3, 3, 3, 1]
    before = reg.predict(X)
    rows = sum(_first_layer.window_sizes(wide.widths, wide.windows))
    limit = rows * module.mlp[0].out_features - 1
    monkeypatch.setattr(_first_layer, "COMBINED_TABLE_MAX_VALUES", limit)
    _first_layer._CACHE.pop(module)
    try:
        narrowed = _first_layer.first_layer_tables(module)
        assert narrowed.windows == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
        np.testing.assert_allclose(reg.predict(X), before, rtol=RTOL)
        (served,) = run(export_onnx(reg), "packed", reg.transform(X))
    finally:
        _first_layer._CACHE.pop(module)
    np.testing.assert_allclose(served, before, rtol=RTOL)


@pytest.mark.parametrize(("limit", "summed_by"), [(None, "Add"), (4, "ReduceSum")])
def test_few_lookups_are_added_as_gathered_and_many_summed_at_once(
    diabetes, monkeypatch, limit, summed_by
):
    """At 4 bits a row of ten features is five byte lookups: within the limit,
    each head adds every lookup's table rows as it gathers them; above it (the
    limit lowered to four), one gather of all five and a ``ReduceSum`` per head.
    Both give the torch server's values."""
    from sklearn_bsq import _onnx

    if limit is not None:
        monkeypatch.setattr(_onnx, "CHAINED_GATHERS_MAX", limit)
    X, y = diabetes
    reg = SoftQuantizerRegressor(4, n_heads=3, max_epochs=2, random_state=0).fit(X, y)
    model = export_onnx(reg)
    table_gathers = [
        node
        for node in model.graph.node
        if node.op_type == "Gather" and node.input[0].startswith("byte_table")
    ]
    assert len(table_gathers) == (3 * 5 if summed_by == "Add" else 3)
    gathered = {node.output[0] for node in table_gathers}
    sums = [
        node
        for node in model.graph.node
        if node.op_type == summed_by and gathered & set(node.input)
    ]
    assert len(sums) == (3 * 4 if summed_by == "Add" else 3)
    (predictions,) = run(model, "packed", reg.transform(X))
    np.testing.assert_allclose(predictions, reg.predict(X), rtol=RTOL)


@pytest.mark.parametrize("bits", [4, [3, 5, 2, 4, 6, 3, 4, 5, 7, 1], [1, 16] * 5])
def test_codes_outside_their_range_fail_instead_of_reading_other_rows(diabetes, bits):
    """On ``codes`` a code beyond its feature's width (or below zero) would
    index another feature's or combination's table row: the graph makes the
    lookup fail instead, and leaves valid codes alone."""
    X, y = diabetes
    reg = SoftQuantizerRegressor(bits, max_epochs=2, random_state=0).fit(X, y)
    session = ort.InferenceSession(export_onnx(reg, input="codes").SerializeToString())
    codes = reg.encode(X).astype(np.int64)
    (predictions,) = session.run(None, {"codes": codes})
    np.testing.assert_allclose(predictions, reg.predict(X), rtol=RTOL)
    widest = int(max(reg.n_bits_))
    for bad in (1 << reg.n_bits_[0], -1, 1 << widest):
        damaged = codes.copy()
        damaged[7, 0] = bad
        with pytest.raises(Exception, match="out of data bounds"):
            session.run(None, {"codes": damaged})


def test_windows_group_features_up_to_their_bit_limit():
    from sklearn_bsq._first_layer import code_windows

    assert code_windows([3, 5, 2, 4, 6, 3, 4, 5, 16, 1]) == [
        [0, 1, 2],
        [3, 4],
        [5, 6],
        [7],
        [8],
        [9],
    ]
    assert code_windows([4, 4, 4], max_bits=0) == [[0], [1], [2]]


@pytest.mark.parametrize(
    ("limit", "windows"),
    [
        (520, [[0, 1, 2], [3]]),  # 10 bits: 512 + 8 rows
        (519, [[0, 1], [2, 3]]),  # narrower windows before one per feature
        (128, [[0, 1], [2, 3]]),
        (127, [[0], [1], [2], [3]]),
    ],
)
def test_windows_narrow_until_their_tables_fit(monkeypatch, limit, windows):
    from sklearn_bsq import _first_layer

    monkeypatch.setattr(_first_layer, "COMBINED_TABLE_MAX_VALUES", limit)
    assert _first_layer.fitting_windows([3, 3, 3, 3], units=1) == windows


def test_the_committed_fixture_serves_its_recorded_predictions():
    est = load(FIXTURES / "diabetes-format1.bsq.npz")
    expected = np.load(FIXTURES / "diabetes-format1-expected.npz")
    (predictions,) = run(export_onnx(est), "packed", expected["packed"])
    np.testing.assert_allclose(predictions, expected["predictions"], rtol=RTOL)
    (from_readings,) = run(
        export_onnx(est, input="readings"),
        "readings",
        expected["X"].astype(np.float32),
    )
    np.testing.assert_allclose(from_readings, expected["predictions"], rtol=RTOL)


def test_string_labels_and_a_task_chosen_by_the_data(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    sq = SoftQuantizer(2, max_epochs=3, random_state=0).fit(X, names)
    labels, probabilities = run(export_onnx(sq), "packed", sq.transform(X))
    assert labels.dtype == object
    np.testing.assert_array_equal(labels, sq.predict(X))
    np.testing.assert_allclose(probabilities, sq.predict_proba(X), rtol=RTOL, atol=ATOL)


def test_bool_labels_come_out_as_bool(iris):
    from skl2onnx import to_onnx

    X, y = iris
    sq = SoftQuantizer(2, max_epochs=3, random_state=0).fit(X, y == 0)
    labels, _ = run(export_onnx(sq), "packed", sq.transform(X))
    register_skl2onnx()
    converted, _ = run(to_onnx(sq, X[:1].astype(np.float32)), "X", X.astype(np.float32))
    for out in (labels, converted):
        assert out.dtype == bool
        np.testing.assert_array_equal(out, sq.predict(X))


def test_the_thresholds_decide_readings_as_the_node_does(diabetes):
    """A reading equal to a threshold goes to the lower code, the next float32
    above it to the higher one; NaN gets code 0, as the exported encoders."""
    X, y = diabetes
    reg = SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, y)
    codes_model = export_onnx(reg, input="codes")
    readings_model = export_onnx(reg, input="readings")
    t = reg.codec_.thresholds[0]
    rows = np.repeat(X[:1].astype(np.float32), 2 * len(t) + 1, axis=0)
    rows[: len(t), 0] = t
    rows[len(t) : 2 * len(t), 0] = np.nextafter(t, np.float32(np.inf))
    rows[-1, 0] = np.nan
    (from_readings,) = run(readings_model, "readings", rows)
    codes = reg.codec_.encode(rows).astype(np.int64)
    assert codes[-1, 0] == 0
    (from_codes,) = run(codes_model, "codes", codes)
    np.testing.assert_array_equal(from_readings, from_codes)


def test_the_reference_mlp_exports_on_readings(iris, diabetes):
    X, y = iris
    clf = FullPrecisionMLPClassifier(n_heads=2, max_epochs=3, random_state=0)
    clf.fit(X, y)
    labels, probabilities = run(
        export_onnx(clf, input="readings"), "readings", X.astype(np.float32)
    )
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(
        probabilities, clf.predict_proba(X), rtol=RTOL, atol=ATOL
    )
    X, y = diabetes
    reg = FullPrecisionMLPRegressor(max_epochs=3, random_state=0).fit(X, y)
    (values,) = run(
        export_onnx(reg, input="readings"), "readings", X.astype(np.float32)
    )
    np.testing.assert_allclose(values, reg.predict(X), rtol=RTOL)
    with pytest.raises(ValueError, match="input='readings'"):
        export_onnx(reg, input="packed")


def test_metadata_names_the_model_and_its_input(iris, tmp_path):
    X, y = iris
    clf = SoftQuantizerClassifier([2, 0, 3, 1], max_epochs=2, random_state=0)
    clf.fit(X, y)
    export_onnx(clf, tmp_path / "m.onnx", input="codes")
    model = onnx.load(tmp_path / "m.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    assert props["model_id"] == clf.model_id_
    assert props["input"] == "codes" and props["bytes_per_row"] == "1"
    assert json.loads(props["n_bits"]) == [2, 0, 3, 1]
    assert [i.name for i in model.graph.input] == ["codes"]
    assert [o.name for o in model.graph.output] == ["predictions", "probabilities"]


def test_bad_arguments_get_clear_errors(iris):
    X, y = iris
    with pytest.raises(NotFittedError):
        export_onnx(SoftQuantizerClassifier(2))
    with pytest.raises(TypeError, match="SoftQuantizer"):
        export_onnx(StandardScaler().fit(X))
    clf = SoftQuantizerClassifier(2, max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="input must be one of"):
        export_onnx(clf, input="bytes")
    with pytest.raises(TypeError, match="returned model's SerializeToString"):
        export_onnx(clf, io.BytesIO())
    with pytest.raises(TypeError, match="register_skl2onnx"):
        export_onnx(make_pipeline(StandardScaler(), clf))


def test_steps_at_16_bits_are_refused_with_the_way_out():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1))
    reg = SoftQuantizerRegressor(
        16, representation="thermometer", max_epochs=1, random_state=0
    ).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="representation='embedding'"):
        export_onnx(reg)


def test_the_command_line_writes_a_model_that_runs(iris, tmp_path):
    X, y = iris
    clf = SoftQuantizerClassifier(3, max_epochs=2, random_state=0).fit(X, y)
    from sklearn_bsq import save

    save(clf, tmp_path / "m.bsq.npz")
    command = [
        sys.executable,
        "-m",
        "sklearn_bsq",
        "export",
        str(tmp_path / "m.bsq.npz"),
    ]
    result = subprocess.run(
        [*command, "--lang", "onnx", "-o", str(tmp_path / "m.onnx")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert clf.model_id_ in result.stdout
    labels, _ = run(onnx.load(tmp_path / "m.onnx"), "packed", clf.transform(X))
    np.testing.assert_array_equal(labels, clf.predict(X))


# ------------------------------------------------ skl2onnx: pipelines


@pytest.mark.parametrize(
    "make_estimator",
    [
        lambda: SoftQuantizerClassifier(3, n_heads=2, max_epochs=3, random_state=0),
        lambda: SoftQuantizer(2, representation="bits", max_epochs=3, random_state=0),
        lambda: FullPrecisionMLPClassifier(max_epochs=3, random_state=0),
    ],
)
def test_skl2onnx_converts_a_pipeline_with_a_column_transformer(iris, make_estimator):
    """Scaled and passed-through columns in front, float64 inputs: the graph
    gives the pipeline's labels and probabilities."""
    from skl2onnx import to_onnx

    X, y = iris
    front = ColumnTransformer(
        [("scaled", StandardScaler(), [0, 1])], remainder="passthrough"
    )
    pipe = make_pipeline(front, make_estimator()).fit(X, y)
    register_skl2onnx()
    model = to_onnx(pipe, X[:1])
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    labels, probabilities = run(model, "X", X)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_allclose(
        probabilities, pipe.predict_proba(X), rtol=RTOL, atol=ATOL
    )


def test_skl2onnx_converts_a_regressor_on_float32_inputs(diabetes):
    """float32 pipeline inputs run the scaler in float32 in the graph; on this
    data every reading keeps its code."""
    from skl2onnx import to_onnx

    X, y = diabetes
    pipe = make_pipeline(
        StandardScaler(), SoftQuantizerRegressor(4, max_epochs=2, random_state=0)
    ).fit(X, y)
    register_skl2onnx()
    X32 = X.astype(np.float32)
    (values,) = run(to_onnx(pipe, X32[:1]), "X", X32)
    np.testing.assert_allclose(values.ravel(), pipe.predict(X32), rtol=RTOL)


def test_skl2onnx_takes_the_option_for_no_zipmap(iris):
    """Conversion scripts pass zipmap=False for every classifier; the graph has
    no ZipMap, so that is accepted, and zipmap=True is refused by name."""
    from skl2onnx import to_onnx

    X, y = iris
    clf = SoftQuantizerClassifier(2, max_epochs=1, random_state=0).fit(X, y)
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    register_skl2onnx()
    for options in ({"zipmap": False}, {id(pipe[-1]): {"zipmap": False}}):
        labels, _ = run(to_onnx(pipe, X[:1], options=options), "X", X)
        np.testing.assert_array_equal(labels, pipe.predict(X))
    with pytest.raises(ValueError, match="option 'zipmap'"):
        to_onnx(pipe, X[:1], options={id(pipe[-1]): {"zipmap": True}})


def test_skl2onnx_converts_for_opsets_13_on_and_refuses_older(iris):
    from skl2onnx import to_onnx

    X, y = iris
    X32 = X.astype(np.float32)
    clf = SoftQuantizerClassifier(3, n_heads=3, max_epochs=2, random_state=0)
    clf.fit(X, y)
    register_skl2onnx()
    for opset in (13, 18):
        labels = run(to_onnx(clf, X32[:1], target_opset=opset), "X", X32)[0]
        np.testing.assert_array_equal(labels, clf.predict(X32))
    with pytest.raises(ValueError, match="target_opset=13 or more"):
        to_onnx(clf, X32[:1], target_opset=12)


@pytest.mark.parametrize("quantizer", ["soft", "fixed", "lsq"])
def test_every_quantizer_exports(iris, quantizer):
    X, y = iris
    clf = SoftQuantizerClassifier(
        [2, 3, 0, 4], quantizer=quantizer, max_epochs=2, random_state=0
    ).fit(X, y)
    labels, probabilities = run(export_onnx(clf), "packed", clf.transform(X))
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(
        probabilities, clf.predict_proba(X), rtol=RTOL, atol=ATOL
    )
