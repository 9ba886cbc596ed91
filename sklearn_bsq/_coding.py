"""Hard quantization of raw readings to integer codes, and codes back to values.

Pure numpy. This is what a sensor node computes: for feature ``j`` the code is the
number of thresholds strictly below the reading, ``c_j(x) = #{k : x_j > t_jk}``, so
a reading equal to a threshold goes to the lower interval. Readings are compared as
float32, exactly as the exported device encoders compare them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ._packing import code_dtype


def encode_codes(
    X: NDArray[np.float32], thresholds: Sequence[NDArray[np.float32]], widths
) -> NDArray[np.unsignedinteger]:
    """Codes of each reading: the count of the feature's thresholds below it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), dtype float32
    thresholds : sequence of sorted float32 arrays, one per feature
    widths : array-like of int, bit width of each feature

    Returns
    -------
    codes : ndarray of shape (n_samples, n_features), uint8 or uint16
    """
    codes = np.empty(X.shape, dtype=code_dtype(widths), order="F")
    for j, t in enumerate(thresholds):
        # side="left" counts thresholds strictly below x: x == t goes to the lower bin.
        codes[:, j] = np.searchsorted(t, X[:, j], side="left")
    return np.ascontiguousarray(codes)


def bin_representatives(
    X: NDArray[np.float32], codes: NDArray, thresholds: Sequence[NDArray[np.float32]]
) -> list[NDArray[np.float64]]:
    """A representative raw value for every code of every feature.

    The mean of the training readings that fall into the bin; an empty bin gets
    the midpoint of its thresholds (the outer bins extend by one neighbouring gap).
    """
    representatives = []
    for j, t in enumerate(thresholds):
        t = t.astype(np.float64)
        n_levels = t.size + 1
        counts = np.bincount(codes[:, j], minlength=n_levels)
        sums = np.bincount(codes[:, j], weights=X[:, j], minlength=n_levels)
        gap = float(np.diff(t).mean()) if t.size > 1 else max(abs(float(t[0])), 1.0)
        edges = np.concatenate([[t[0] - gap], t, [t[-1] + gap]])
        midpoints = (edges[:-1] + edges[1:]) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        representatives.append(np.where(counts > 0, means, midpoints))
    return representatives
