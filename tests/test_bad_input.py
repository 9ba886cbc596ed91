"""Bad input is refused before training, with a message that names the problem."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from sklearn_bsq import SoftQuantizer, SoftQuantizerRegressor

from conftest import FAST


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def fitted(data):
    return SoftQuantizer(3, random_state=0, **{**FAST, "max_epochs": 2}).fit(*data)


def with_value(X, value):
    X = X.astype(object if isinstance(value, str) else float).copy()
    X[1, 2] = value
    return X


@pytest.mark.parametrize(
    "value, error, match",
    [
        (np.nan, ValueError, "Input X contains NaN"),
        (np.inf, ValueError, "Input X contains infinity"),
        (-np.inf, ValueError, "Input X contains infinity"),
        (1e39, ValueError, "infinity or a value too large"),
        ("abc", ValueError, "could not convert string to float"),
    ],
)
def test_bad_values_in_X(data, fitted, value, error, match):
    X, y = data
    bad = with_value(X, value)
    with pytest.raises(error, match=match):
        SoftQuantizer(**FAST).fit(bad, y)
    for method in (fitted.encode, fitted.transform, fitted.predict):
        with pytest.raises(error, match=match):
            method(bad)


def test_complex_values(data):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        SoftQuantizer(**FAST).fit(X + 1j, y)


def test_sparse_input(data, fitted):
    X, y = data
    with pytest.raises(TypeError, match="Sparse data was passed"):
        SoftQuantizer(**FAST).fit(sp.csr_matrix(X), y)
    with pytest.raises(TypeError, match="Sparse data was passed"):
        fitted.transform(sp.csr_matrix(X))


def test_wrong_number_of_features(data, fitted):
    X, _ = data
    with pytest.raises(
        ValueError, match="X has 2 features, but SoftQuantizer is expecting 3"
    ):
        fitted.transform(X[:, :2])


def test_zero_features_and_empty_input(data):
    X, y = data
    with pytest.raises(ValueError, match="0 feature"):
        SoftQuantizer(**FAST).fit(X[:, :0], y)
    with pytest.raises(ValueError, match="0 sample"):
        SoftQuantizer(**FAST).fit(X[:0], y[:0])


@pytest.mark.parametrize(
    "n_bits, error, match",
    [
        (0, ValueError, "'n_bits' parameter"),
        (17, ValueError, "'n_bits' parameter"),
        (-1, ValueError, "'n_bits' parameter"),
        (2.5, ValueError, "'n_bits' parameter"),
        ("4", ValueError, "'n_bits' parameter"),
        (True, TypeError, "n_bits must be an int or a sequence"),
        ([4, 4], ValueError, "n_bits has 2 entries but X has 3 features"),
        ([4, 0, 4], ValueError, r"must be in 1..16; got \[0\] at feature index \[1\]"),
        ([4, 17, 4], ValueError, r"must be in 1..16; got \[17\]"),
        ([4, 2.5, 4], TypeError, "bit widths must be integers"),
    ],
)
def test_bad_n_bits(data, n_bits, error, match):
    with pytest.raises(error, match=match):
        SoftQuantizer(n_bits, **FAST).fit(*data)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(steepness=(0.0, 10.0)), "steepness must be a pair"),
        (dict(steepness=(1.0,)), "steepness must be a pair"),
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes must hold positive ints"),
        (dict(representation="onehot"), "'representation' parameter"),
        (dict(task="ranking"), "'task' parameter"),
    ],
)
def test_bad_settings(data, params, match):
    with pytest.raises(ValueError, match=match):
        SoftQuantizer(**{**FAST, **params}).fit(*data)


def test_target_with_nan(data):
    X, _ = data
    y = np.linspace(0, 1, len(X))
    y[5] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        SoftQuantizerRegressor(**FAST).fit(X, y)


def test_single_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes, got 1 class"):
        SoftQuantizer(**FAST).fit(X, np.zeros(len(X), dtype=int))


def test_multi_output_target(data):
    X, _ = data
    with pytest.raises(ValueError, match="y should be a 1d array"):
        SoftQuantizer(**FAST).fit(X, np.ones((len(X), 2)))


def test_unfitted(data):
    X, _ = data
    with pytest.raises(NotFittedError):
        SoftQuantizer().transform(X)
    with pytest.raises(NotFittedError):
        SoftQuantizer().predict_packed(np.zeros((1, 2), dtype=np.uint8))


def test_bad_bytes(fitted):
    # 3 features x 3 bits = 9 bits: 2 bytes per row, 7 padding bits
    good = np.zeros((2, 2), dtype=np.uint8)
    assert fitted.predict_packed(good).shape == (2,)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        fitted.predict_packed(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match="dtype uint8"):
        fitted.decode(good.astype(np.int32))
    with pytest.raises(ValueError, match="non-zero padding bits"):
        fitted.predict_proba_packed(np.array([[0, 1]], dtype=np.uint8))


def test_bad_codes(fitted):
    with pytest.raises(ValueError, match="codes out of range"):
        fitted.predict_codes(np.array([[8, 0, 0]]))
    with pytest.raises(ValueError, match=r"codes must have shape \(n_samples, 3\)"):
        fitted.predict_codes(np.array([[1, 0]]))


def test_constant_feature_and_one_feature_work():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=80), np.full(80, 5.0)])
    y = (X[:, 0] > 0).astype(int)
    sq = SoftQuantizer(2, random_state=0, **FAST).fit(X, y)
    assert np.unique(sq.encode(X)[:, 1]).size == 1  # one code: nothing to tell
    assert np.all(np.diff(sq.thresholds_[1]) >= 0)
    one = SoftQuantizer(2, random_state=0, **FAST).fit(X[:, :1], y)
    assert one.transform(X[:, :1]).shape == (80, 1)
