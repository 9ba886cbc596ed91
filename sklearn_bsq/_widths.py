"""Bit widths: their bounds and what a width implies (pure numpy).

A feature of width ``b`` is cut into ``2**b`` intervals by ``2**b - 1`` sorted
thresholds and sends one code in ``0 .. 2**b - 1``; a width of 0 means the
feature is not sent. Everything that needs a count from a width asks here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

MAX_BITS = 16


def n_codes(widths: ArrayLike) -> int | NDArray[np.int64]:
    """Codes a feature of each width can send: ``2**b`` (an int for an int)."""
    if isinstance(widths, int | np.integer):
        return 1 << int(widths)
    return np.left_shift(1, np.asarray(widths, dtype=np.int64))


def n_thresholds(widths: ArrayLike) -> int | NDArray[np.int64]:
    """Thresholds that cut a feature of each width: ``2**b - 1``.

    >>> n_thresholds(3), n_thresholds([0, 1, 16]).tolist()
    (7, [0, 1, 65535])
    """
    return n_codes(widths) - 1


def widths_of(counts: ArrayLike) -> NDArray[np.int64]:
    """The width of each feature from its number of thresholds (the inverse of
    :func:`n_thresholds`); ValueError for a count no width gives."""
    counts = np.asarray(counts, dtype=np.int64)
    every = n_thresholds(np.arange(MAX_BITS + 1))
    widths = np.searchsorted(every, counts)
    if np.any(widths > MAX_BITS) or np.any(every[widths.clip(0, MAX_BITS)] != counts):
        raise ValueError(
            f"a feature has 2**b - 1 thresholds for a width b in 0..{MAX_BITS}; "
            f"got {counts.tolist()}."
        )
    return widths


def check_bit_widths(
    widths: ArrayLike, *, allow_zero: bool = True
) -> NDArray[np.int64]:
    """Validate bit widths and return them as a 1-D int64 array.

    Parameters
    ----------
    widths : array-like of int
        One width per feature, each in ``0..MAX_BITS`` (``1..MAX_BITS`` if
        ``allow_zero`` is False).
    allow_zero : bool, default=True
        Whether a width of 0 (feature not transmitted) is accepted.

    Returns
    -------
    widths : ndarray of shape (n_features,), dtype int64
    """
    arr = np.asarray(widths)
    if arr.ndim != 1:
        raise ValueError(f"bit widths must be a 1-D sequence, got shape {arr.shape}.")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if arr.size and np.issubdtype(arr.dtype, np.floating):
            if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise TypeError(f"bit widths must be integers, got {arr.tolist()}.")
        elif arr.size:
            raise TypeError(
                f"bit widths must be integers, got dtype {arr.dtype} ({arr.tolist()})."
            )
    arr = arr.astype(np.int64)
    low = 0 if allow_zero else 1
    bad = (arr < low) | (arr > MAX_BITS)
    if np.any(bad):
        raise ValueError(
            f"each bit width must be in {low}..{MAX_BITS}; got {arr[bad].tolist()} "
            f"at feature index {np.flatnonzero(bad).tolist()}."
        )
    return arr
