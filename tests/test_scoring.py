"""Rates beside scores (``scoring``)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    FullPrecisionMLP,
    RateAccuracyDisplay,
    SoftQuantizerClassifier,
    bits_per_sample,
    message_bits_per_sample,
    rate_scoring,
)

from conftest import FAST


def test_a_search_records_rates_beside_scores_and_plots_them(cancer):
    X_train, _, y_train, _ = cancer
    search = GridSearchCV(
        make_pipeline(
            StandardScaler(),
            SoftQuantizerClassifier(
                "auto", bit_budget=30, random_state=0, **{**FAST, "max_epochs": 2}
            ),
        ),
        {"softquantizerclassifier__bit_budget": [30, 90]},
        scoring=rate_scoring(),
        refit="score",
        cv=StratifiedKFold(2),
    )
    search.fit(X_train, y_train)
    results = search.cv_results_
    # 30 features: 30 bits in 4 bytes, 90 bits in 12 bytes
    assert results["mean_test_bits_per_sample"].tolist() == [32.0, 96.0]
    assert results["mean_test_compression_ratio"].tolist() == [30.0, 10.0]
    assert np.all(results["mean_test_score"] > 0.5)  # better than chance
    # format v2: the messages of the test folds, never longer than v1
    messages = results["mean_test_message_bits_per_sample"]
    assert np.all(messages <= [32.0, 96.0]) and np.all(messages > 0)
    display = RateAccuracyDisplay.from_cv_results(search)  # a grid without n_bits
    assert display.line_.lines[0].get_xdata().tolist() == [32.0, 96.0]
    v2_rates = display.message_line_.lines[0].get_xdata()
    np.testing.assert_allclose(np.sort(v2_rates), np.sort(messages))
    plt.close(display.figure_)


def test_message_bits_are_measured_on_the_rows_given(cancer):
    X_train, X_test, y_train, _ = cancer
    X_train = X_train * (np.arange(len(X_train)) % 5 == 0)[:, None]  # mostly zeros
    pipe = make_pipeline(
        StandardScaler(), SoftQuantizerClassifier(4, random_state=0, **FAST)
    ).fit(X_train, y_train)
    zeros = np.zeros((50, X_train.shape[1]))
    cheap = message_bits_per_sample(pipe, zeros)  # the most common row
    assert cheap < message_bits_per_sample(pipe, X_test) <= bits_per_sample(pipe)
    messages = pipe[-1].compress(pipe[:-1].transform(zeros))
    assert cheap == 8 * np.mean([len(m) for m in messages])


def test_rate_scorers_need_a_quantizer(cancer):
    mlp = FullPrecisionMLP(**{**FAST, "max_epochs": 1}).fit(cancer[0], cancer[2])
    with pytest.raises(TypeError, match="rate scorers need a fitted SoftQuantizer"):
        bits_per_sample(mlp, cancer[1], cancer[3])
    with pytest.raises(TypeError, match="rate scorers need a fitted SoftQuantizer"):
        message_bits_per_sample(mlp, cancer[1], cancer[3])


def test_an_unfitted_quantizer_is_reported_as_not_fitted(cancer):
    for scorer in (bits_per_sample, message_bits_per_sample):
        with pytest.raises(NotFittedError):
            scorer(SoftQuantizerClassifier(), cancer[1], cancer[3])


def test_message_bits_need_the_rows(cancer):
    clf = SoftQuantizerClassifier(2, **{**FAST, "max_epochs": 1})
    clf.fit(cancer[0], cancer[2])
    with pytest.raises(ValueError, match="messages of rows X"):
        message_bits_per_sample(clf, None)


def test_rate_scoring_checks_the_score_when_called():
    with pytest.raises(ValueError, match="not a valid scoring value"):
        rate_scoring("acuracy")
    with pytest.raises(TypeError, match="scorer name such as 'accuracy'"):
        rate_scoring(3)
    assert rate_scoring("f1_macro")["score"] == "f1_macro"
