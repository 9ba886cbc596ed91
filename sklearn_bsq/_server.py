"""The server side of a fitted quantizer: packed bytes to codes (the codec's
work), and predictions from codes or bytes alone (:class:`NetworkServer`: the
network rebuilds its input from the codes)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._mlp_estimator import has_predict_proba
from ._network import PREDICT_BATCH_ROWS, log_probabilities, softmax_probabilities
from ._target import FittedTarget
from ._threads import threads_for, torch_threads


class NetworkServer:
    """Predictions from checked codes: the trained module, straight through
    in bounded batches (no skorch data loader; the first layer runs from
    lookup tables, see ``_first_layer``), its outputs mapped by the target.
    Memory stays at the codes, the outputs and one batch of activations.
    ``n_threads``: the estimator's parameter, turned into torch threads for
    each call's rows (``_threads.threads_for``)."""

    def __init__(
        self, module, target: FittedTarget, batch_rows: int, n_threads="auto"
    ) -> None:
        self.module = module
        self.target = target
        self.batch_rows = max(batch_rows, PREDICT_BATCH_ROWS)
        self.n_threads = n_threads

    def outputs(self, codes: np.ndarray) -> np.ndarray:
        """Network outputs: logits, or the standardized regression value."""
        n = len(codes)
        shape = (n, self.target.n_outputs) if self.target.classification else (n,)
        out = np.empty(shape, dtype=np.float32)
        device = next(self.module.parameters()).device
        batch = self.batch_rows
        threads = threads_for(self.n_threads, "predict", rows=n)
        with torch.inference_mode(), torch_threads(threads):
            for start in range(0, n, batch):
                chunk = torch.as_tensor(
                    codes[start : start + batch].astype(np.int64), device=device
                )
                out[start : start + batch] = self.module(codes=chunk).cpu().numpy()
        return out

    def predict(self, codes: np.ndarray) -> np.ndarray:
        return self.target.predictions(self.outputs(codes))

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        return softmax_probabilities(self.outputs(codes))

    def predict_log_proba(self, codes: np.ndarray) -> np.ndarray:
        return log_probabilities(self.outputs(codes))


class ServerSideMixin:
    """``decode``, ``inverse_transform`` and the ``predict*`` methods for an
    estimator with a fitted ``codec_``, ``target_`` and ``net_``.

    Every prediction goes through the codes: ``predict(X)`` is
    ``predict_codes(encode(X))``, so it equals what a server computes from
    ``transform(X)`` exactly.
    """

    def decode(self, packed):
        """Integer codes from packed bytes (the inverse of ``transform``'s packing).

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, ``bytes_per_row_``), or bytes
            Rows as ``transform`` writes them; one row may be given as a 1-D
            array, and rows as a node sends them as ``bytes`` (or a bytearray
            or memoryview): one or more rows back to back. The padding bits
            must be zero.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)

        Examples
        --------
        What the server decodes is what the node encoded, also with a width
        per feature:

        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_bsq import SoftQuantizerRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> widths = [4, 4, 4, 2, 2, 2, 2, 2, 4, 2]  # 28 bits: 4 bytes per row
        >>> reg = SoftQuantizerRegressor(widths, max_epochs=2, random_state=0)
        >>> codes = reg.fit(X, y).decode(reg.transform(X))
        >>> bool((codes == reg.encode(X)).all())
        True
        """
        check_is_fitted(self)
        return self.codec_.unpack(packed)

    def inverse_transform(self, packed):
        """A representative reading for every transmitted code, in raw units.

        The value for a code is the mean of the training readings that fell into
        that interval (the midpoint of its thresholds when none did).

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, ``bytes_per_row_``), or bytes
            As for ``decode``: an array of rows, or rows back to back as bytes.

        Returns
        -------
        X_approx : ndarray of shape (n_samples, n_features), dtype float64

        Examples
        --------
        With 16 levels per feature (4 bits), the representatives lie close to the
        readings:

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(4, max_epochs=2, random_state=0).fit(X, y)
        >>> X_approx = clf.inverse_transform(clf.transform(X))
        >>> bool(abs(X_approx - X).mean() < 0.2)  # 16 levels per feature
        True
        """
        check_is_fitted(self)
        return self.codec_.inverse_transform(packed)

    def predict_codes(self, codes):
        """Predict from integer codes (as returned by ``encode`` or ``decode``).

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Code ``codes[i, j]`` in ``0 .. 2**n_bits_[j] - 1``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            One class label (classification) or one value in the target's
            units (regression) per row of codes.

        Examples
        --------
        The codes need not come from readings: here, one hand-made row.

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict_codes([[0, 3, 0, 0]]).shape
        (1,)
        """
        return self._server().predict(self._checked(codes))

    @available_if(has_predict_proba)
    def predict_proba_codes(self, codes):
        """Class probabilities from integer codes.

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Codes as ``encode`` or ``decode`` return them, each within its
            feature's width.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the network's outputs; column ``k`` is the probability
            of ``classes_[k]``.

        Examples
        --------
        Probabilities for a hand-made row of codes sum to 1:

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> round(float(clf.predict_proba_codes([[0, 3, 0, 0]]).sum()), 6)
        1.0
        """
        return self._server().predict_proba(self._checked(codes))

    def predict_packed(self, packed):
        """Predict from the packed bytes alone (what the server receives).

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, ``bytes_per_row_``), or bytes
            As for ``decode``: an array of rows, or rows back to back as bytes.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Equal to ``predict(X)`` for ``packed = transform(X)``, exactly.

        Examples
        --------
        A regressor predicts the same from the bytes as from the readings.

        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_bsq import SoftQuantizerRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> reg = SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, y)
        >>> bool((reg.predict_packed(reg.transform(X)) == reg.predict(X)).all())
        True

        The bytes a node sent, as they arrive (here two rows back to back):

        >>> message = reg.transform(X[:2]).tobytes()
        >>> bool((reg.predict_packed(message) == reg.predict(X[:2])).all())
        True
        """
        return self._server().predict(self.decode(packed))

    @available_if(has_predict_proba)
    def predict_proba_packed(self, packed):
        """Class probabilities from the packed bytes alone (what the server
        receives).

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, ``bytes_per_row_``), or bytes
            As for ``decode``: an array of rows, or rows back to back as bytes.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Equal to ``predict_proba(X)`` for ``packed = transform(X)``.

        Examples
        --------
        One row of probabilities per packed row, one column per class (``classes_``):

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict_proba_packed(clf.transform(X[:4])).shape
        (4, 3)
        """
        return self._server().predict_proba(self.decode(packed))

    def decompress(self, messages):
        """Integer codes from format v2 messages (the inverse of ``compress``).

        Parameters
        ----------
        messages : sequence of bytes
            One message per row, as ``compress`` returns them (a message's
            length is part of it).

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)

        Raises
        ------
        ValueError
            For a message this model does not send: longer than
            ``bytes_per_row_``, not decodable, or not the bytes its decoded
            codes give (a message cut short is always refused). Damage that
            turns a message into another row's message cannot be seen (the
            format has no checksum).

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_bsq import SoftQuantizerRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> reg = SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, y)
        >>> bool((reg.decompress(reg.compress(X)) == reg.encode(X)).all())
        True
        """
        check_is_fitted(self)
        return self.codec_.decompress(messages)

    def predict_compressed(self, messages):
        """Predict from format v2 messages alone (``compress``'s output).

        Parameters
        ----------
        messages : sequence of bytes
            One message per row.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Equal to ``predict(X)`` for ``messages = compress(X)``, exactly.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_bsq import SoftQuantizerRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> reg = SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, y)
        >>> bool((reg.predict_compressed(reg.compress(X)) == reg.predict(X)).all())
        True
        """
        return self._server().predict(self.decompress(messages))

    @available_if(has_predict_proba)
    def predict_proba_compressed(self, messages):
        """Class probabilities from format v2 messages alone.

        Parameters
        ----------
        messages : sequence of bytes
            One message per row, as ``compress`` returns them.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Equal to ``predict_proba(X)`` for ``messages = compress(X)``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict_proba_compressed(clf.compress(X[:4])).shape
        (4, 3)
        """
        return self._server().predict_proba(self.decompress(messages))

    def predict(self, X):
        """Predict through the hard quantizer: exactly what the server computes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Class labels or regression values in the target's units.

        Examples
        --------
        One label per row, as the classes were given to ``fit``:

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict(X[:3]).shape
        (3,)
        """
        return self._server().predict(self.encode(X))

    @available_if(has_predict_proba)
    def predict_proba(self, X):
        """Class probabilities through the hard quantizer.

        Equal to ``predict_proba_packed(transform(X))``, exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.

        Examples
        --------
        Probabilities through the hard quantizer, for two flowers:

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict_proba(X[:2]).shape
        (2, 3)
        """
        return self._server().predict_proba(self.encode(X))

    @available_if(has_predict_proba)
    def predict_log_proba(self, X):
        """Logarithms of the class probabilities, through the hard quantizer.

        Computed from the network's outputs, so finite where ``predict_proba``
        rounds a probability to 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=2, random_state=0).fit(X, y)
        >>> bool(np.allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X)))
        True
        """
        return self._server().predict_log_proba(self.encode(X))

    def _checked(self, codes) -> np.ndarray:
        """Codes from the caller: shape, integer type and range checked (codes
        from ``encode`` and ``decode`` are valid by construction and skip this
        pass over the data)."""
        check_is_fitted(self)
        return self.codec_.check_codes(codes)

    def _server(self) -> NetworkServer:
        check_is_fitted(self)
        return NetworkServer(
            self.net_.module_, self.target_, self.batch_size, self.n_threads
        )
