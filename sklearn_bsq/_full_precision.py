"""``FullPrecisionMLP``: the same MLP on float32 features, the reference to beat."""

from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docs import NETWORK_PARAMETERS, TASK_DOC, parameters_doc
from ._memory import NETWORK_FIX, check_training_memory, network_bytes
from ._mlp_estimator import (
    BaseMLPEstimator,
    configured_task,
    extends,
    fit_from_scratch,
    has_predict_proba,
)
from ._network import PlainMLP, log_probabilities, softmax_probabilities
from ._standardization import fit_standardization, standardize
from ._target import FittedTarget, resolve_task
from ._threads import threads_for, torch_threads, uses_threads
from ._training import TrainingSetup, draw_seed
from ._validation import check_hidden_layer_sizes, check_sample_weight


class _BaseFullPrecisionMLP(BaseMLPEstimator):
    """Shared implementation; see :class:`FullPrecisionMLP`."""

    @_fit_context(prefer_skip_nested_validation=True)
    @uses_threads("fit")
    def fit(self, X, y, sample_weight=None):
        """Train the MLP on standardized float32 features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features, cast to float32 and standardized with their
            training mean and standard deviation.
        y : array-like of shape (n_samples,)
            Class labels or a numeric regression target.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss and in the standardization; see
            :meth:`SoftQuantizer.fit`.

        Returns
        -------
        self : FullPrecisionMLP
            Fitted: ``net_``, ``feature_mean_`` and ``feature_scale_`` set, and
            ``classes_`` or the target's scale.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_bsq import FullPrecisionMLP
        >>> X, y = load_diabetes(return_X_y=True)
        >>> mlp = FullPrecisionMLP(task="regression", max_epochs=2, random_state=0)
        >>> mlp.fit(X, y).task_
        'regression'
        """
        return fit_from_scratch(self, lambda: self._fit(X, y, sample_weight))

    def _fit(self, X, y, sample_weight=None):
        hidden = check_hidden_layer_sizes(self.hidden_layer_sizes)
        X, y = validate_data(self, X, y, dtype=np.float32)
        weights = check_sample_weight(sample_weight, X, rescale=True)
        task = resolve_task(configured_task(self), y)
        target, y_train = FittedTarget.fit(task, y, weights)
        mean, scale = fit_standardization(X, weights)

        def build_module():
            return PlainMLP(
                X.shape[1],
                hidden,
                target.n_outputs,
                dropout=self.dropout,
                n_heads=self.n_heads,
                classification=target.classification,
            )

        needed = network_bytes(
            X.shape[1], hidden, self.n_heads, target.n_outputs, self.batch_size
        )
        check_training_memory(needed, "this network", NETWORK_FIX)
        n_classes = target.n_outputs if target.classification else None
        setup = TrainingSetup.for_estimator(self, n_classes, n_rows=len(X))
        validation = self.validation_fraction if self.early_stopping else None
        self.net_ = setup.fit(
            build_module,
            standardize(X, mean, scale),
            y_train,
            seed=draw_seed(self.random_state),
            validation_fraction=validation,
            sample_weight=weights,
        )
        self.target_, self.feature_mean_, self.feature_scale_ = target, mean, scale
        return self

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        X_std = standardize(X, self.feature_mean_, self.feature_scale_)
        threads = threads_for(self.n_threads, "predict", rows=len(X_std))
        with torch_threads(threads):
            return self.net_.forward(X_std).numpy()

    def predict(self, X):
        """Class labels or regression values in the target's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, standardized as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)

        Examples
        --------
        Regression predictions come back in the target's units:

        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn_bsq import FullPrecisionMLP
        >>> X, y = load_diabetes(return_X_y=True)
        >>> mlp = FullPrecisionMLP(task="regression", max_epochs=30, random_state=0)
        >>> bool(50 < mlp.fit(X, y).predict(X).mean() < 250)  # y: 25 to 346
        True
        """
        outputs = self._outputs(X)  # checks that the estimator is fitted
        return self.target_.predictions(outputs)

    @available_if(has_predict_proba)
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, as for ``predict``: the columns seen in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)

        Examples
        --------
        >>> from sklearn.datasets import load_wine
        >>> from sklearn_bsq import FullPrecisionMLP
        >>> X, y = load_wine(return_X_y=True)
        >>> mlp = FullPrecisionMLP(max_epochs=2, random_state=0).fit(X, y)
        >>> mlp.predict_proba(X[:2]).shape  # three cultivars
        (2, 3)
        """
        return softmax_probabilities(self._outputs(X))

    @available_if(has_predict_proba)
    def predict_log_proba(self, X):
        """Logarithms of the class probabilities, from the network's outputs
        (finite where ``predict_proba`` rounds a probability to 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_wine
        >>> from sklearn_bsq import FullPrecisionMLP
        >>> X, y = load_wine(return_X_y=True)
        >>> mlp = FullPrecisionMLP(max_epochs=2, random_state=0).fit(X, y)
        >>> bool(np.allclose(np.exp(mlp.predict_log_proba(X)), mlp.predict_proba(X)))
        True
        """
        return log_probabilities(self._outputs(X))


class FullPrecisionMLP(_BaseFullPrecisionMLP):
    __doc__ = (
        """The MLP of :class:`SoftQuantizer` without the quantizer (float32 inputs).

    Same standardization, architecture, optimizer and training loop, so the
    difference in score is the price of quantization alone. With
    ``task="auto"`` scikit-learn cannot tell a classifier from a regressor
    (``cross_val_score`` then splits without stratifying): use
    :class:`FullPrecisionMLPClassifier` or :class:`FullPrecisionMLPRegressor`, or
    give the task, where that matters.

"""
        + parameters_doc(("task", *NETWORK_PARAMETERS), task=TASK_DOC)
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import FullPrecisionMLP
    >>> X, y = load_iris(return_X_y=True)
    >>> FullPrecisionMLP(max_epochs=30, random_state=0).fit(X, y).score(X, y) > 0.9
    True
    """
    )

    _parameter_constraints: dict = {
        **BaseMLPEstimator._parameter_constraints,
        **BaseMLPEstimator.task_constraint,
    }

    @extends(BaseMLPEstimator.__init__)
    def __init__(self, *, task="auto", **inherited):
        super().__init__(**inherited)
        self.task = task


class FullPrecisionMLPClassifier(_BaseFullPrecisionMLP):
    __doc__ = (
        """:class:`FullPrecisionMLP` for classification: a scikit-learn classifier.

    ``score`` is accuracy; ``cross_val_score`` and ``GridSearchCV`` stratify
    their folds. The parameters are those of :class:`FullPrecisionMLP` but
    ``task``.
"""
        + parameters_doc(NETWORK_PARAMETERS)
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn_bsq import FullPrecisionMLPClassifier
    >>> X, y = load_wine(return_X_y=True)  # sorted by class
    >>> mlp = FullPrecisionMLPClassifier(max_epochs=30, random_state=0)
    >>> bool(cross_val_score(mlp, X, y, cv=3).min() > 0.8)
    True
    """
    )

    fixed_task = "classification"


class FullPrecisionMLPRegressor(_BaseFullPrecisionMLP):
    __doc__ = (
        """:class:`FullPrecisionMLP` for regression: a scikit-learn regressor.

    ``score`` is R²; predictions come back in the target's units. The
    parameters are those of :class:`FullPrecisionMLP` but ``task``.
"""
        + parameters_doc(NETWORK_PARAMETERS)
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn_bsq import FullPrecisionMLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> mlp = FullPrecisionMLPRegressor(max_epochs=30, random_state=0)
    >>> mlp.fit(X, y).score(X, y) > 0.3
    True
    """
    )

    fixed_task = "regression"
