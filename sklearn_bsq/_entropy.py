"""Message format v2: one row of codes as a short range-coded message. Pure numpy.

Every feature ``j`` with ``b_j > 0`` bits has a static table of integer code
frequencies ``f_j[0 .. 2**b_j - 1]``, each at least 1, summing to ``2**P_j``
(:func:`precision_bits`), learned from the training codes at fit
(:func:`code_frequencies`); ``s_j[c]`` is the sum of the frequencies below code
``c``. A row's codes are coded in feature order by a byte-wise range coder with
a 32-bit window:

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
    total = 1 << precision_bits(width)
    counts = np.bincount(np.asarray(codes, dtype=np.int64).ravel(), minlength=k)
    if counts.size != k:
        raise ValueError(f"a code is out of range for a {width}-bit feature.")
    weights = [2 * int(n) + 1 for n in counts]  # Python ints: no overflow
    weight_total = sum(weights)
    spare = total - k
    frequencies = [1 + spare * w // weight_total for w in weights]
    remainders = [spare * w % weight_total for w in weights]
    left = total - sum(frequencies)
    for c in sorted(range(k), key=lambda c: (-remainders[c], c))[:left]:
        frequencies[c] += 1
    return np.array(frequencies, dtype=np.uint32)


def check_frequencies(frequencies: Sequence[ArrayLike], widths) -> tuple:
    """Tables as ``code_frequencies`` makes them, checked: one per feature,
    ``2**b`` positive integers summing to ``2**precision_bits(b)`` (an empty
    table for a feature of width 0). ValueError otherwise."""
    widths = np.asarray(widths)
    if len(frequencies) != widths.size:
        raise ValueError(
            f"{widths.size} features need as many frequency tables, "
            f"got {len(frequencies)}."
        )
    tables = []
    for j, (f, b) in enumerate(zip(frequencies, widths, strict=True)):
        f = np.asarray(f)
        expected = n_codes(int(b)) if b else 0
        if f.ndim != 1 or f.size != expected or not np.issubdtype(f.dtype, np.integer):
            raise ValueError(
                f"feature {j} has {int(b)} bits: its frequency table must hold "
                f"{expected} integers, got shape {f.shape} of dtype {f.dtype}."
            )
        f = f.astype(np.int64)
        if b and (f.min() < 1 or f.sum() != 1 << precision_bits(int(b))):
            raise ValueError(
                f"the frequencies of feature {j} must be positive and sum to "
                f"{1 << precision_bits(int(b))}."
            )
        tables.append(f.astype(np.uint32))
    return tuple(tables)


def feature_frequencies(codes: NDArray, widths) -> list[NDArray[np.uint32]]:
    """Every feature's :func:`code_frequencies` (empty for width 0)."""
    return [
        code_frequencies(codes[:, j], int(b)) if b else np.zeros(0, np.uint32)
        for j, b in enumerate(widths)
    ]


# Rows the held-out estimate codes at most: enough for a mean of a few bits.
_ESTIMATE_ROWS = 100_000


def held_out_message_bits(codes: NDArray, widths: NDArray[np.int64]) -> float:
    """Mean message bits of training rows coded with tables they did not
    shape: two folds (even and odd rows), each coded with the other's
    tables. An honest estimate of the rate on new rows; with fewer than
    two rows, the v1 row length."""
    codes = codes[:_ESTIMATE_ROWS]
    if len(codes) < 2:
        return float(8 * _packing.bytes_per_row(widths))
    folds = codes[0::2], codes[1::2]
    bits = [
        RangeCoder(widths, feature_frequencies(train, widths)).message_bits(test)
        for train, test in (folds, folds[::-1])
    ]
    return float(np.concatenate(bits).mean())


def cross_entropy_bits(codes: NDArray, frequencies: Sequence[NDArray]) -> NDArray:
    """Bits of every row under the tables: ``sum_j log2(2**P_j / f_j[c_j])``."""
    bits = np.zeros(len(codes))
    for j, f in enumerate(frequencies):
        if f.size:
            total = float(f.sum())
            bits += np.log2(total / f[codes[:, j]].astype(np.float64))
    return bits


class RangeCoder:
    """The v2 coder of one model: widths and frequency tables.

    Parameters
    ----------
    widths : ndarray of int
        Checked widths, 0..16.
    frequencies : sequence of ndarray
        Checked tables (:func:`check_frequencies`).
    """

    def __init__(self, widths: NDArray[np.int64], frequencies: Sequence[NDArray]):
        self.widths = widths
        self.bytes_per_row = _packing.bytes_per_row(widths)
        self._features = []  # (j, P, frequencies, cumulative) of sent features
        for j, (b, f) in enumerate(zip(widths, frequencies, strict=True)):
            if b:
                starts = np.zeros(f.size, dtype=np.uint64)
                starts[1:] = np.cumsum(f, dtype=np.uint64)[:-1]
                self._features.append(
                    (j, precision_bits(int(b)), f.astype(np.uint64), starts)
                )
        # every code costs at most P bits, plus the four bytes of the finish
        self._buffer_bytes = -(-sum(p for _, p, _, _ in self._features) // 8) + 5

    # ------------------------------------------------------------- encoding
    def compress(self, codes: NDArray) -> list[bytes]:
        """One message per row of checked codes."""
        return self._messages(codes, *self._range_code(codes))

    def _messages(self, codes, coded, lengths) -> list[bytes]:
        v1 = _packing.pack_in_range(codes, self.widths)
        return [
            coded[i, :n].tobytes() if n < self.bytes_per_row else v1[i].tobytes()
            for i, n in enumerate(lengths.tolist())
        ]

    def message_bits(self, codes: NDArray) -> NDArray[np.int64]:
        """Bits of every row's message (8 times its length)."""
        _, lengths = self._range_code(codes)
        return 8 * np.minimum(lengths, self.bytes_per_row)

    def _range_code(self, codes: NDArray) -> tuple[NDArray[np.uint8], NDArray]:
        n = len(codes)
        out = np.zeros((n, self._buffer_bytes), dtype=np.uint8)
        at = np.zeros(n, dtype=np.int64)  # next byte to write, per row
        low = np.zeros(n, dtype=np.uint64)
        width = np.full(n, _WINDOW, dtype=np.uint64)  # the coder's range
        for j, precision, frequency, start in self._features:
            c = codes[:, j]
            r = width >> np.uint64(precision)
            low += r * start[c]
            width = r * frequency[c]
            self._carry(out, at, low)
            self._shift_out(out, at, low, width)
        return out, self._finish(out, at, low, width)

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
        lengths = np.fromiter((len(m) for m in messages), dtype=np.int64, count=n)
        too_long = np.flatnonzero(lengths > self.bytes_per_row)
        if too_long.size:
            i = int(too_long[0])
            raise ValueError(
                f"message {i} has {int(lengths[i])} bytes; this model's messages "
                f"have at most {self.bytes_per_row} (its v1 row length). The "
                "message is damaged or from another model."
            )
        codes = np.zeros((n, self.widths.size), dtype=_packing.code_dtype(self.widths))
        is_v1 = lengths == self.bytes_per_row
        if is_v1.any():
            rows = np.flatnonzero(is_v1)
            packed = np.frombuffer(b"".join(messages[i] for i in rows), np.uint8)
            codes[rows] = _packing.unpack(
                packed.reshape(rows.size, self.bytes_per_row), self.widths
            )
        coded = np.flatnonzero(~is_v1)
        if coded.size:
            codes[coded] = self._range_decode([messages[i] for i in coded], coded)
        self._check_canonical(messages, codes)
        return codes

    def _range_decode(self, messages: list[bytes], rows: NDArray) -> NDArray:
        n = len(messages)
        size = self._buffer_bytes + 4
        data = np.zeros((n, size), dtype=np.uint8)
        for i, m in enumerate(messages):
            data[i, : len(m)] = np.frombuffer(m, dtype=np.uint8)
        value = np.zeros(n, dtype=np.uint64)  # the message's value minus low
        for k in range(4):
            value = (value << np.uint64(8)) | data[:, k]
        at = np.full(n, 4, dtype=np.int64)
        width = np.full(n, _WINDOW, dtype=np.uint64)
        codes = np.zeros((n, self.widths.size), dtype=np.int64)
        for j, precision, frequency, start in self._features:
            r = width >> np.uint64(precision)
            target = value // r
            bad = np.flatnonzero(target >= np.uint64(1 << precision))
            if bad.size:
                raise ValueError(
                    f"message {int(rows[bad[0]])} does not decode at feature {j}: "
                    "it is damaged or from another model."
                )
            c = np.searchsorted(start, target, side="right") - 1
            codes[:, j] = c
            value -= r * start[c]
            width = r * frequency[c]
            while True:
                short = np.flatnonzero(width < _BOTTOM)
                if not short.size:
                    break
                byte = data[short, np.minimum(at[short], size - 1)].astype(np.uint64)
                value[short] = ((value[short] << np.uint64(8)) | byte) & _WINDOW
                at[short] += 1
                width[short] <<= np.uint64(8)
        return codes

    def _check_canonical(self, messages, codes) -> None:
        again = self.compress(codes)
        bad = [
            i for i, (m, a) in enumerate(zip(messages, again, strict=True)) if m != a
        ]
        if bad:
            raise ValueError(
                f"message {bad[0]} ({len(bad)} of {len(messages)} in all) is not "
                "what this model sends for the codes it decodes to: it is "
                "damaged, truncated or from another model."
            )
