"""Hard quantization of raw readings to integer codes, and codes back to values.

Pure numpy. This is what a sensor node computes: for feature ``j`` the code is the
number of thresholds strictly below the reading, ``c_j(x) = #{k : x_j > t_jk}``, so
a reading equal to a threshold goes to the lower interval. Readings are compared as
float32, exactly as the exported device encoders compare them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ._packing import WIRE_FORMAT_VERSION, code_dtype


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
        codes[:, j] = count_below(t, X[:, j])
    return np.ascontiguousarray(codes)


def count_below(thresholds: NDArray[np.float32], values: NDArray) -> NDArray:
    """How many of the sorted ``thresholds`` lie strictly below each value: a
    value equal to a threshold goes to the lower code, and NaN, which compares
    false with every threshold, gets code 0 (as the exported encoders give;
    numpy's search would sort it above them all)."""
    below = np.searchsorted(thresholds, values, side="left")
    below[np.isnan(values)] = 0
    return below


def bin_representatives(
    X: NDArray[np.float32],
    codes: NDArray,
    thresholds: Sequence[NDArray[np.float32]],
    sample_weight: NDArray | None = None,
) -> list[NDArray[np.float64]]:
    """A representative raw value for every code of every feature.

    The mean of the training readings that fall into the bin (weighted by
    ``sample_weight`` if given); an empty bin gets the midpoint of its
    thresholds (the outer bins extend by one neighbouring gap). A feature
    without thresholds (not transmitted) gets the mean of its readings.
    """
    representatives = []
    for j, t in enumerate(thresholds):
        t = t.astype(np.float64)
        x = X[:, j]
        if t.size == 0:
            if sample_weight is None:
                mean = x.mean(dtype=np.float64)
            else:
                mean = np.average(x.astype(np.float64), weights=sample_weight)
            representatives.append(np.array([mean]))
            continue
        n_levels = t.size + 1
        weighted_x = x if sample_weight is None else sample_weight * x
        # counts are weight sums: a bin whose rows all weigh 0 is empty
        counts = np.bincount(codes[:, j], weights=sample_weight, minlength=n_levels)
        sums = np.bincount(codes[:, j], weights=weighted_x, minlength=n_levels)
        gap = float(np.diff(t).mean()) if t.size > 1 else max(abs(float(t[0])), 1.0)
        edges = np.concatenate([[t[0] - gap], t, [t[-1] + gap]])
        midpoints = (edges[:-1] + edges[1:]) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        representatives.append(np.where(counts > 0, means, midpoints))
    return representatives


class BucketEncoder:
    """Fast exact ``encode_codes``: a lookup table on the top 16 bits of each float.

    The top 16 bits of a float32 (sign, exponent, 7 mantissa bits) cut the number
    line into 65,536 buckets. For every feature and bucket the table stores the
    code of the bucket's smallest value and the (at most ``SLOTS``) thresholds
    that fall inside the bucket, padded with +inf; a reading's code is then the
    base code plus one comparison per slot. Readings in the rare buckets that
    hold more thresholds get an exact binary search. Rows are processed in
    chunks that stay in cache and bound the extra memory.
    """

    MAX_SLOTS = 2
    # Above this share of overfull buckets (very wide codes) plain binary search
    # per column is faster.
    MAX_OVERFLOW = 1e-3
    # The table costs about 0.7 MB per feature (2 MB while it is built): models
    # with more features than fit in this budget encode by binary search, whose
    # memory grows with the thresholds alone.
    TABLE_BUDGET_BYTES = 64 << 20
    TABLE_BYTES_PER_FEATURE = (1 << 16) * (2 + 4 * MAX_SLOTS + 1)
    _CHUNK_ROWS = 8192

    def __init__(self, thresholds: Sequence[NDArray[np.float32]], widths) -> None:
        self.thresholds = [np.asarray(t, dtype=np.float32) for t in thresholds]
        self.dtype = code_dtype(widths)
        self.widths = widths
        table_bytes = len(self.thresholds) * self.TABLE_BYTES_PER_FEATURE
        self.use_table = table_bytes <= self.TABLE_BUDGET_BYTES
        if self.use_table:
            self._build_table()

    def _build_table(self) -> None:
        patterns = np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)
        ends = np.stack(
            [patterns.view(np.float32), (patterns | np.uint32(0xFFFF)).view(np.float32)]
        )
        with np.errstate(invalid="ignore"):
            low_value, high_value = np.fmin(*ends), np.fmax(*ends)  # NaN ends ignored
        bases, insides = [], []
        for t in self.thresholds:
            base = count_below(t, low_value)
            bases.append(base)
            insides.append(count_below(t, high_value) - base)
        n_slots = int(min(self.MAX_SLOTS, max(1, max(i.max() for i in insides))))
        slots = []
        for t, base, inside in zip(self.thresholds, bases, insides, strict=True):
            padded = np.concatenate([t, np.full(n_slots, np.inf, np.float32)])
            slot = padded[base[:, None] + np.arange(n_slots)]
            slot[np.arange(n_slots)[None, :] >= inside[:, None]] = np.inf
            slots.append(slot)
        self.base = np.concatenate(bases).astype(self.dtype)
        self.slots = [
            np.ascontiguousarray(np.concatenate(slots)[:, k]) for k in range(n_slots)
        ]
        self.overflow = np.concatenate(insides) > n_slots
        self.any_overflow = bool(self.overflow.any())
        self.use_table = self.overflow.mean() <= self.MAX_OVERFLOW
        self.offsets = np.arange(len(self.thresholds), dtype=np.uint32) << np.uint32(16)

    def __call__(self, X: NDArray[np.float32]) -> NDArray[np.unsignedinteger]:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not self.use_table:
            return encode_codes(X, self.thresholds, self.widths)
        n, d = X.shape
        codes = np.empty((n, d), dtype=self.dtype)
        rows = min(n, self._CHUNK_ROWS)
        index = np.empty((rows, d), dtype=np.uint32)
        bound = np.empty((rows, d), dtype=np.float32)
        above = np.empty((rows, d), dtype=bool)
        for start in range(0, n, self._CHUNK_ROWS):
            stop = min(start + self._CHUNK_ROWS, n)
            m = stop - start
            x, idx, out = X[start:stop], index[:m], codes[start:stop]
            np.right_shift(x.view(np.uint32), np.uint32(16), out=idx)
            idx += self.offsets
            # Indices are in range by construction; mode="clip" skips numpy's
            # bounds check and the temporary copy that mode="raise" makes.
            np.take(self.base, idx, out=out, mode="clip")
            for slot in self.slots:
                np.take(slot, idx, out=bound[:m], mode="clip")
                np.greater(x, bound[:m], out=above[:m])
                out += above[:m]
            if self.any_overflow:
                np.take(self.overflow, idx, out=above[:m])
                if above[:m].any():
                    r, c = np.nonzero(above[:m])
                    for j in np.unique(c):
                        sel = c == j
                        out[r[sel], j] = count_below(self.thresholds[j], x[r[sel], j])
            # NaN gets code 0. The table gives most NaNs 0 already, but the
            # bucket of +inf also holds NaNs (payload in the low 16 bits).
            nan = np.isnan(x, out=above[:m])
            if nan.any():
                out[nan] = 0
        return codes


def model_id(
    widths,
    thresholds: Sequence[NDArray[np.float32]],
    tables=None,
) -> str:
    """A model's fingerprint: 16 hex digits of SHA-256 over the wire format
    version, the widths, the float32 thresholds (their bit patterns) and, for
    a model with them, the code tables of message format v2 (``CodeTables``:
    contexts and frequencies): all that
    decides the bytes a node sends. Two models share it only if they encode
    every reading alike. A model without frequencies keeps the fingerprint it
    had before they existed.

    >>> model_id([2], [np.array([-1.0, 0.0, 1.0], np.float32)])
    '...'
    """
    digest = hashlib.sha256(b"sklearn_bsq wire format %d\n" % WIRE_FORMAT_VERSION)
    digest.update(np.asarray(widths, dtype="<i8").tobytes())
    for t in thresholds:
        digest.update(np.asarray(t, dtype="<f4").tobytes())
    if tables is not None:
        digest.update(b"message format 2 code tables\n")
        digest.update(np.asarray(tables.contexts, dtype="<i8").tobytes())
        for f in tables.frequencies:
            digest.update(np.asarray(f, dtype="<u4").tobytes())
    return digest.hexdigest()[:16]
