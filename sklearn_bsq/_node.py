"""The node side of a fitted quantizer: readings to codes to packed bytes (wire
format v1) or range-coded messages (format v2), what a sensor node computes (the
exported C and Python encoders give the same bytes).
The work is the codec's (``codec_``); this is its scikit-learn surface."""

from __future__ import annotations

from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._validation import check_readings


class NodeSideMixin(TransformerMixin):
    """``encode``, ``transform`` (a scikit-learn transformer, with
    ``set_output``) and ``compress`` for an estimator with a fitted ``codec_``."""

    def encode(self, X):
        """Integer code of every reading: the number of thresholds below it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Readings, compared as float32 with the learned thresholds; a
            reading equal to a threshold gets the lower code.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
            dtype uint8 when every width is at most 8 bits, else uint16.
            Readings outside the training range get the first or the last code.

        Examples
        --------
        Codes of the first three flowers, one column per feature:

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> codes = clf.encode(X[:3])
        >>> codes.shape, codes.dtype, bool(codes.max() <= 3)
        ((3, 4), dtype('uint8'), True)
        """
        check_is_fitted(self)
        return self.codec_.encode(check_readings(self, X, reset=False))

    def transform(self, X):
        """Packed bytes a node sends, wire format v1.

        Each row is packed on its own, so rows can be sent one at a time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Readings, as for ``encode``.

        Returns
        -------
        packed : ndarray of shape (n_samples, ``bytes_per_row_``), dtype uint8
            Row ``i`` is the codes of ``X[i]``, most significant bit first,
            concatenated and zero-padded to whole bytes.

        Examples
        --------
        A node packs each row into whole bytes; ``unpack`` reverses it:

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier, unpack
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> packed = clf.transform(X[:5])
        >>> packed.shape  # 4 features x 2 bits = 1 byte per row
        (5, 1)
        >>> bool((unpack(packed, clf.n_bits_) == clf.encode(X[:5])).all())
        True
        """
        check_is_fitted(self)
        return self.codec_.transform(check_readings(self, X, reset=False))

    def compress(self, X):
        """Range-coded messages a node sends, message format v2: one per row.

        Each row's codes are coded with per-feature code frequencies learned
        at fit, so common codes cost fewer bits than their width; a row that
        would not be shorter than its ``transform`` bytes is sent as those
        bytes, so no message is longer than ``bytes_per_row_``. The server
        reads them with ``decompress`` or ``predict_compressed``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Readings, as for ``encode``.

        Returns
        -------
        messages : list of bytes
            One message per row, 0 to ``bytes_per_row_`` bytes long; its length
            is part of the message (the transport must keep it).

        Examples
        --------
        Skewed readings make short messages:

        >>> import numpy as np
        >>> from sklearn_bsq import SoftQuantizerRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.exponential(size=(2000, 8)) ** 3
        >>> y = np.log1p(X).sum(axis=1)
        >>> reg = SoftQuantizerRegressor(4, max_epochs=2, random_state=0).fit(X, y)
        >>> messages = reg.compress(X)
        >>> reg.bytes_per_row_, max(len(m) for m in messages) <= 4
        (4, True)
        >>> bool((reg.decompress(messages) == reg.encode(X)).all())
        True
        """
        check_is_fitted(self)
        return self.codec_.compress(check_readings(self, X, reset=False))
