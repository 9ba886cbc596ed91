"""Where thresholds start: per feature, on standardized training data (numpy only).

:func:`model_initial_thresholds` is what ``fit``, ``partial_fit`` and the bit
allocation start from; :func:`raw_initial_thresholds` is the same in the
caller's units (what ``ThresholdDisplay`` draws).
"""

from __future__ import annotations

import heapq
import warnings

import numpy as np
from numpy.typing import NDArray
from sklearn.preprocessing import KBinsDiscretizer

from ._standardization import standardize, to_raw_units
from ._widths import n_thresholds

THRESHOLD_INITS = ("quantile", "uniform", "kmeans")

# Smallest gap between neighbouring initial thresholds, in standard deviations.
MIN_GAP = 1e-3

# Thresholds that separate no data (a feature with fewer distinct values than
# codes) start SPARE_OFFSET / 2**b standard deviations above its top value. The
# sigmoid slope starts at 4 * 2**b per standard deviation (steepness 4), so a
# reading at the top sees sigmoid(-12) < 1e-5 there from the first epoch, as it
# sees 0 in eval: no signal in training that eval takes away.
SPARE_OFFSET = 3.0


def model_initial_thresholds(
    X_std: NDArray,
    widths,
    strategy: str = "quantile",
    sample_weight: NDArray | None = None,
) -> list[NDArray[np.float64]]:
    """Initial thresholds of every feature of standardized training rows, for
    these widths (none for a feature of width 0)."""
    return [
        initial_thresholds(X_std[:, j], n_thresholds(int(b)), strategy, sample_weight)
        for j, b in enumerate(widths)
    ]


def raw_initial_thresholds(
    X: NDArray,
    widths,
    strategy: str,
    mean: NDArray,
    scale: NDArray,
    sample_weight: NDArray | None = None,
) -> list[NDArray[np.float32]]:
    """:func:`model_initial_thresholds` of raw rows standardized with ``mean``
    and ``scale``, back in raw units: on the training rows, exactly the
    thresholds ``fit`` started from."""
    X_std = standardize(X, mean, scale)
    initial = model_initial_thresholds(X_std, widths, strategy, sample_weight)
    return [to_raw_units(t, m, s) for t, m, s in zip(initial, mean, scale, strict=True)]


def initial_thresholds(
    column: NDArray,
    n_thresholds: int,
    strategy: str = "quantile",
    sample_weight: NDArray | None = None,
) -> NDArray[np.float64]:
    """Strictly increasing thresholds for one standardized feature.

    ``"quantile"`` gives equal-frequency bins (see ``_quantile_cuts`` for features
    with repeated values), ``"uniform"`` equal-width bins over
    the training range, ``"kmeans"`` the bin edges of scikit-learn's 1-D k-means
    binning. When the feature has no more distinct values than there are levels,
    every strategy puts the thresholds halfway between neighbouring distinct
    values (no training point sits on a threshold) and stacks the spare ones
    ``SPARE_OFFSET / (n_thresholds + 1)`` above the top, out of the sigmoids'
    reach. Thresholds that tie are nudged apart. With
    ``sample_weight``, rows of weight 0 are left out and the quantiles and
    k-means are weighted (as if each row were repeated by its weight).
    """
    column = np.asarray(column, dtype=np.float64)
    if sample_weight is not None:
        kept = sample_weight > 0
        column, sample_weight = column[kept], sample_weight[kept]
    values = np.unique(column)
    if values.size <= n_thresholds + 1:
        thresholds = (values[:-1] + values[1:]) / 2
    elif strategy == "quantile":
        thresholds = _quantile_cuts(column, values, n_thresholds, sample_weight)
    elif strategy == "uniform":
        thresholds = np.linspace(values[0], values[-1], n_thresholds + 2)[1:-1]
    elif strategy == "kmeans":
        thresholds = _kmeans_edges(column, n_thresholds + 1, sample_weight)
    else:
        raise ValueError(
            f"threshold_init must be one of {THRESHOLD_INITS}, got {strategy!r}."
        )
    return _strictly_increasing(thresholds, n_thresholds, top=values[-1])


def _quantile_cuts(
    column: NDArray, values: NDArray, n_thresholds: int, sample_weight=None
) -> NDArray:
    """Equal-frequency thresholds that each separate data.

    Where a value repeats (a count, a clipped reading, a default), several
    quantiles fall on it and would only be nudged apart, leaving codes no
    reading ever takes: on some features of pol 3 of 16. Such features are
    cut by repeated weighted medians instead (``_median_cuts``), halfway
    between neighbouring values, so every threshold separates data.
    """
    probs = np.arange(1, n_thresholds + 1) / (n_thresholds + 1)
    if sample_weight is None:
        thresholds = np.quantile(column, probs)
    else:
        thresholds = weighted_quantile(column, probs, sample_weight)
    # cut i: between values[i] and values[i + 1]; valid cuts are 0..m-2
    cuts = np.searchsorted(values, thresholds, side="right") - 1
    cuts = np.unique(cuts[(cuts >= 0) & (cuts < values.size - 1)])
    if cuts.size == n_thresholds:
        return thresholds
    return _median_cuts(column, values, n_thresholds, sample_weight)


def weighted_quantile(values: NDArray, probs: NDArray, weights: NDArray) -> NDArray:
    """``np.quantile(values, probs, weights=weights, method="inverted_cdf")``,
    value for value, on numpy 1.x too (whose ``quantile`` takes no weights):
    the first sorted value whose share of the total weight reaches each
    probability. ``values`` 1-D, ``weights`` non-negative with a positive sum."""
    order = np.argsort(values)  # numpy's own sort, so ties fall as in numpy's
    cdf = np.cumsum(weights[order], dtype=np.float64)
    cdf /= cdf[-1]
    if cdf[0] == 0:  # leading zero weights: a probability of 0 skips them
        cdf[cdf == 0] = -1
    index = np.searchsorted(cdf, np.asarray(probs, dtype=np.float64), side="left")
    return values[order][np.minimum(index, values.size - 1)]


def _median_cuts(
    column: NDArray, values: NDArray, n_thresholds: int, sample_weight=None
) -> NDArray:
    """Cut the heaviest bin that has two or more distinct values at its
    weighted median, ``n_thresholds`` times (without repeated values and with
    ``2**b - 1`` thresholds: equal-frequency bins)."""
    # weight of each distinct value
    weights = np.bincount(np.searchsorted(values, column), weights=sample_weight)
    cumulative = np.concatenate([[0.0], np.cumsum(weights, dtype=np.float64)])

    def heap_entry(lo, hi):  # the bin of value indices lo..hi, heaviest first
        return (-(cumulative[hi + 1] - cumulative[lo]), lo, hi)

    bins = [heap_entry(0, values.size - 1)]
    chosen = []
    while len(chosen) < n_thresholds:
        _, lo, hi = heapq.heappop(bins)
        # cut i (between values[i] and values[i + 1]) for i in lo..hi-1
        below = cumulative[lo + 1 : hi + 1] - cumulative[lo]
        half = (cumulative[hi + 1] - cumulative[lo]) / 2
        cut = lo + int(np.argmin(np.abs(below - half)))
        chosen.append(cut)
        for a, b in ((lo, cut), (cut + 1, hi)):
            if b > a:  # two or more distinct values: can be cut again
                heapq.heappush(bins, heap_entry(a, b))
    chosen = np.sort(np.array(chosen))
    return (values[chosen] + values[chosen + 1]) / 2


def _kmeans_edges(column: NDArray, n_bins: int, sample_weight=None) -> NDArray:
    binner = KBinsDiscretizer(n_bins=n_bins, encode="ordinal", strategy="kmeans")
    with warnings.catch_warnings():
        # KBinsDiscretizer warns when it merges bins; fewer edges are padded below.
        warnings.simplefilter("ignore", UserWarning)
        binner.fit(column[:, None], sample_weight=sample_weight)
    return binner.bin_edges_[0][1:-1]


def _strictly_increasing(thresholds: NDArray, n_thresholds: int, top: float) -> NDArray:
    """Pad to ``n_thresholds`` with spare thresholds well above ``top`` and break
    ties by ``MIN_GAP``."""
    n_spare = n_thresholds - thresholds.size
    highest = max(top, thresholds[-1] if thresholds.size else top)
    start = highest + SPARE_OFFSET / (n_thresholds + 1)
    spare = start + MIN_GAP * np.arange(n_spare)
    result = np.concatenate([thresholds, spare])
    for k in range(1, result.size):
        result[k] = max(result[k], result[k - 1] + MIN_GAP)
    return result
