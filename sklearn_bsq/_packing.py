"""Wire format v1: integer codes <-> packed bytes. Pure numpy, no torch.

A row's codes ``c_0 .. c_{d-1}`` with bit widths ``b_0 .. b_{d-1}`` are written as
one bit string, ``c_0`` in ``b_0`` bits most significant bit first, then ``c_1`` and so
on, padded with zero bits to a whole number of bytes. The first bit of the string is
the most significant bit of byte 0. Every row is encoded on its own, so a row takes
``ceil(sum(b) / 8)`` bytes. A width of 0 means the feature is not transmitted.

The implementation assembles each row in 64-bit big-endian words (one shift-or per
feature over all rows, no loop over rows) and views the words as bytes. It produces
the same bytes as ``numpy.packbits(bits, axis=1, bitorder="big")`` on the row-major
matrix of the codes' bits; the tests check that.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._widths import check_bit_widths, n_thresholds

WIRE_FORMAT_VERSION = 1

_WORD_BITS = 64


def bytes_per_row(widths: ArrayLike) -> int:
    """Number of bytes one packed row takes: ``ceil(sum(widths) / 8)``."""
    return int(-(-int(np.sum(widths)) // 8))


def compression_ratio(widths: ArrayLike) -> float:
    """Size of a row of float32 readings over the size of its packed row."""
    return float(float32_ratio(len(widths), 8 * bytes_per_row(widths)))


def float32_ratio(n_features: int, bits_per_sample: ArrayLike):
    """How many times smaller ``bits_per_sample`` is than ``n_features`` float32s."""
    return 32 * n_features / np.asarray(bits_per_sample, dtype=float)


def code_dtype(widths: ArrayLike) -> np.dtype:
    """Smallest unsigned integer dtype that holds every code for these widths."""
    return (
        np.dtype(np.uint8)
        if int(np.max(widths, initial=0)) <= 8
        else np.dtype(np.uint16)
    )


def bit_offsets(widths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Where each feature's code starts in the row's bit string."""
    return np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)


def word_pieces(widths: ArrayLike, word_bits: int) -> list[tuple[int, int, int]]:
    """The byte layout: ``(feature, word, shift)`` for every piece of a code that
    lands in a word of ``word_bits`` bits (words numbered from the row start).

    The piece's bits are ``code << shift`` kept to the word's low ``word_bits``
    bits (a code that starts in an earlier word loses its high bits), or
    ``code >> -shift`` for a negative shift (a code that continues into the next
    word). Reading back, ``(word >> shift) & (2**width - 1)`` (``word <<
    -shift`` for a negative shift), ORed over a code's pieces, gives the code.
    :func:`pack` and :func:`unpack` use 64-bit words; the exported device
    encoders use bytes (``word_bits=8``). A width of 0 has no pieces.
    """
    widths = np.asarray(widths, dtype=np.int64)
    pieces = []
    for j, (offset, width) in enumerate(zip(bit_offsets(widths), widths, strict=True)):
        end = int(offset + width)  # the code occupies bits [offset, end)
        if width == 0:
            continue
        for word in range(int(offset) // word_bits, -(-end // word_bits)):
            pieces.append((j, word, word_bits * (word + 1) - end))
    return pieces


class _WordPiece(NamedTuple):
    """A piece of ``word_pieces`` for 64-bit words, its shift and mask as
    numpy scalars (made once per widths: ``_word_layout``)."""

    feature: int
    word: int
    code_moves_left: bool  # into its word (shift >= 0): unpacking shifts right
    shift: np.uint64  # its size
    mask: np.uint64  # the code's bits


@functools.lru_cache(maxsize=64)
def _word_layout(widths: tuple[int, ...]) -> tuple[_WordPiece, ...]:
    """The 64-bit ``word_pieces`` of ``widths``, ready to shift and mask: a
    server unpacks a model's rows with the same layout call after call, and
    working it out again cost more than unpacking a few rows."""
    return tuple(
        _WordPiece(
            j,
            word,
            shift >= 0,
            np.uint64(abs(shift)),
            np.uint64(n_thresholds(widths[j])),
        )
        for j, word, shift in word_pieces(widths, _WORD_BITS)
    )


def pack(codes: ArrayLike, widths: ArrayLike) -> NDArray[np.uint8]:
    """Pack integer codes into wire format v1 bytes.

    Parameters
    ----------
    codes : array-like of int, shape (n_samples, n_features)
        Code ``c[i, j]`` must lie in ``0 .. 2**widths[j] - 1``.
    widths : array-like of int, shape (n_features,)
        Bit width of each feature, 0..MAX_BITS.

    Returns
    -------
    packed : ndarray of shape (n_samples, bytes_per_row(widths)), dtype uint8
        C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> pack(np.array([[1, 2], [3, 0]]), [2, 3]).tolist()
    [[80], [192]]
    """
    widths = check_bit_widths(widths)
    codes = check_codes(codes, widths)
    return pack_in_range(codes, widths)


def pack_in_range(codes: np.ndarray, widths: NDArray[np.int64]) -> NDArray[np.uint8]:
    """:func:`pack` for integer codes already known to be in range.

    For codes the library computed itself (``transform``), where the range check
    would be a full extra pass over the data.
    """
    width = _byte_aligned_width(widths)
    if width:
        return _pack_byte_aligned(codes, width)
    n_bytes = bytes_per_row(widths)
    n = codes.shape[0]
    words = np.zeros((n, _words_per_row(n_bytes)), dtype=np.uint64)
    column = np.empty(n, dtype=np.uint64)
    for piece in _word_layout(tuple(widths.tolist())):
        np.copyto(column, codes[:, piece.feature], casting="unsafe")
        if piece.code_moves_left:
            column <<= piece.shift  # bits beyond the word fall off
        else:
            column >>= piece.shift
        words[:, piece.word] |= column
    as_bytes = words.astype(">u8", copy=False).view(np.uint8)
    return np.ascontiguousarray(as_bytes[:, :n_bytes])


def unpack(packed: ArrayLike, widths: ArrayLike) -> NDArray[np.unsignedinteger]:
    """Unpack wire format v1 bytes into integer codes.

    Parameters
    ----------
    packed : array-like of uint8, shape (n_samples, bytes_per_row(widths)), or bytes
        Rows produced by :func:`pack` (as bytes: rows back to back). The
        padding bits must be zero.
    widths : array-like of int, shape (n_features,)

    Returns
    -------
    codes : ndarray of shape (n_samples, n_features)
        dtype uint8 when every width is at most 8, else uint16.

    Examples
    --------
    >>> import numpy as np
    >>> unpack(np.array([[80], [192]], dtype=np.uint8), [2, 3]).tolist()
    [[1, 2], [3, 0]]
    """
    widths = check_bit_widths(widths)
    n_bytes = bytes_per_row(widths)
    packed = _check_packed(packed, widths, n_bytes)
    width = _byte_aligned_width(widths)
    if width:
        return _unpack_byte_aligned(packed, width, widths.size)
    n = packed.shape[0]
    padded = np.zeros((n, _words_per_row(n_bytes) * 8), dtype=np.uint8)
    padded[:, :n_bytes] = packed
    words = padded.view(">u8").astype(np.uint64)
    codes = np.zeros((n, widths.size), dtype=code_dtype(widths))
    column = np.empty(n, dtype=np.uint64)
    for piece in _word_layout(tuple(widths.tolist())):
        if piece.code_moves_left:
            np.right_shift(words[:, piece.word], piece.shift, out=column)
        else:
            np.left_shift(words[:, piece.word], piece.shift, out=column)
        column &= piece.mask
        codes[:, piece.feature] |= column.astype(codes.dtype)
    return codes


def _words_per_row(n_bytes: int) -> int:
    return max(1, -(-n_bytes // 8))


# ------------------------------------------- one width that divides a byte
# With every feature at 1, 2, 4 or 8 bits, codes never straddle a byte: byte k
# holds codes k*m .. k*m + m - 1 (m = 8 // width), first code in the high bits.
# Whole-array shifts replace the per-feature word loop.
def _byte_aligned_width(widths: NDArray[np.int64]) -> int:
    if widths.size and widths[0] in (1, 2, 4, 8) and np.all(widths == widths[0]):
        return int(widths[0])
    return 0


def _pack_byte_aligned(codes: np.ndarray, width: int) -> NDArray[np.uint8]:
    n, d = codes.shape
    per_byte = 8 // width
    spare = -d % per_byte  # zero codes fill the last byte: the padding bits
    codes = codes.astype(np.uint8, copy=False)  # in range, so this is exact
    if width == 8:
        return np.ascontiguousarray(codes)
    if spare:
        codes = np.concatenate([codes, np.zeros((n, spare), np.uint8)], axis=1)
    grouped = codes.reshape(n, (d + spare) // per_byte, per_byte)
    packed = grouped[:, :, 0] << np.uint8(8 - width)
    for k in range(1, per_byte):
        packed |= grouped[:, :, k] << np.uint8(8 - width * (k + 1))
    return packed


def _unpack_byte_aligned(
    packed: NDArray[np.uint8], width: int, n_features: int
) -> NDArray[np.uint8]:
    if width == 1:
        return np.unpackbits(packed, axis=1, count=n_features)
    if width == 8:
        return packed.copy()
    per_byte = 8 // width
    mask = np.uint8(n_thresholds(width))  # the code's bits
    codes = np.empty((packed.shape[0], n_features), dtype=np.uint8)
    # Code j sits in byte j // per_byte at position j % per_byte: one strided
    # write per position, no temporaries the size of the codes.
    for k in range(per_byte):
        columns = codes[:, k::per_byte]
        np.right_shift(
            packed[:, : columns.shape[1]], np.uint8(8 - width * (k + 1)), out=columns
        )
        columns &= mask
    return codes


def check_codes(codes: ArrayLike, widths: NDArray[np.int64]) -> np.ndarray:
    """Integer codes of shape ``(n_samples, n_features)``, each within its width.

    Parameters
    ----------
    codes : array-like of int, shape (n_samples, n_features)
    widths : ndarray of int, shape (n_features,)
        Checked bit widths (:func:`check_bit_widths`).

    Returns
    -------
    codes : ndarray
        The codes as an array, unchanged.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != widths.size:
        raise ValueError(
            f"codes must have shape (n_samples, {widths.size}), got {codes.shape}."
        )
    if codes.dtype == bool or not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}.")
    _check_codes_in_range(codes, widths)
    return codes


def _check_codes_in_range(codes: np.ndarray, widths: NDArray[np.int64]) -> None:
    if codes.size == 0:
        return
    low = codes.min(axis=0)
    high = codes.max(axis=0)
    limit = n_thresholds(widths)  # the highest code
    bad = (low < 0) | (high > limit)
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"code out of range for feature {j}: it has {int(widths[j])} bits, so "
            f"codes must be in 0..{int(limit[j])}, got values in "
            f"{int(low[j])}..{int(high[j])}."
        )


def _check_packed(
    packed: ArrayLike, widths: NDArray[np.int64], n_bytes: int
) -> NDArray[np.uint8]:
    if isinstance(packed, (bytes, bytearray, memoryview)):
        # as a node sends them: rows of n_bytes back to back, one or many
        arr = np.frombuffer(packed, dtype=np.uint8)
        if arr.size % n_bytes:
            raise ValueError(
                f"{arr.size} bytes are not a whole number of {n_bytes}-byte rows "
                "for this model."
            )
        return _check_packed(arr.reshape(-1, n_bytes), widths, n_bytes)
    arr = np.asarray(packed)
    if arr.dtype != np.uint8:
        raise TypeError(
            f"packed bytes must have dtype uint8, got {arr.dtype}; pass the array "
            "returned by transform, or the bytes themselves (bytes, bytearray)."
        )
    if arr.ndim == 1 and arr.size == n_bytes:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != n_bytes:
        raise ValueError(
            f"packed bytes must have shape (n_samples, {n_bytes}) for this "
            f"model, got shape {arr.shape}."
        )
    pad_bits = n_bytes * 8 - int(widths.sum())
    if pad_bits and arr.shape[0]:
        pad_mask = np.uint8(0xFF >> (8 - pad_bits))  # the last byte's pad bits
        bad = np.flatnonzero(arr[:, -1] & pad_mask)
        if bad.size:
            raise ValueError(
                f"non-zero padding bits in row {int(bad[0])} ({bad.size} rows in all): "
                f"the last {pad_bits} bits of each row must be zero. The bytes were "
                "not produced by this model or were corrupted."
            )
    return arr
