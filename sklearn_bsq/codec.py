"""The fitted codec: what a node needs to encode and a server needs to decode.

A :class:`Codec` is plain data (numpy, no torch): the bit width of every
feature, its sorted float32 thresholds in raw units, a representative value
for every code, and the representation the network was built on. It turns
readings into codes and packed bytes (wire format v1) and back, and, with the
code frequencies of its training rows, into range-coded messages (message
format v2, ``_entropy``) and back. A fitted
estimator holds one as ``codec_``; the node side, the server side, the
exporters, persistence and the plots all read it, so a width, a threshold or
the fingerprint is never derived twice. Its arrays are read-only: the
fingerprint (``model_id``) and the cached encoder cannot go stale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _packing
from ._encoding import BucketEncoder, bin_representatives, model_id
from ._entropy import CodeTables, RangeCoder, held_out_message_bits
from ._widths import check_bit_widths, n_codes, n_thresholds

__all__ = ["Codec"]


def _frozen(array: NDArray) -> NDArray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


class Codec:
    """Per-feature thresholds and the wire format of one fitted model.

    Parameters
    ----------
    n_bits : array-like of int
        Width of every feature, 0..MAX_BITS (16; 0: the feature is not sent).
    thresholds : sequence of array-like
        Feature ``j``'s ``2**n_bits[j] - 1`` thresholds in raw units, sorted;
        kept as float32 (what a node compares with).
    bin_values : sequence of array-like
        Feature ``j``'s representative reading for every code
        (``2**n_bits[j]`` values; one for a feature that is not sent).
    representation : str or None, default=None
        What the network sees of the codes (None: a quantizer without one).
    code_tables : CodeTables, optional
        The integer code frequencies of message format v2, per feature and
        per code of its context feature (``_entropy.CodeTables``). None: the
        codec writes v1 only.
    estimated_message_bits : float, optional
        Mean bits of a format v2 message on rows the tables were not learned
        from (``from_readings`` estimates it by two folds of the training rows).

    Attributes
    ----------
    model_id : str
        Fingerprint of the encoder: 16 hex digits of SHA-256 over the wire
        format version, the widths, the thresholds and the code frequencies
        (when there are).
    bytes_per_row : int
        Bytes of one packed row: ``ceil(sum(n_bits) / 8)``.
    compression_ratio : float
        Bytes of a row of float32 readings over ``bytes_per_row``.

    Examples
    --------
    One feature at 2 bits (three thresholds), one at 1 bit:

    >>> import numpy as np
    >>> from sklearn_bsq.codec import Codec
    >>> codec = Codec([2, 1], [[-1.0, 0.0, 1.0], [5.0]],
    ...               [[-2.0, -0.5, 0.5, 2.0], [4.0, 6.0]])
    >>> codes = codec.encode(np.array([[0.5, 7.0], [-3.0, 5.0]]))
    >>> codes.tolist()
    [[2, 1], [0, 0]]
    >>> codec.pack(codes).tolist()  # 2 + 1 bits, MSB first: 101 00000, 000 00000
    [[160], [0]]
    >>> codec.inverse_transform(codec.pack(codes)).tolist()
    [[0.5, 6.0], [-2.0, 4.0]]
    >>> codec.thresholds[0][0] = 3.0
    Traceback (most recent call last):
    ...
    ValueError: assignment destination is read-only
    """

    def __init__(
        self,
        n_bits: ArrayLike,
        thresholds: Sequence[ArrayLike],
        bin_values: Sequence[ArrayLike],
        representation: str | None = None,
        code_tables: CodeTables | None = None,
        estimated_message_bits: float | None = None,
    ) -> None:
        widths = check_bit_widths(n_bits, allow_zero=True)
        if len(thresholds) != widths.size or len(bin_values) != widths.size:
            raise ValueError(
                f"{widths.size} widths need as many threshold and bin value "
                f"arrays, got {len(thresholds)} and {len(bin_values)}."
            )
        self._n_bits = _frozen(widths)
        self._thresholds = tuple(
            _frozen(np.asarray(t, dtype=np.float32).reshape(-1)) for t in thresholds
        )
        self._bin_values = tuple(
            _frozen(np.asarray(v, dtype=np.float64).reshape(-1)) for v in bin_values
        )
        for j, (b, t, v) in enumerate(
            zip(widths, self._thresholds, self._bin_values, strict=True)
        ):
            if t.size != n_thresholds(int(b)) or v.size != max(1, t.size + 1):
                raise ValueError(
                    f"feature {j} has {b} bits: it needs {n_thresholds(int(b))} "
                    f"thresholds and {n_codes(int(b))} bin values, got {t.size} "
                    f"and {v.size}."
                )
            if np.any(np.isnan(t)) or np.any(t[1:] < t[:-1]):
                raise ValueError(f"the thresholds of feature {j} are not sorted.")
        self.representation = representation
        self._tables = None
        if code_tables is not None:
            self._tables = CodeTables.checked(
                code_tables.frequencies, code_tables.contexts, widths
            )
        self.model_id = model_id(self._n_bits, self._thresholds, self._tables)
        self.bytes_per_row = _packing.bytes_per_row(self._n_bits)
        self.compression_ratio = _packing.compression_ratio(self._n_bits)
        self._encoder: BucketEncoder | None = None
        self._coder: RangeCoder | None = None
        self.estimated_message_bits = estimated_message_bits

    @classmethod
    def from_readings(
        cls,
        X: NDArray[np.float32],
        n_bits: ArrayLike,
        thresholds: Sequence[ArrayLike],
        representation: str | None = None,
        sample_weight: NDArray | None = None,
    ) -> Codec:
        """The codec whose bin values are the (weighted) mean training reading
        of every code (the midpoint of its thresholds for a code no reading
        took) and whose code tables are the counts of the training codes,
        smoothed (unweighted: they model the rows a node will send), each
        feature in the context of the earlier feature that predicts it best.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Training readings.
        n_bits : array-like of int
            Width of every feature.
        thresholds : sequence of array-like
            Every feature's sorted thresholds in raw units.
        representation : str or None, default=None
            What the network sees of the codes.
        sample_weight : ndarray of shape (n_samples,), optional
            Row weights for the means.

        Returns
        -------
        codec : Codec

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_bsq.codec import Codec
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]], dtype=np.float32)
        >>> Codec.from_readings(X, [1], [[2.0]]).bin_values[0].tolist()
        [0.5, 3.5]
        """
        X, sample_weight = _check_training_readings(X, sample_weight)
        provisional = cls(
            n_bits,
            thresholds,
            [np.zeros(max(1, n_codes(int(b)))) for b in np.asarray(n_bits)],
            representation,
        )
        codes = provisional.encode(X)
        values = bin_representatives(X, codes, provisional.thresholds, sample_weight)
        widths = provisional.n_bits
        tables = CodeTables.learn(codes, widths)
        codec = cls(
            widths,
            provisional.thresholds,
            values,
            representation,
            tables,
            held_out_message_bits(codes, widths, tables.contexts),
        )
        codec._encoder = provisional._encoder  # same thresholds: reuse the table
        return codec

    # ------------------------------------------------------------- the data
    @property
    def n_bits(self) -> NDArray[np.int64]:
        """Width of every feature (read-only)."""
        return self._n_bits

    @property
    def thresholds(self) -> tuple[NDArray[np.float32], ...]:
        """Every feature's sorted thresholds in raw units (read-only)."""
        return self._thresholds

    @property
    def bin_values(self) -> tuple[NDArray[np.float64], ...]:
        """Every feature's representative reading per code (read-only)."""
        return self._bin_values

    @property
    def code_tables(self) -> CodeTables | None:
        """The code frequencies of message format v2 (read-only), or None for
        a model saved before they existed."""
        return self._tables

    @property
    def n_features(self) -> int:
        """Number of features, sent or not."""
        return int(self._n_bits.size)

    def __repr__(self) -> str:
        return (
            f"Codec(model_id={self.model_id!r}, n_features={self.n_features}, "
            f"bytes_per_row={self.bytes_per_row}, "
            f"representation={self.representation!r})"
        )

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_encoder"] = None  # 65,536 table entries per feature: rebuilt
        state["_coder"] = None
        return state

    # ------------------------------------------------------------ node side
    def encode(self, X: ArrayLike) -> NDArray[np.unsignedinteger]:
        """Code of every reading: the number of its feature's thresholds
        strictly below it, comparing as float32. As on a node, NaN gets code 0
        (it compares false with every threshold), ``-inf`` code 0 and ``+inf``
        the highest code; the estimators' ``transform`` refuses them instead.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Readings; compared as float32.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
            uint8 when every width is at most 8 bits, else uint16.
        """
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}), got {X.shape}."
            )
        if self._encoder is None:
            self._encoder = BucketEncoder(self._thresholds, self._n_bits)
        return self._encoder(X)

    def pack(self, codes: ArrayLike) -> NDArray[np.uint8]:
        """Wire format v1 bytes of integer codes.

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Codes in range for their widths (checked).

        Returns
        -------
        packed : ndarray of shape (n_samples, ``bytes_per_row``), dtype uint8
        """
        return _packing.pack(codes, self._n_bits)

    def transform(self, X: ArrayLike) -> NDArray[np.uint8]:
        """The bytes a node sends for readings ``X``: ``pack(encode(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Readings.

        Returns
        -------
        packed : ndarray of shape (n_samples, ``bytes_per_row``), dtype uint8
        """
        # encode's codes are in range by construction: no second range check
        return _packing.pack_in_range(self.encode(X), self._n_bits)

    # ---------------------------------------------------------- server side
    def unpack(self, packed: ArrayLike) -> NDArray[np.unsignedinteger]:
        """Integer codes from packed rows.

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, ``bytes_per_row``), or bytes
            Rows in wire format v1 (as bytes: rows back to back); padding bits
            must be zero (checked).

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
        """
        return _packing.unpack(packed, self._n_bits)

    def check_codes(self, codes: ArrayLike) -> NDArray:
        """Codes from a caller, checked: shape, integer type and range.

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Codes to check.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
            The same codes, as an integer array.
        """
        return _packing.check_codes(codes, self._n_bits)

    def values(self, codes: NDArray) -> NDArray[np.float64]:
        """The representative reading of every code.

        Parameters
        ----------
        codes : ndarray of int, shape (n_samples, n_features)
            Checked codes (see ``check_codes``).

        Returns
        -------
        values : ndarray of shape (n_samples, n_features)
            ``bin_values[j][codes[:, j]]`` for every feature ``j``.
        """
        columns = [v[codes[:, j]] for j, v in enumerate(self._bin_values)]
        return np.stack(columns, axis=1) if columns else np.empty((len(codes), 0))

    def inverse_transform(self, packed: ArrayLike) -> NDArray[np.float64]:
        """Representative readings for packed rows: ``values(unpack(packed))``.

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, ``bytes_per_row``), or bytes
            Rows in wire format v1 (as bytes: rows back to back).

        Returns
        -------
        values : ndarray of shape (n_samples, n_features)
        """
        return self.values(self.unpack(packed))

    # ------------------------------------------------- message format v2
    def _range_coder(self) -> RangeCoder:
        if self._tables is None:
            raise ValueError(
                "this codec has no code tables, so it cannot write or read "
                "range-coded messages (format v2): its model was saved before "
                "they were part of one, or it was built without code_tables. "
                "Refit the model (or build the codec with Codec.from_readings), "
                "or send wire format v1 (transform)."
            )
        if self._coder is None:
            self._coder = RangeCoder(self._n_bits, self._tables)
        return self._coder

    def compress_codes(self, codes: ArrayLike) -> list[bytes]:
        """Message format v2: one range-coded message per row of codes.

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Codes in range for their widths (checked).

        Returns
        -------
        messages : list of bytes
            One message per row, never longer than ``bytes_per_row``.
        """
        coder = self._range_coder()
        return coder.compress(self.check_codes(codes))

    def compress(self, X: ArrayLike) -> list[bytes]:
        """The messages a node sends for readings ``X`` in format v2:
        ``compress_codes(encode(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Readings.

        Returns
        -------
        messages : list of bytes
        """
        coder = self._range_coder()
        return coder.compress(self.encode(X))

    def decompress(self, messages: Sequence[bytes]) -> NDArray[np.unsignedinteger]:
        """Codes of format v2 messages (damaged ones raise ValueError).

        Parameters
        ----------
        messages : sequence of bytes
            One message per row, as ``compress`` writes them.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
        """
        coder = self._range_coder()
        return coder.decompress(_check_messages(messages))

    def message_bits(self, codes: ArrayLike) -> NDArray[np.int64]:
        """Bits of every row's format v2 message (8 times its length).

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)

        Returns
        -------
        bits : ndarray of shape (n_samples,)
        """
        return self._range_coder().message_bits(self.check_codes(codes))


def _check_training_readings(X, sample_weight):
    """``from_readings``'s inputs: a bin value or a code table learned from
    NaN, no rows or misshapen weights would be garbage on every node."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(
            f"X must be training readings of shape (n_samples, n_features) with "
            f"at least one row, got shape {X.shape}."
        )
    if not np.isfinite(X).all():
        raise ValueError(
            "X contains NaN or infinity; bin values and code tables are learned "
            "from finite readings only: drop or impute those rows first."
        )
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (len(X),):
            raise ValueError(
                f"sample_weight must have shape ({len(X)},), one weight per row "
                f"of X, got {sample_weight.shape}."
            )
        if not np.isfinite(sample_weight).all() or (sample_weight < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")
    return X, sample_weight


def _check_messages(messages) -> list[bytes]:
    """A list of ``bytes``-like messages; TypeError naming what is not."""
    if isinstance(messages, (bytes, bytearray, memoryview, str)) or not hasattr(
        messages, "__iter__"
    ):
        raise TypeError(
            "messages must be a sequence of bytes objects, one per row (as "
            f"compress returns them), got {type(messages).__name__}; wrap a "
            "single message in a list."
        )
    checked = list(messages)
    for i, m in enumerate(checked):
        if type(m) is not bytes:  # the common case costs one test per message
            if not isinstance(m, (bytearray, memoryview)):
                raise TypeError(
                    f"message {i} is a {type(m).__name__}, not bytes; pass the "
                    "messages compress returned."
                )
            checked[i] = bytes(m)
    return checked
