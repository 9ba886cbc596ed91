"""Rates next to scores in a search: scorers for the bits a sample costs.

``GridSearchCV(..., scoring=rate_scoring(), refit="score")`` records
``mean_test_bits_per_sample`` (wire format v1), ``mean_test_message_bits_per_sample``
(format v2 messages of the test rows) and ``mean_test_compression_ratio`` beside
``mean_test_score``; :class:`~sklearn_bsq.RateAccuracyDisplay` reads them.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import get_scorer
from sklearn.utils.validation import check_is_fitted

from ._validation import final_step

__all__ = [
    "bits_per_sample",
    "compression_ratio",
    "message_bits_per_sample",
    "rate_scoring",
]


def _quantizer(estimator):
    """The SoftQuantizer itself, or the last step of a Pipeline."""
    final, _ = final_step(estimator)
    if not hasattr(final, "bytes_per_row_"):
        if hasattr(type(final), "bytes_per_row_"):
            check_is_fitted(final)  # a SoftQuantizer not fitted yet
        raise TypeError(
            f"rate scorers need a fitted SoftQuantizer (or a Pipeline ending in one), "
            f"got {type(final).__name__}."
        )
    return final


def bits_per_sample(estimator, X=None, y=None) -> float:
    """Bits one packed sample takes (whole bytes): a scorer ``(estimator, X, y)``.

    Parameters
    ----------
    estimator : fitted SoftQuantizer, or a Pipeline ending in one
    X, y : ignored
        For the scorer signature.

    Returns
    -------
    bits : float
        ``8 * bytes_per_row_``.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn_bsq import SoftQuantizerClassifier, bits_per_sample
    >>> X, y = load_wine(return_X_y=True)  # 13 features
    >>> bits_per_sample(SoftQuantizerClassifier(3, max_epochs=1).fit(X, y))
    40.0
    """
    return float(8 * _quantizer(estimator).bytes_per_row_)


def message_bits_per_sample(estimator, X, y=None) -> float:
    """Mean bits of the format v2 messages of ``X``'s rows: a scorer.

    Unlike :func:`bits_per_sample` it depends on the rows: common codes cost
    less, so it measures the rate on the rows scored (held-out in a search).

    Parameters
    ----------
    estimator : fitted SoftQuantizer, or a Pipeline ending in one
        The steps before the quantizer transform ``X`` first.
    X : array-like of shape (n_samples, n_features)
        Readings.
    y : ignored

    Returns
    -------
    bits : float
        ``8 *`` the mean length of ``compress(X)``'s messages.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn_bsq import SoftQuantizerClassifier, message_bits_per_sample
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = SoftQuantizerClassifier(3, max_epochs=1, random_state=0).fit(X, y)
    >>> message_bits_per_sample(clf, X) <= 40.0  # never more than v1
    True
    """
    quantizer = _quantizer(estimator)
    if X is None:
        raise ValueError(
            "message_bits_per_sample measures the messages of rows X; pass the "
            "readings (bits_per_sample needs none)."
        )
    messages = quantizer.compress(final_step(estimator, X)[1])
    return float(8 * np.mean([len(m) for m in messages])) if messages else 0.0


def compression_ratio(estimator, X=None, y=None) -> float:
    """float32 size of a sample over its packed size: a scorer.

    Parameters
    ----------
    estimator : fitted SoftQuantizer, or a Pipeline ending in one
    X, y : ignored

    Returns
    -------
    ratio : float
        ``compression_ratio_``.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn_bsq import SoftQuantizerClassifier, compression_ratio
    >>> X, y = load_wine(return_X_y=True)  # 13 float32 readings: 52 bytes
    >>> compression_ratio(SoftQuantizerClassifier(3, max_epochs=1).fit(X, y))
    10.4
    """
    return float(_quantizer(estimator).compression_ratio_)


def rate_scoring(score=None) -> dict:
    """Multi-metric ``scoring`` for a search: the estimator's score (or the
    scorer ``score``) under "score", and the two rates beside it. Use it with
    ``refit="score"``.

    Parameters
    ----------
    score : str or callable, optional
        A scikit-learn scorer name such as "accuracy"; default: the estimator's
        ``score`` method (accuracy or R²).

    Returns
    -------
    scoring : dict
        ``{"score": ..., "bits_per_sample": ..., "message_bits_per_sample": ...,
        "compression_ratio": ...}``.

    Examples
    --------
    Iris has 4 features: 1 bit each fits one byte, 4 bits each take two.

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_bsq import SoftQuantizerClassifier, rate_scoring
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(
    ...     SoftQuantizerClassifier(max_epochs=2, random_state=0),
    ...     {"n_bits": [1, 4]}, scoring=rate_scoring(), refit="score", cv=2,
    ... ).fit(X, y)
    >>> search.cv_results_["mean_test_bits_per_sample"].tolist()
    [8.0, 16.0]
    """
    if isinstance(score, str):
        get_scorer(score)  # an unknown name fails here, not in every fold
    elif score is not None and not callable(score):
        raise TypeError(
            f"score must be a scikit-learn scorer name such as 'accuracy', a "
            f"callable scorer(estimator, X, y) or None, got {score!r}."
        )
    return {
        "score": _estimator_score if score is None else score,
        "bits_per_sample": bits_per_sample,
        "message_bits_per_sample": message_bits_per_sample,
        "compression_ratio": compression_ratio,
    }


def _estimator_score(estimator, X, y) -> float:
    return estimator.score(X, y)
