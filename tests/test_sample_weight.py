"""``sample_weight`` in ``fit`` and ``partial_fit``: a weight multiplies a row's
loss and weighs every statistic the fit takes from the data, as if the row were
repeated that many times."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from sklearn_bsq import (
    FullPrecisionMLP,
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
)
from sklearn_bsq._threshold_init import initial_thresholds
from sklearn_bsq._training import holdout_indices
from sklearn_bsq._validation import check_sample_weight

from conftest import FAST


def _outputs(estimator, X):
    """Everything a fit decides, as arrays: the bytes and the predictions."""
    outputs = [estimator.predict(X)]
    if hasattr(estimator, "transform"):
        outputs.append(estimator.transform(X))
    if hasattr(estimator, "predict_proba"):
        outputs.append(estimator.predict_proba(X))
    return outputs


@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: SoftQuantizerClassifier(3, random_state=0, **FAST), "cancer"),
        (lambda: SoftQuantizerRegressor(2, random_state=0, **FAST), "diabetes"),
        (
            lambda: SoftQuantizerRegressor(
                "auto", bit_budget=20, early_stopping=True, random_state=0, **FAST
            ),
            "diabetes",
        ),
        (lambda: FullPrecisionMLP(random_state=0, **FAST), "cancer"),
    ],
)
@pytest.mark.parametrize("weight", [1.0, 3.5])
def test_equal_weights_fit_exactly_as_none(make, data, weight, request):
    X_train, X_test, y_train, _ = request.getfixturevalue(data)
    plain = make().fit(X_train, y_train)
    weights = np.full(len(y_train), weight)
    weighted = make().fit(X_train, y_train, sample_weight=weights)
    for a, b in zip(_outputs(plain, X_test), _outputs(weighted, X_test), strict=True):
        assert_array_equal(a, b)


def _repeated(X, y, weights):
    rows = np.repeat(np.arange(len(y)), weights)
    return X[rows], y[rows]


def test_weights_weigh_the_statistics_as_repeated_rows(diabetes, rng):
    X, _, y, _ = diabetes
    weights = rng.integers(0, 4, size=len(y))
    weighted = SoftQuantizerRegressor(3, **{**FAST, "max_epochs": 1}).fit(
        X, y, sample_weight=weights
    )
    repeated = SoftQuantizerRegressor(3, **{**FAST, "max_epochs": 1}).fit(
        *_repeated(X, y, weights)
    )
    for name in ("feature_mean_", "feature_scale_", "target_mean_", "target_scale_"):
        assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-6)


def test_weighted_initial_quantiles_cut_as_on_repeated_rows(rng):
    column = rng.normal(size=300)
    weights = rng.integers(0, 5, size=300)
    weighted = initial_thresholds(column, 15, "quantile", weights.astype(float))
    repeated_column = np.repeat(column, weights)
    repeated = initial_thresholds(repeated_column, 15, "quantile")
    # both cut the repeated rows into the same bins but for rows tied at a cut
    same = np.searchsorted(weighted, repeated_column) == np.searchsorted(
        repeated, repeated_column
    )
    assert same.mean() > 0.97


@pytest.mark.parametrize("strategy", ["quantile", "uniform", "kmeans"])
def test_rows_of_weight_zero_take_no_part_in_the_initial_thresholds(strategy, rng):
    column = rng.normal(size=400)
    kept = column > 0  # the lower half weighs nothing
    thresholds = initial_thresholds(column, 7, strategy, kept.astype(float))
    assert thresholds.min() > column[kept].min()
    if strategy == "quantile":  # 8 bins of equal frequency among the kept rows
        counts = np.bincount(np.searchsorted(thresholds, column[kept]), minlength=8)
        assert counts.min() >= kept.sum() // 8 - 1
    else:
        expected = initial_thresholds(column[kept], 7, strategy)
        assert_allclose(thresholds, expected)


def test_integer_weights_match_repeated_rows_up_to_training_noise(cancer, rng):
    X_train, X_test, y_train, y_test = cancer
    weights = rng.integers(1, 4, size=len(y_train))
    # uniform widths: "auto" learns them from 500 rows, which the repeated rows
    # reach and the weighted ones do not
    params = dict(allocation="uniform", random_state=0, **{**FAST, "max_epochs": 30})
    weighted = SoftQuantizerClassifier(3, **params).fit(
        X_train, y_train, sample_weight=weights
    )
    repeated = SoftQuantizerClassifier(3, **params).fit(
        *_repeated(X_train, y_train, weights)
    )
    agreement = (weighted.predict(X_test) == repeated.predict(X_test)).mean()
    assert agreement > 0.95
    assert abs(weighted.score(X_test, y_test) - repeated.score(X_test, y_test)) < 0.03
    # the learned thresholds stay as close as two fits of the repeated rows
    # that differ in their seed alone (the training noise), in standard
    # deviations of the feature
    reseeded = SoftQuantizerClassifier(3, **{**params, "random_state": 1}).fit(
        *_repeated(X_train, y_train, weights)
    )

    def median_gap(a, b):
        gaps = [
            np.abs(s - t) / scale
            for s, t, scale in zip(
                a.thresholds_, b.thresholds_, a.feature_scale_, strict=True
            )
        ]
        return np.median(np.concatenate(gaps))

    assert median_gap(weighted, repeated) < 1.2 * median_gap(repeated, reseeded)


def _imbalanced(rng, n=1200, minority=0.05):
    y = (rng.random(n) < minority).astype(int)
    X = rng.normal(size=(n, 4)) + 1.2 * y[:, None]
    return X, y


def test_balanced_weights_raise_the_recall_of_a_rare_class(rng):
    X, y = _imbalanced(rng)
    X_test, y_test = _imbalanced(rng)
    params = dict(random_state=0, **FAST)
    plain = SoftQuantizerClassifier(3, **params).fit(X, y)
    balanced = SoftQuantizerClassifier(3, **params).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    plain_recall = recall_score(y_test, plain.predict(X_test))
    balanced_recall = recall_score(y_test, balanced.predict(X_test))
    assert balanced_recall > plain_recall + 0.2  # measured: 0.49 -> 0.76


@pytest.mark.parametrize("estimator", ["quantizer", "full precision"])
def test_rows_of_weight_zero_do_not_pull_the_fit(estimator, rng):
    X = rng.normal(size=(600, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=600)
    ignored = np.arange(600) % 2 == 0
    y[ignored] += 10.0  # a shifted copy of the target that weighs nothing
    weights = (~ignored).astype(float)
    model = (
        SoftQuantizerRegressor(4, random_state=0, **FAST)
        if estimator == "quantizer"
        else FullPrecisionMLP(task="regression", random_state=0, **FAST)
    ).fit(X, y, sample_weight=weights)
    residuals = model.predict(X[~ignored]) - y[~ignored]
    assert abs(residuals.mean()) < 0.5  # unweighted, the fit lands near +5
    assert_allclose(model.feature_mean_, X[~ignored].mean(axis=0), rtol=1e-5)


def test_bin_values_are_weighted_means(cancer, rng):
    X_train, _, y_train, _ = cancer
    weights = rng.integers(0, 3, size=len(y_train)).astype(float)
    sq = SoftQuantizerClassifier(2, **{**FAST, "max_epochs": 2}).fit(
        X_train, y_train, sample_weight=weights
    )
    codes = sq.encode(X_train)
    x, c = X_train[:, 0].astype(np.float32).astype(np.float64), codes[:, 0]
    for code in range(4):
        rows = (c == code) & (weights > 0)
        if rows.any():
            expected = np.average(x[rows], weights=weights[rows])
            assert_allclose(sq.bin_values_[0][code], expected, rtol=1e-6)


@pytest.mark.parametrize(
    "weights, message",
    [
        (lambda n: -np.ones(n), "Negative values"),
        (lambda n: np.zeros(n), "at least one non-zero"),
        (lambda n: np.full(n, np.nan), "NaN"),
        (lambda n: np.ones(n - 1), "sample_weight.shape"),
        (lambda n: np.ones((n, 2)), "1D array or scalar"),
    ],
)
@pytest.mark.parametrize("estimator", [SoftQuantizerClassifier, FullPrecisionMLP])
def test_bad_weights_raise_a_value_error_that_names_them(
    cancer, weights, message, estimator
):
    X_train, _, y_train, _ = cancer
    with pytest.raises(ValueError, match=message):
        estimator(max_epochs=1).fit(
            X_train, y_train, sample_weight=weights(len(y_train))
        )


def test_partial_fit_weighs_rows_and_all_ones_change_nothing(cancer, rng):
    X_train, X_test, y_train, _ = cancer
    params = dict(lr_schedule="constant", random_state=0, **FAST)
    chunks = [slice(0, 200), slice(200, None)]
    plain = SoftQuantizerClassifier(2, **params)
    ones = SoftQuantizerClassifier(2, **params)
    weighted = SoftQuantizerClassifier(2, **params)
    for rows in chunks:
        X, y = X_train[rows], y_train[rows]
        plain.partial_fit(X, y, classes=[0, 1])
        ones.partial_fit(X, y, sample_weight=np.ones(len(y)))
        weighted.partial_fit(X, y, sample_weight=rng.integers(0, 4, size=len(y)))
    assert_array_equal(plain.transform(X_test), ones.transform(X_test))
    assert_array_equal(plain.predict_proba(X_test), ones.predict_proba(X_test))
    assert not np.array_equal(plain.thresholds_[0], weighted.thresholds_[0])


def test_weights_reach_the_estimator_through_a_pipeline_and_a_search(cancer, rng):
    X_train, X_test, y_train, _ = cancer
    weights = rng.integers(1, 4, size=len(y_train)).astype(float)
    params = dict(random_state=0, **{**FAST, "max_epochs": 5})
    pipe = make_pipeline(StandardScaler(), SoftQuantizerClassifier(2, **params))
    pipe.fit(X_train, y_train, softquantizerclassifier__sample_weight=weights)
    direct = SoftQuantizerClassifier(2, **params).fit(
        StandardScaler().fit_transform(X_train), y_train, sample_weight=weights
    )
    assert_array_equal(pipe[-1].thresholds_[0], direct.thresholds_[0])
    search = GridSearchCV(
        SoftQuantizerClassifier(**params), {"n_bits": [1, 2]}, cv=2
    ).fit(X_train, y_train, sample_weight=weights)
    assert search.best_params_["n_bits"] in (1, 2)


def test_held_out_rows_are_drawn_from_rows_of_positive_weight(rng):
    y = rng.integers(0, 2, size=500)
    weights = (rng.random(500) < 0.2).astype(float)  # 80% of the rows weigh 0
    train, valid = holdout_indices(y, 0.1, True, 0, weights)
    assert (weights[valid] > 0).all()
    assert len(valid) == 50  # 10% of all rows
    assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(500))


@pytest.mark.parametrize(
    "params",
    [
        dict(early_stopping=True),
        dict(n_bits="auto", bit_budget=40, early_stopping=True),
    ],
    ids=["early stopping", "bit allocation"],
)
def test_mostly_zero_weights_still_validate_on_weighted_rows(cancer, rng, params):
    X_train, X_test, y_train, y_test = cancer
    weights = (rng.random(len(y_train)) < 0.3).astype(float)
    sq = SoftQuantizerClassifier(**{"n_bits": 2, **FAST, **params, "random_state": 0})
    sq.fit(X_train, y_train, sample_weight=weights)
    if params.get("early_stopping"):
        assert np.all(np.array(sq.net_.history[:, "valid_loss"]) > 0)
    else:
        assert np.all(sq.allocation_trace_["validation_loss"] > 0)
    assert sq.score(X_test, y_test) > 0.85


def test_weights_whose_sum_overflows_still_weigh(cancer):
    """Ten weights of 1e308 (their sum overflows) weigh those rows: the fit
    is not silently unweighted."""
    X_train, _, y_train, _ = cancer
    weights = np.ones(len(y_train))
    weights[:10] = 1e308
    huge = check_sample_weight(weights, X_train, rescale=True)
    assert huge is not None and np.all(np.isfinite(huge))
    np.testing.assert_allclose(huge[:10] / huge[10], 1e308, rtol=1e-12)
