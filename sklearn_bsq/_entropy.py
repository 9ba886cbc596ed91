"""Message format v2: one row of codes as a short range-coded message. Pure numpy.

Every feature ``j`` with ``b_j > 0`` bits has a static table of integer code
frequencies ``f_j[0 .. 2**b_j - 1]``, each at least 1, summing to ``2**P_j``
(:func:`precision_bits`), learned from the training codes at fit
(:func:`code_frequencies`). A feature may instead have one such table per code
of an earlier feature, its context (:class:`CodeTables`): then ``f_j`` is the
row for that feature's code in the same row. ``s_j[c]`` is the sum of the
frequencies below code ``c``. A row's codes are coded in feature order by a
byte-wise range coder with a 32-bit window:

* start: ``low = 0``, ``range = 2**32 - 1``, no bytes;
* code ``c`` of feature ``j``: ``r = range >> P_j``, ``low += r * s_j[c]``,
  ``range = r * f_j[c]``; a ``low`` of ``2**32`` or more carries: add 1 to the
  message as a big-endian number (the last byte written, and on through
  ``0xff`` bytes), keep ``low mod 2**32``; then, while ``range < 2**24``, write
  byte ``low >> 24``, ``low = (low << 8) mod 2**32``, ``range <<= 8``;
* finish: write the fewest bytes (``z`` of 1 to 4) that pin the value down:
  ``v`` is ``low`` rounded up to a multiple of ``u = 2**(32 - 8 z)``, for the
  smallest ``z`` with ``v + u - 1 <= low + range - 1`` (so every continuation
  of the message lies in the final interval); add its carry as above and write
  the top ``z`` bytes of ``v mod 2**32``, most significant first. A reader
  treats the bytes after the end as zeros.

If that message is shorter than the row's wire format v1 bytes
(``bytes_per_row``), it is sent; otherwise the v1 bytes are sent. The reader
tells the two apart by the length the transport gives: ``bytes_per_row`` bytes
are a v1 row, fewer are range-coded, more are an error. So no message is
longer than v1.

The coder is this one because one row is one message of a few bytes: a range
coder spends about the cross-entropy of the row's codes plus a few bits to
finish and the rounding to whole bytes, where a prefix (Huffman) code spends
at least one bit per feature (several times the entropy of a feature whose
codes are mostly one value) and tANS spends its state's bits at the end of
every message. It needs only 32-bit integer arithmetic on a node.

Decoding checks what it can: a message longer than v1, a v1 row with non-zero
padding, a value outside every code's interval, or bytes other than the ones
the decoded codes encode to (every row has exactly one message, so a message
that is not re-created exactly is damaged) raise ValueError. Because every
continuation of a message decodes to its row, no message is the beginning of
another: a range-coded message cut short is always refused. Damage that turns
one row's message into another row's message cannot be seen (a v1 row cut by a
byte may read as a range-coded one): like v1, the format carries no checksum.

Rows are coded all at once, feature by feature (every row codes the same
features in the same order), so the loops run over features, not rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _packing
from ._widths import n_codes

MESSAGE_FORMAT_VERSION = 2

_WINDOW = np.uint64(0xFFFFFFFF)
_TOP = np.uint64(1 << 32)
_BOTTOM = 1 << 24
_BYTE = np.uint64(0xFF)


def precision_bits(width: int) -> int:
    """``P``: feature frequencies sum to ``2**P``, ``clip(width + 4, 12, 16)``.

    Four bits above the width let a rare code cost up to 4 bits more than the
    fixed width while common codes get fine probabilities; 16 at most keeps
    ``range >> P`` at 256 or more, so the coder loses under 0.6 % to rounding.
    """
    return int(min(16, max(12, width + 4)))


def coded_bytes_bound(widths) -> int:
    """Bytes the range coder may write for one row before the finish decides
    the message: each code costs under ``P + 1`` bits (``range >> P`` loses
    less than a factor ``1 + 2**-8`` to rounding), and the finish four bytes.
    The buffer of ``compress`` and of the exported ``compress_row``."""
    return -(-sum(precision_bits(int(b)) + 1 for b in widths if b) // 8) + 4


def frequency_rows(counts: NDArray, width: int) -> NDArray[np.uint32]:
    """:func:`code_frequencies` of every row of code counts at once.

    Parameters
    ----------
    counts : ndarray of int, shape (n_rows, 2**width)
        How often every code was seen, one row per context.
    width : int
        The feature's width, 1..16.

    Returns
    -------
    frequencies : ndarray of shape (n_rows, 2**width), dtype uint32
    """
    counts = np.asarray(counts, dtype=np.int64)
    k = counts.shape[1]
    total = 1 << precision_bits(width)
    weights = 2 * counts + 1
    weight_total = weights.sum(axis=1, keepdims=True)
    spare = total - k
    # spare * weight < 2**16 * (2 n + 1): exact in int64 for any n below 2**46
    frequencies = 1 + spare * weights // weight_total
    remainders = spare * weights % weight_total
    left = total - frequencies.sum(axis=1)
    # largest remainder first, the lowest code on ties: one sort key per code
    order = np.argsort((weight_total - 1 - remainders) * k + np.arange(k), axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(k)[None, :], axis=1)
    frequencies += rank < left[:, None]
    return frequencies.astype(np.uint32)


def code_frequencies(codes: ArrayLike, width: int) -> NDArray[np.uint32]:
    """Integer frequencies of one feature's codes, smoothed, summing to
    ``2**precision_bits(width)``.

    Code ``c`` seen ``n_c`` times gets weight ``2 n_c + 1`` (add-one-half
    smoothing: a code never seen at fit stays encodable), and frequency
    ``1 + floor((2**P - K) * w_c / W)`` for ``K`` codes and weight total ``W``;
    what is left goes one each to the codes with the largest remainders
    (the lowest code first on ties). Integer arithmetic only, so every
    machine gets the same table.

    Parameters
    ----------
    codes : array-like of int
        The feature's training codes, each in ``0 .. 2**width - 1``.
    width : int
        The feature's width, 1..16.

    Returns
    -------
    frequencies : ndarray of shape (2**width,), dtype uint32

    Examples
    --------
    >>> code_frequencies([0, 0, 0, 1], 1).tolist()
    [2867, 1229]
    """
    k = n_codes(width)
    counts = np.bincount(np.asarray(codes, dtype=np.int64).ravel(), minlength=k)
    if counts.size != k:
        raise ValueError(f"a code is out of range for a {width}-bit feature.")
    return frequency_rows(counts[None, :], width)[0]


# A feature's table may have one row per code of its context feature: at most
# this many entries (8 KB of 16-bit values on a node).
MAX_TABLE_ENTRIES = 4096
# Earlier features tried as a feature's context: the most correlated of the
# features just before it (rows of the correlation screen at most).
CONTEXT_CANDIDATES = 8
CONTEXT_WINDOW = 256
_SCREEN_ROWS = 10_000
# Rows that choose contexts and estimate the rate at most: enough for means of
# a few bits.
_ESTIMATE_ROWS = 100_000
# Folds of the rate estimate: tables counted from 9 of 10 rows fit new rows
# almost as well as the model's own; from fewer, the estimate errs high.
_ESTIMATE_FOLDS = 10


@dataclass(frozen=True, eq=False)  # arrays: compare model ids, not tables
class CodeTables:
    """The code frequencies of message format v2, one table per feature.

    ``frequencies[j]`` has shape ``(2**b_k, 2**b_j)`` when feature ``j`` is
    coded in the context of an earlier feature ``k = contexts[j]`` (row: the
    code of ``k`` in the same row), ``(1, 2**b_j)`` without context
    (``contexts[j] = -1``) and ``(1, 0)`` for a feature that is not sent.
    Every row is positive and sums to ``2**precision_bits(b_j)``.
    """

    frequencies: tuple
    contexts: tuple

    @classmethod
    def checked(cls, frequencies, contexts, widths) -> CodeTables:
        """Tables from a caller or a file, checked; ValueError otherwise."""
        widths = np.asarray(widths)
        d = widths.size
        contexts = [-1] * d if contexts is None else [int(k) for k in contexts]
        if len(frequencies) != d or len(contexts) != d:
            raise ValueError(
                f"{d} features need as many frequency tables and contexts, got "
                f"{len(frequencies)} and {len(contexts)}."
            )
        tables = []
        for j, (f, b, k) in enumerate(zip(frequencies, widths, contexts, strict=True)):
            b = int(b)
            if k != -1 and not (0 <= k < j and b and widths[k]):
                raise ValueError(
                    f"feature {j} cannot be coded in the context of feature {k}: a "
                    "context is an earlier feature that is sent."
                )
            f = np.asarray(f)
            rows = 1 if k == -1 else n_codes(int(widths[k]))
            shape = (rows, n_codes(b) if b else 0)
            if not np.issubdtype(f.dtype, np.integer) or f.size != shape[0] * shape[1]:
                raise ValueError(
                    f"feature {j} has {b} bits: its frequency table must hold "
                    f"{shape[0]} x {shape[1]} integers, got shape {f.shape} of "
                    f"dtype {f.dtype}."
                )
            f = f.astype(np.int64).reshape(shape)
            total = 1 << precision_bits(b)
            if b and (f.min() < 1 or np.any(f.sum(axis=1) != total)):
                raise ValueError(
                    f"the frequencies of feature {j} must be positive and sum to "
                    f"{total} in every row."
                )
            table = f.astype(np.uint32)
            table.setflags(write=False)
            tables.append(table)
        return cls(tuple(tables), tuple(contexts))

    @classmethod
    def learn(cls, codes: NDArray, widths: NDArray[np.int64]) -> CodeTables:
        """Tables from training codes; each feature gets the earlier feature
        (if any) whose code, as context, codes it in the fewest bits on held-out
        rows (two folds: even and odd rows, each coded with the other's
        tables), within ``MAX_TABLE_ENTRIES``. Only the ``CONTEXT_CANDIDATES``
        features among the ``CONTEXT_WINDOW`` before it whose codes correlate
        most with the feature's are tried, so the work grows with the
        features, not their square."""
        sample = codes[:_ESTIMATE_ROWS]  # enough rows to choose contexts
        folds = (sample[0::2], sample[1::2]) if len(sample) >= 2 else ()
        standardized = _standardized(sample[:_SCREEN_ROWS])
        contexts = []
        for j, b in enumerate(widths):
            b = int(b)
            best = -1
            if b:
                best_cost = _held_out_cost(folds, j, -1, b, 0)
                for k in _candidates(standardized, widths, j):
                    cost = _held_out_cost(folds, j, k, b, int(widths[k]))
                    if cost < best_cost:
                        best, best_cost = k, cost
            contexts.append(best)
        return cls.counted(codes, widths, contexts)

    @classmethod
    def counted(cls, codes: NDArray, widths, contexts) -> CodeTables:
        """Tables counted from ``codes`` in the given contexts."""
        tables = []
        for j, (b, k) in enumerate(zip(widths, contexts, strict=True)):
            b = int(b)
            if not b:
                tables.append(np.zeros((1, 0), np.uint32))
                continue
            tables.append(_table(codes, j, k, b, int(widths[k]) if k >= 0 else 0))
        return cls.checked(tables, contexts, widths)

    def row_index(self, codes: NDArray, j: int) -> NDArray | int:
        """Every row's table row for feature ``j``: its context's code, or 0."""
        k = self.contexts[j]
        return 0 if k < 0 else codes[:, k].astype(np.int64)


def _standardized(codes: NDArray) -> NDArray[np.float32]:
    """Codes with zero mean and unit norm per feature (zero if constant)."""
    z = codes.astype(np.float32)
    z -= z.mean(axis=0)
    norm = np.sqrt((z * z).sum(axis=0))
    return np.divide(z, norm, out=np.zeros_like(z), where=norm > 0)


def _candidates(standardized: NDArray, widths, j: int) -> list[int]:
    """Earlier features that may be feature ``j``'s context, the
    ``CONTEXT_CANDIDATES`` whose codes correlate most with its codes."""
    start = max(0, j - CONTEXT_WINDOW)
    allowed = [
        k
        for k in range(start, j)
        if widths[k] and 1 << (int(widths[k]) + int(widths[j])) <= MAX_TABLE_ENTRIES
    ]
    if len(allowed) <= CONTEXT_CANDIDATES:
        return allowed
    correlation = np.abs(standardized[:, allowed].T @ standardized[:, j])
    order = np.argsort(-correlation, kind="stable")[:CONTEXT_CANDIDATES]
    return [allowed[i] for i in order]


def _table(codes, j, k, width, context_bits) -> NDArray[np.uint32]:
    rows = 1 << context_bits
    index = codes[:, j].astype(np.int64)
    if k >= 0:
        index = index + codes[:, k].astype(np.int64) * (1 << width)
    counts = np.bincount(index, minlength=rows << width).reshape(rows, 1 << width)
    return frequency_rows(counts, width)


def _held_out_cost(folds, j, k, width, context_bits) -> float:
    """Bits of feature ``j`` over both folds, each coded with the other's table."""
    if not folds:
        return 0.0
    cost = 0.0
    for train, test in (folds, folds[::-1]):
        table = _table(train, j, k, width, context_bits)
        row = 0 if k < 0 else test[:, k].astype(np.int64)
        cost += float(np.log2(table[row, test[:, j]]).sum())
    # fewer bits = larger frequencies: minimize the negative sum
    return -cost


def held_out_message_bits(codes: NDArray, widths, contexts) -> float:
    """Mean message bits of training rows coded with tables that did not count
    them: ``_ESTIMATE_FOLDS`` folds (every tenth row), each coded with tables
    counted from the other rows in the given ``contexts`` (``CodeTables.learn``
    chose them from every row: a little optimistic). With fewer than two rows,
    the v1 row length."""
    codes = codes[:_ESTIMATE_ROWS]
    if len(codes) < 2:
        return float(8 * _packing.bytes_per_row(widths))
    folds = min(_ESTIMATE_FOLDS, len(codes))
    bits = []
    for i in range(folds):
        rest = np.delete(codes, np.s_[i::folds], axis=0)
        fold_tables = CodeTables.counted(rest, widths, contexts)
        bits.append(RangeCoder(widths, fold_tables).message_bits(codes[i::folds]))
    return float(np.concatenate(bits).mean())


def cross_entropy_bits(codes: NDArray, tables: CodeTables) -> NDArray:
    """Bits of every row under the tables: ``sum_j log2(2**P_j / f_j[c_j])``."""
    bits = np.zeros(len(codes))
    for j, f in enumerate(tables.frequencies):
        if f.size:
            total = float(f[0].sum())
            chosen = f[tables.row_index(codes, j), codes[:, j]]
            bits += np.log2(total / chosen.astype(np.float64))
    return bits


class _SentFeature(NamedTuple):
    """A sent feature's table, flat over its rows (entry ``row * 2**b + c``)."""

    index: int
    width: int
    precision: int
    frequencies: NDArray[np.uint64]
    starts: NDArray[np.uint64]  # within the entry's row: sorted in every row

    @classmethod
    def of(cls, j: int, width: int, frequencies: NDArray) -> _SentFeature:
        p = precision_bits(width)
        starts = np.cumsum(frequencies, axis=1, dtype=np.uint64) - frequencies
        flat = frequencies.astype(np.uint64).ravel()
        return cls(j, width, p, flat, starts.ravel())

    def entry_of(self, row_start: NDArray | int, target: NDArray) -> NDArray:
        """Every row's flat entry whose interval holds its ``target``: the last
        of its row's ``2**width`` starts that is at most ``target``, found by a
        binary search of ``width`` steps over all rows at once (the first
        start of every row is 0, at most any target)."""
        entry = np.zeros(target.shape, np.int64) + row_start
        step = 1 << (self.width - 1)
        while step:
            entry += step * (self.starts[entry + step] <= target)
            step >>= 1
        return entry


class RangeCoder:
    """The v2 coder of one model: widths and frequency tables.

    Parameters
    ----------
    widths : ndarray of int
        Checked widths, 0..16.
    tables : CodeTables
        Checked tables.
    """

    def __init__(self, widths: NDArray[np.int64], tables: CodeTables):
        self.widths = widths
        self.tables = tables
        self.bytes_per_row = _packing.bytes_per_row(widths)
        self._features = [
            _SentFeature.of(j, int(b), f)
            for j, (b, f) in enumerate(zip(widths, tables.frequencies, strict=True))
            if b
        ]
        self._buffer_bytes = coded_bytes_bound(widths)

    # ------------------------------------------------------------- encoding
    def compress(self, codes: NDArray) -> list[bytes]:
        """One message per row of checked codes."""
        return self._messages(codes, *self._range_code(codes))

    def _messages(self, codes, coded, lengths) -> list[bytes]:
        # slices of two bytes objects: no numpy call per row
        size, v1_size = coded.shape[1], self.bytes_per_row
        blob = coded.tobytes()
        v1 = _packing.pack_in_range(codes, self.widths).tobytes()
        return [
            blob[i * size : i * size + n]
            if n < v1_size
            else v1[i * v1_size : (i + 1) * v1_size]
            for i, n in enumerate(lengths.tolist())
        ]

    def message_bits(self, codes: NDArray) -> NDArray[np.int64]:
        """Bits of every row's message (8 times its length)."""
        _, lengths = self._range_code(codes)
        return 8 * np.minimum(lengths, self.bytes_per_row)

    def _range_code(self, codes: NDArray) -> tuple[NDArray[np.uint8], NDArray]:
        n = len(codes)
        codes = np.asfortranarray(codes)  # read column by column below
        out = np.zeros((n, self._buffer_bytes), dtype=np.uint8)
        at = np.zeros(n, dtype=np.int64)  # next byte to write, per row
        low = np.zeros(n, dtype=np.uint64)
        width = np.full(n, _WINDOW, dtype=np.uint64)  # the coder's range
        for feature in self._features:
            c = self._flat_index(codes, feature)
            r = width >> np.uint64(feature.precision)
            low += r * feature.starts[c]
            width = r * feature.frequencies[c]
            self._carry(out, at, low)
            self._shift_out(out, at, low, width)
        return out, self._finish(out, at, low, width)

    def _flat_index(self, codes: NDArray, feature: _SentFeature) -> NDArray:
        """Every row's entry in the feature's flat table."""
        c = codes[:, feature.index].astype(np.int64)
        row = self.tables.row_index(codes, feature.index)
        return c if isinstance(row, int) else (row << feature.width) + c

    @staticmethod
    def _carry(out: NDArray, at: NDArray, low: NDArray) -> None:
        rows = np.flatnonzero(low >= _TOP)
        if not rows.size:
            return
        low[rows] &= _WINDOW
        byte = at[rows] - 1
        while rows.size:  # add 1 to the message written so far
            out[rows, byte] += np.uint8(1)
            wrapped = out[rows, byte] == 0
            rows, byte = rows[wrapped], byte[wrapped] - 1

    @staticmethod
    def _shift_out(out: NDArray, at: NDArray, low: NDArray, width: NDArray) -> None:
        while True:
            rows = np.flatnonzero(width < _BOTTOM)
            if not rows.size:
                return
            out[rows, at[rows]] = (low[rows] >> np.uint64(24)).astype(np.uint8)
            at[rows] += 1
            low[rows] = (low[rows] << np.uint64(8)) & _WINDOW
            width[rows] <<= np.uint64(8)

    def _finish(self, out, at, low, width) -> NDArray[np.int64]:
        """Write the fewest bytes ``v`` whose every continuation lies in
        ``low .. low + range - 1``; return every row's message length."""
        n_bytes = np.full(len(low), 4, dtype=np.int64)
        value = low.copy()
        for z in (3, 2, 1):  # fewer bytes win: try them last
            unit = np.uint64(1 << (32 - 8 * z))
            v = (low + unit - np.uint64(1)) // unit * unit
            fits = v - low <= width - unit  # width >= 2**24 >= unit
            n_bytes[fits] = z
            value[fits] = v[fits]
        low[:] = value
        self._carry(out, at, low)
        rows = np.arange(len(low))
        for k, shift in enumerate((24, 16, 8, 0)):
            take = n_bytes > k
            out[rows[take], at[take]] = (
                (low[take] >> np.uint64(shift)) & _BYTE
            ).astype(np.uint8)
            at[take] += 1
        return at

    # ------------------------------------------------------------- decoding
    def decompress(self, messages: Sequence[bytes]) -> NDArray:
        """Codes of every message, checked to be a message of this model."""
        n = len(messages)
        lengths = np.fromiter(map(len, messages), dtype=np.int64, count=n)
        too_long = np.flatnonzero(lengths > self.bytes_per_row)
        if too_long.size:
            i = int(too_long[0])
            raise ValueError(
                f"message {i} has {int(lengths[i])} bytes; this model's messages "
                f"have at most {self.bytes_per_row} (its v1 row length). The "
                "message is damaged or from another model."
            )
        data = self._padded(messages, lengths)
        codes = np.zeros((n, self.widths.size), dtype=_packing.code_dtype(self.widths))
        is_v1 = lengths == self.bytes_per_row
        if is_v1.any():
            v1_rows = data[is_v1, : self.bytes_per_row]
            codes[is_v1] = _packing.unpack(v1_rows, self.widths)
        coded = np.flatnonzero(~is_v1)
        if coded.size:
            codes[coded] = self._range_decode(data[coded], coded)
        self._check_canonical(data, lengths, codes)
        return codes

    def _padded(self, messages: Sequence[bytes], lengths: NDArray) -> NDArray:
        """The messages as rows of one array, zeros after each message's end
        (as far as a decoder reads)."""
        size = max(self._buffer_bytes + 4, self.bytes_per_row)
        data = np.zeros((len(messages), size), dtype=np.uint8)
        flat = np.frombuffer(b"".join(messages), dtype=np.uint8)
        starts = np.cumsum(lengths) - lengths
        rows = np.repeat(np.arange(len(messages)), lengths)
        data[rows, np.arange(flat.size) - starts[rows]] = flat
        return data

    def _range_decode(self, data: NDArray, rows: NDArray) -> NDArray:
        n, size = data.shape
        value = np.zeros(n, dtype=np.uint64)  # the message's value minus low
        for k in range(4):
            value = (value << np.uint64(8)) | data[:, k]
        at = np.full(n, 4, dtype=np.int64)
        width = np.full(n, _WINDOW, dtype=np.uint64)
        # column by column: a feature's codes are written, and read as contexts,
        # as one contiguous column
        codes = np.zeros((n, self.widths.size), dtype=np.int64, order="F")
        for feature in self._features:
            j, precision = feature.index, feature.precision
            r = width >> np.uint64(precision)
            target = value // r
            bad = np.flatnonzero(target >= np.uint64(1 << precision))
            if bad.size:
                raise ValueError(
                    f"message {int(rows[bad[0]])} does not decode at feature {j}: "
                    "it is damaged or from another model."
                )
            row = self.tables.row_index(codes, j)
            c = feature.entry_of(row << feature.width, target)  # flat entry
            codes[:, j] = c & ((1 << feature.width) - 1)
            value -= r * feature.starts[c]
            width = r * feature.frequencies[c]
            while True:
                short = np.flatnonzero(width < _BOTTOM)
                if not short.size:
                    break
                byte = data[short, np.minimum(at[short], size - 1)].astype(np.uint64)
                value[short] = ((value[short] << np.uint64(8)) | byte) & _WINDOW
                at[short] += 1
                width[short] <<= np.uint64(8)
        return codes

    def _check_canonical(self, data: NDArray, lengths: NDArray, codes) -> None:
        """Every row has one message: the bytes must be those its codes give
        (range-coded when shorter than v1, else the v1 row)."""
        coded, coded_lengths = self._range_code(codes)
        as_coded = coded_lengths < self.bytes_per_row
        expected = np.zeros_like(data)
        width = min(coded.shape[1], data.shape[1])
        expected[as_coded, :width] = coded[as_coded, :width]
        v1 = _packing.pack_in_range(codes[~as_coded], self.widths)
        expected[~as_coded, : self.bytes_per_row] = v1
        same_length = np.where(as_coded, coded_lengths, self.bytes_per_row) == lengths
        bad = np.flatnonzero(~same_length | np.any(expected != data, axis=1))
        if bad.size:
            raise ValueError(
                f"message {int(bad[0])} ({bad.size} of {len(data)} in all) is not "
                "what this model sends for the codes it decodes to: it is "
                "damaged, truncated or from another model."
            )
