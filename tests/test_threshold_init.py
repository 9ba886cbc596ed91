"""Initial thresholds per feature (``_threshold_init``)."""

import numpy as np
import pytest
import torch

from sklearn_bsq._quantizers import BitwiseSoftQuantizer
from sklearn_bsq._threshold_init import initial_thresholds, weighted_quantile


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

    @pytest.mark.parametrize("n_bits", [2, 4, 8])
    def test_spare_thresholds_leave_training_steps_hard(self, n_bits):
        # A binary feature uses one of the 2**b - 1 thresholds. The spare ones
        # must give a reading at the top value no soft step in training, even at
        # the first epoch's steepness, since eval gives it none.
        column = np.repeat([-1.0, 1.0], 50)  # standardized, half and half
        t = initial_thresholds(column, 2**n_bits - 1)
        assert t[0] == 0.0
        quantizer = BitwiseSoftQuantizer([t], "thermometer").train()
        quantizer.steepness = 4.0  # the default schedule's start
        x = torch.tensor([[-1.0], [1.0]])
        soft = quantizer.soft_steps(x)
        torch.testing.assert_close(soft, quantizer.hard_steps(x), rtol=0, atol=1e-5)

    def test_heavy_ties_are_broken(self):
        column = np.concatenate([np.zeros(900), np.linspace(1, 2, 100)])
        t = initial_thresholds(column, 15)
        assert np.all(np.diff(t) > 0)

    @pytest.mark.parametrize("weighted", [False, True])
    def test_repeated_values_leave_no_code_empty(self, weighted):
        # Half the readings are 0 (a default value): equal-frequency quantiles
        # would put 7 of 15 thresholds on it; every threshold must separate data.
        rng = np.random.default_rng(0)
        column = np.where(rng.random(4000) < 0.5, 0.0, rng.normal(size=4000))
        weights = rng.uniform(0.5, 2.0, column.size) if weighted else None
        t = initial_thresholds(column, 15, sample_weight=weights)
        codes = np.searchsorted(t, column)
        assert np.unique(codes).size == 16
        assert not np.isin(t, column).any()  # no reading sits on a threshold
        # the bins other than the one holding the repeated value stay balanced
        counts = np.bincount(codes, minlength=16)
        spike = codes[column == 0][0]
        others = np.delete(counts, spike)
        assert others.max() < 2.5 * others.min()

    def test_repeated_values_split_the_heaviest_bin(self):
        # 0 repeats 600 times, 1..400 once each: the median cut separates the
        # 0s, the next halves 1..400 and the last halves one of the halves.
        column = np.concatenate([np.zeros(600), np.arange(1.0, 401.0)])
        t = initial_thresholds(column, 3)
        counts = np.bincount(np.searchsorted(t, column), minlength=4)
        assert counts[0] == 600
        assert sorted(counts[1:]) == [100, 100, 200]

    def test_features_without_repeats_keep_plain_quantiles(self):
        column = np.random.default_rng(1).normal(size=3000)
        probs = np.arange(1, 16) / 16
        np.testing.assert_array_equal(
            initial_thresholds(column, 15), np.quantile(column, probs)
        )


def weighted_cases(n_cases=300):
    """Columns with ties, weights with zeros (leading ones too) and integers."""
    rng = np.random.default_rng(0)
    for _ in range(n_cases):
        n = int(rng.integers(1, 60))
        values = rng.integers(0, rng.integers(1, 12), n).astype(np.float64)
        if rng.random() < 0.5:
            values = values + rng.normal(size=n)  # no ties
        weights = rng.integers(0, 5, n).astype(np.float64)
        if rng.random() < 0.5:
            weights = weights * rng.random(n)
        if weights.sum() == 0:
            weights[-1] = 1.0
        probs = np.r_[0.0, np.sort(rng.random(5)), np.arange(1, 8) / 8]
        yield values, weights, probs


def test_weighted_quantile_as_repeated_rows():
    """Integer weights cut where the rows repeated that often cut (numpy's
    unweighted "inverted_cdf", which numpy 1.x has)."""
    for values, weights, probs in weighted_cases():
        counts = np.round(weights).astype(int)
        if counts.sum() == 0:
            continue
        np.testing.assert_array_equal(
            weighted_quantile(values, probs, counts.astype(np.float64)),
            np.quantile(np.repeat(values, counts), probs, method="inverted_cdf"),
        )


@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.0.0",
    reason="numpy weighs quantiles from 2.0 on",
)
def test_weighted_quantile_is_numpys():
    for values, weights, probs in weighted_cases():
        np.testing.assert_array_equal(
            weighted_quantile(values, probs, weights),
            np.quantile(values, probs, weights=weights, method="inverted_cdf"),
        )
