"""The bad-input battery: every public entry point against hostile input.

Each case either has a documented result (asserted) or raises a ValueError /
TypeError whose message names the problem. Device encoders and ``load`` have
their own bad-input tests in test_export.py and test_persistence.py.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score

from sklearn_bsq import SoftQuantizer, SoftQuantizerClassifier, SoftQuantizerRegressor

from conftest import FAST, press_ctrl_c_in_epoch

rng = np.random.default_rng(0)
X3 = rng.normal(size=(60, 3))
Y3 = (X3[:, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def fitted():
    return SoftQuantizer(3, random_state=0, **{**FAST, "max_epochs": 2}).fit(X3, Y3)


def with_value(value):
    X = X3.astype(object if isinstance(value, str) or value is None else float).copy()
    X[1, 2] = value
    return X


NAN = (ValueError, "Input X contains NaN")
INF = (ValueError, "Input X contains infinity")
X_CASES = {
    "nan": (with_value(np.nan), NAN),
    "+inf": (with_value(np.inf), INF),
    "-inf": (with_value(-np.inf), INF),
    "None": (with_value(None), NAN),
    "1e39 (beyond float32)": (with_value(1e39), (ValueError, "value too large")),
    "string": (with_value("abc"), (ValueError, "could not convert string to float")),
    "complex": (X3 + 1j, (ValueError, "Complex data not supported")),
    "no rows": (X3[:0], (ValueError, r"0 sample\(s\)")),
    "no features": (X3[:, :0], (ValueError, r"0 feature\(s\)")),
    "1-D": (X3[:, 0], (ValueError, "Expected 2D array")),
    "3-D": (X3[:, :, None], (ValueError, "dim 3")),
    "sparse": (sp.csr_matrix(X3), (TypeError, "Sparse data was passed")),
    "categorical column": (
        pd.DataFrame(
            {"a": pd.Categorical(["x", "y"] * 30), "b": X3[:, 1], "c": X3[:, 2]}
        ),
        (TypeError, "column 'a' has dtype category; SoftQuantizer needs numeric"),
    ),
    "string column": (
        pd.DataFrame({"a": ["x"] * 60, "b": X3[:, 1], "c": X3[:, 2]}),
        (TypeError, "column 'a' has dtype"),
    ),
}
X_METHODS = ["fit", "encode", "transform", "predict", "predict_proba", "score"]


def call(fitted, method, X):
    if method == "fit":
        return SoftQuantizer(3, random_state=0, **FAST).fit(X, Y3[: X.shape[0]])
    if method == "score":
        return fitted.score(X, Y3[: X.shape[0]])
    return getattr(fitted, method)(X)


@pytest.mark.parametrize("method", X_METHODS)
@pytest.mark.parametrize("case", list(X_CASES))
def test_bad_readings(fitted, case, method):
    X, (error, match) = X_CASES[case]
    with pytest.raises(error, match=match):
        call(fitted, method, X)


@pytest.mark.parametrize("method", X_METHODS[1:])
def test_wrong_feature_count_and_names(fitted, method):
    with pytest.raises(
        ValueError, match="X has 2 features, but SoftQuantizer is expecting 3"
    ):
        call(fitted, method, X3[:, :2])
    named = SoftQuantizer(3, random_state=0, **FAST).fit(
        pd.DataFrame(X3, columns=["a", "b", "c"]), Y3
    )
    with pytest.raises(ValueError, match="feature names should match"):
        call(named, method, pd.DataFrame(X3, columns=["a", "b", "z"]))


@pytest.mark.parametrize(
    "convert",
    [
        lambda X: X.astype(np.float16),
        lambda X: np.round(X * 100).astype(np.int32),
        lambda X: X > 0,
        lambda X: X.astype(object),
        lambda X: X.astype(str).astype(object),  # numeric strings are parsed
        lambda X: pd.DataFrame(X).astype("Float64"),
    ],
    ids=["float16", "int32", "bool", "object numbers", "numeric strings", "nullable"],
)
def test_other_numeric_inputs_are_read_as_float32(fitted, convert):
    X = convert(X3)
    expected = fitted.encode(np.asarray(X, dtype=np.float64).astype(np.float32))
    np.testing.assert_array_equal(fitted.encode(X), expected)
    assert fitted.transform(X).shape == (60, 2)


def test_huge_but_finite_readings_take_the_end_codes(fitted):
    X = np.array([[1e38, -1e38, 3.4e38], [-3.4e38, 1e38, -1e38]])
    assert fitted.encode(X).tolist() == [[7, 0, 7], [0, 7, 0]]


# ------------------------------------------------------------------ training data
def test_one_sample():
    reg = SoftQuantizerRegressor(2, random_state=0, **FAST).fit(X3[:1], [3.0])
    assert reg.predict(X3[:1]) == pytest.approx([3.0], abs=1.0)
    with pytest.raises(ValueError, match="at least 2 classes, got 1 class"):
        SoftQuantizerClassifier(2, **FAST).fit(X3[:1], [1])


def test_one_feature_constant_features_and_two_values():
    X = np.column_stack([X3[:, 0], np.full(60, 5.0), np.where(X3[:, 1] > 0, 2.0, 7.0)])
    sq = SoftQuantizer(3, random_state=0, **FAST).fit(X, Y3)
    codes = sq.encode(X)
    # the two values stay apart and the server gets each back exactly (a bin's
    # value is the mean of its training readings); the constant comes back as is
    assert np.unique(codes[:, 2]).size == 2
    rebuilt = sq.inverse_transform(sq.transform(X))
    np.testing.assert_array_equal(rebuilt[:, 2], X[:, 2])
    np.testing.assert_array_equal(rebuilt[:, 1], X[:, 1])
    assert all(np.all(np.diff(t) >= 0) for t in sq.thresholds_)
    one = SoftQuantizer(2, random_state=0, **FAST).fit(X[:, :1], Y3)
    assert one.transform(X[:, :1]).shape == (60, 1)


@pytest.mark.parametrize(
    "n_bits, error, match",
    [
        (0, ValueError, "'n_bits' parameter"),
        (17, ValueError, "'n_bits' parameter"),
        (-1, ValueError, "'n_bits' parameter"),
        (2.5, ValueError, "'n_bits' parameter"),
        ("4", ValueError, "'n_bits' parameter"),
        (None, ValueError, "'n_bits' parameter"),
        (True, TypeError, "n_bits must be an int or a sequence"),
        ([4, 4], ValueError, "n_bits has 2 entries but X has 3 features"),
        ([[4, 4, 4]], ValueError, "n_bits has 3 entries"),
        ([0, 0, 0], ValueError, "at least one feature must be transmitted"),
        ([4, -1, 4], ValueError, r"in 0..16; got \[-1\] at feature index \[1\]"),
        ([4, 17, 4], ValueError, r"must be in 0..16; got \[17\]"),
        ([4, 2.5, 4], TypeError, "bit widths must be integers"),
        (["4", "4", "4"], TypeError, "bit widths must be integers"),
    ],
)
def test_bad_n_bits(n_bits, error, match):
    with pytest.raises(error, match=match):
        SoftQuantizer(n_bits, **FAST).fit(X3, Y3)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(steepness=(0.0, 10.0)), "steepness must be a pair"),
        (dict(steepness=(1.0,)), "steepness must be a pair"),
        (dict(hidden_layer_sizes=(0,)), "must be a positive int or a sequence"),
        (dict(hidden_layer_sizes=(16.0,)), "must be a positive int or a sequence"),
        (dict(hidden_layer_sizes=[[16]]), "must be a positive int or a sequence"),
        (dict(hidden_layer_sizes=0), "'hidden_layer_sizes' parameter"),
        (dict(representation="onehot"), "'representation' parameter"),
        (dict(task="ranking"), "'task' parameter"),
        (dict(quantizer="magic"), "'quantizer' parameter"),
        (
            dict(early_stopping=True, validation_fraction=0.01),
            "empty training or valid",
        ),
    ],
)
def test_bad_settings(params, match):
    with pytest.raises(ValueError, match=match):
        SoftQuantizer(**{**FAST, **params}).fit(X3, Y3)


@pytest.mark.parametrize(
    "y, error, match",
    [
        (
            np.where(np.arange(60) == 5, np.nan, 1.5 * np.arange(60)),
            ValueError,
            "y contains NaN",
        ),
        (
            np.where(np.arange(60) == 5, np.inf, 1.5 * np.arange(60)),
            ValueError,
            "y contains inf",
        ),
        (np.zeros(60, dtype=int), ValueError, "at least 2 classes, got 1 class"),
        (np.ones((60, 2)), ValueError, "y should be a 1d array"),
        (np.arange(59), ValueError, "inconsistent numbers of samples"),
        (None, ValueError, "requires y to be passed"),
        (
            np.array(["a", None] * 30, dtype=object),
            ValueError,
            r"y mixes labels of types \['NoneType', 'str'\]",
        ),
        (
            np.array(["a", 1] * 30, dtype=object),
            ValueError,
            r"labels of one type",
        ),
    ],
)
def test_bad_targets(y, error, match):
    with pytest.raises(error, match=match):
        SoftQuantizer(**FAST).fit(X3, y)


@pytest.mark.parametrize("size", [1e200, 1e-200, 1e300])
def test_huge_and_tiny_regression_targets_are_scaled_safely(size):
    y = size * (X3[:, 0] - X3[:, 0].min() + 1.0)
    reg = SoftQuantizerRegressor(3, random_state=0, **FAST).fit(X3, y)
    assert np.isfinite(reg.target_mean_) and 0 < reg.target_scale_ < np.inf
    np.testing.assert_allclose(reg.target_mean_, y.mean(), rtol=1e-12)
    np.testing.assert_allclose(reg.target_scale_, (y / size).std() * size, rtol=1e-9)
    pred = reg.predict(X3)
    assert np.all(np.isfinite(pred))
    assert r2_score(y / size, pred / size) > 0.5  # r2_score(y, pred) overflows


def test_string_and_column_targets_work():
    labels = np.array(["low", "high"])[Y3]
    clf = SoftQuantizer(2, random_state=0, **FAST).fit(X3, labels)
    assert set(clf.predict(X3)) <= {"low", "high"}
    with pytest.warns(Warning, match="column-vector y"):
        SoftQuantizer(2, random_state=0, **FAST).fit(X3, Y3[:, None])


# ------------------------------------------------------------ server-side input
BYTES_METHODS = [
    "decode",
    "inverse_transform",
    "predict_packed",
    "predict_proba_packed",
]
BYTES_CASES = {
    "too wide": (np.zeros((2, 3), np.uint8), ValueError, r"shape \(n_samples, 2\)"),
    "too narrow": (np.zeros((2, 1), np.uint8), ValueError, r"shape \(n_samples, 2\)"),
    "3-D": (np.zeros((2, 2, 1), np.uint8), ValueError, r"shape \(n_samples, 2\)"),
    "int64": (np.zeros((2, 2), np.int64), TypeError, "dtype uint8"),
    "float": (np.zeros((2, 2)), TypeError, "dtype uint8"),
    "bytes cut short": (b"\x00\x00\x00", ValueError, "not a whole number of 2-byte"),
    "bytes with padding": (b"\x00\x00\x00\x01", ValueError, "padding bits in row 1"),
    "padding": (
        np.array([[0, 1]], np.uint8),
        ValueError,
        "non-zero padding bits in row 0",
    ),
}


@pytest.mark.parametrize("method", BYTES_METHODS)
@pytest.mark.parametrize("case", list(BYTES_CASES))
def test_bad_bytes(fitted, method, case):
    packed, error, match = BYTES_CASES[case]
    with pytest.raises(error, match=match):
        getattr(fitted, method)(packed)


def test_a_single_row_of_bytes_is_accepted(fitted):
    row = fitted.transform(X3[:1])[0]
    np.testing.assert_array_equal(fitted.decode(row), fitted.encode(X3[:1]))
    np.testing.assert_array_equal(
        fitted.decode(np.frombuffer(row.tobytes(), np.uint8)), fitted.encode(X3[:1])
    )


def test_bytes_as_a_node_sends_them_are_rows_back_to_back(fitted):
    sent = fitted.transform(X3[:5]).tobytes()
    for as_received in (sent, bytearray(sent), memoryview(sent)):
        np.testing.assert_array_equal(fitted.decode(as_received), fitted.encode(X3[:5]))
        np.testing.assert_array_equal(
            fitted.predict_packed(as_received), fitted.predict(X3[:5])
        )
    np.testing.assert_array_equal(fitted.decode(sent[:2]), fitted.encode(X3[:1]))


@pytest.mark.parametrize(
    "codes, error, match",
    [
        (np.array([[8, 0, 0]]), ValueError, "code out of range for feature"),
        (np.array([[0, -1, 0]]), ValueError, "code out of range for feature"),
        (np.array([[1, 0]]), ValueError, r"codes must have shape \(n_samples, 3\)"),
        (np.array([[1.0, 0.0, 0.0]]), TypeError, "codes must be integers"),
    ],
)
def test_bad_codes(fitted, codes, error, match):
    with pytest.raises(error, match=match):
        fitted.predict_codes(codes)


def test_a_sparse_column_with_nan_fill_names_the_nan():
    column = pd.arrays.SparseArray([1.0, np.nan, 2.0] * 20, fill_value=np.nan)
    X = pd.DataFrame({"a": column, "b": X3[:, 1], "c": X3[:, 2]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse columns found"
        with pytest.raises(ValueError, match="Input X contains NaN"):
            SoftQuantizer(3, **FAST).fit(X, Y3)


def test_no_rows_on_the_server_give_empty_results(fitted):
    no_bytes = np.empty((0, fitted.bytes_per_row_), np.uint8)
    labels = fitted.predict_packed(no_bytes)
    assert labels.shape == (0,) and labels.dtype == fitted.classes_.dtype
    proba = fitted.predict_proba_packed(no_bytes)
    assert proba.shape == (0, 2) and proba.dtype == np.float64
    no_codes = np.empty((0, 3), np.uint8)
    assert fitted.predict_codes(no_codes).shape == (0,)
    assert fitted.predict_proba_codes(no_codes).shape == (0, 2)
    reg = SoftQuantizerRegressor(3, random_state=0, **{**FAST, "max_epochs": 2})
    values = reg.fit(X3, X3[:, 0]).predict_packed(no_bytes)
    assert values.shape == (0,) and values.dtype == np.float64


def test_unfitted_entry_points():
    sq = SoftQuantizer()
    for method in ["encode", "transform", "predict", "predict_proba"]:
        with pytest.raises(NotFittedError):
            getattr(sq, method)(X3)
    for method in BYTES_METHODS:
        with pytest.raises(NotFittedError):
            getattr(sq, method)(np.zeros((1, 2), np.uint8))


# ------------------------------------------------------------------ training faults
def test_diverging_loss_stops_with_advice_and_leaves_nothing_fitted(fitted):
    y = np.linspace(0, 1, 60)
    reg = SoftQuantizerRegressor(3, random_state=0, **{**FAST, "lr": 1e12})
    with pytest.raises(FloatingPointError, match="Try a smaller lr"):
        reg.fit(X3 * 1e30, y)
    with pytest.raises(NotFittedError):
        reg.predict(X3)


def test_failed_refit_does_not_leave_the_old_model_half_replaced():
    sq = SoftQuantizer(3, random_state=0, **FAST).fit(X3, Y3)
    with pytest.raises(ValueError):
        sq.fit(X3, np.zeros(60, dtype=int))
    assert not hasattr(sq, "thresholds_") and not hasattr(sq, "net_")
    with pytest.raises(NotFittedError):
        sq.transform(X3)


def test_a_refit_for_another_task_keeps_nothing_of_the_last_fit():
    sq = SoftQuantizer(3, random_state=0, **FAST).fit(X3, Y3)
    assert hasattr(sq, "classes_")
    sq.fit(X3, X3[:, 0] * 1.5)
    assert sq.task_ == "regression" and not hasattr(sq, "classes_")
    assert not hasattr(sq, "predict_proba")
    sq.fit(X3, Y3)
    assert sq.task_ == "classification"
    assert not hasattr(sq, "target_mean_") and not hasattr(sq, "target_scale_")


def test_keyboard_interrupt_leaves_a_fitted_model_and_says_so(monkeypatch):
    press_ctrl_c_in_epoch(monkeypatch, 3)
    sq = SoftQuantizer(3, random_state=0, **FAST)
    with pytest.warns(UserWarning, match="interrupted in epoch 3 of 15"):
        sq.fit(X3, Y3)
    packed = sq.transform(X3)
    np.testing.assert_array_equal(sq.predict_packed(packed), sq.predict(X3))


# ------------------------------------------------------------------ properties
WIDTH_SETS = [[1, 5, 16], [3, 3, 3], [8, 2, 11]]


@pytest.fixture(scope="module")
def models():
    out = []
    for widths in WIDTH_SETS:
        sq = SoftQuantizer(widths, representation="levels", random_state=0, **FAST)
        out.append(sq.set_params(max_epochs=1).fit(X3 * [1, 100, 1e-3], Y3))
    return out


BIG = float(np.float32(3e38))
finite_float32 = st.floats(-BIG, BIG, allow_nan=False, width=32)
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY_SETTINGS
@given(
    index=st.integers(0, len(WIDTH_SETS) - 1),
    X=arrays(np.float32, (8, 3), elements=finite_float32),
)
def test_codes_in_range_and_round_trip(models, index, X):
    sq = models[index]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = sq.encode(X)
        assert np.all(codes <= (1 << sq.n_bits_) - 1)
        np.testing.assert_array_equal(sq.decode(sq.transform(X)), codes)


@PROPERTY_SETTINGS
@given(
    index=st.integers(0, len(WIDTH_SETS) - 1),
    feature=st.integers(0, 2),
    values=arrays(np.float32, 12, elements=finite_float32),
)
def test_codes_are_monotone_in_each_feature(models, index, feature, values):
    sq = models[index]
    X = np.tile(X3[:1], (values.size, 1)).astype(np.float32)
    X[:, feature] = np.sort(values)
    codes = sq.encode(X)[:, feature].astype(int)
    assert np.all(np.diff(codes) >= 0)


# ------------------------------------------------- device export and model files
@pytest.mark.parametrize("export", ["export_c", "export_python"])
def test_export_entry_points(fitted, export):
    import sklearn_bsq

    function = getattr(sklearn_bsq, export)
    with pytest.raises(NotFittedError):
        function(SoftQuantizer())
    with pytest.raises(TypeError, match="is not an estimator instance"):
        function(object())
    if export == "export_c":
        with pytest.raises(ValueError, match="name must be a C identifier"):
            function(fitted, name="my model")


@pytest.mark.parametrize(
    "content, error, match",
    [
        (b"", ValueError, "not a readable sklearn_bsq model file"),
        (b"PK\x03\x04garbage", ValueError, "not a readable sklearn_bsq model file"),
        (b"\x93NUMPY", ValueError, "not a readable"),
    ],
)
def test_load_entry_point(tmp_path, content, error, match):
    from sklearn_bsq import load

    path = tmp_path / "model.bsq.npz"
    path.write_bytes(content)
    with pytest.raises(error, match=match):
        load(path)
