"""Feature standardization: the network trains on standardized readings; the
codec compares raw ones (numpy only)."""

from __future__ import annotations

import numpy as np

from ._target import mean_and_std


def fit_standardization(X: np.ndarray, sample_weight=None) -> tuple:
    """Per-feature mean and scale of ``X`` (weighted by ``sample_weight`` if
    given); a constant feature gets the scale 1."""
    mean, std = mean_and_std(X, sample_weight, axis=0)
    return mean, np.where(std > 0, std, 1.0)


def standardize(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``X`` in standard deviations from the mean, as float32."""
    return ((X - mean) / scale).astype(np.float32)


def to_raw_units(standardized: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """Standardized thresholds in the caller's units, as float32 (what a node
    compares with; the rounding keeps them sorted)."""
    return (mean + scale * np.asarray(standardized, np.float64)).astype(np.float32)
