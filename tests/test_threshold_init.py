"""Initial thresholds per feature (``_threshold_init``)."""

import numpy as np
import pytest

from sklearn_bsq._threshold_init import initial_thresholds


class TestInitialThresholds:
    def test_quantiles_of_continuous_feature(self):
        column = np.arange(1000.0)
        t = initial_thresholds(column, 3)
        np.testing.assert_allclose(t, np.quantile(column, [0.25, 0.5, 0.75]))

    @pytest.mark.parametrize("n_thresholds", [1, 3, 15, 255])
    def test_constant_feature_gives_increasing_thresholds(self, n_thresholds):
        t = initial_thresholds(np.zeros(50), n_thresholds)
        assert t.size == n_thresholds
        assert np.all(np.diff(t) > 0)
        assert t[0] > 0  # the constant value sits in the lowest bin

    def test_few_distinct_values_get_midpoints(self):
        t = initial_thresholds(np.array([0.0, 0.0, 1.0, 1.0, 3.0]), 3)
        np.testing.assert_allclose(t[:2], [0.5, 2.0])
        assert t[2] > 3.0

    def test_heavy_ties_are_broken(self):
        column = np.concatenate([np.zeros(900), np.linspace(1, 2, 100)])
        t = initial_thresholds(column, 15)
        assert np.all(np.diff(t) > 0)
