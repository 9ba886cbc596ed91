"""Rates beside scores (``scoring``)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    FullPrecisionMLP,
    RateAccuracyDisplay,
    SoftQuantizerClassifier,
    bits_per_sample,
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
    display = RateAccuracyDisplay.from_cv_results(search)  # a grid without n_bits
    assert display.line_.lines[0].get_xdata().tolist() == [32.0, 96.0]
    plt.close(display.figure_)


def test_rate_scorers_need_a_quantizer(cancer):
    mlp = FullPrecisionMLP(**{**FAST, "max_epochs": 1}).fit(cancer[0], cancer[2])
    with pytest.raises(TypeError, match="rate scorers need a fitted SoftQuantizer"):
        bits_per_sample(mlp, cancer[1], cancer[3])
