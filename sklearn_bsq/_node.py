"""The node side of a fitted quantizer: readings to codes to packed bytes, what
a sensor node computes (the exported C and Python encoders give the same bytes).
The work is the codec's (``codec_``); this is its scikit-learn surface."""

from __future__ import annotations

from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._validation import check_readings


class NodeSideMixin(TransformerMixin):
    """``encode`` and ``transform`` (a scikit-learn transformer, with
    ``set_output``) for an estimator with a fitted ``codec_``."""

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
