"""``FullPrecisionMLP``: the same MLP on float32 features, the reference to beat."""

from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseMLPEstimator, has_predict_proba
from ._module import FullPrecisionMLP as _FullPrecisionModule
from ._targets import standardization


class FullPrecisionMLP(BaseMLPEstimator):
    """The MLP of :class:`SoftQuantizer` without the quantizer (float32 inputs).

    Same standardization, architecture, optimizer and training loop, so the
    difference in score is the price of quantization alone.

    Parameters
    ----------
    task : {"auto", "classification", "regression"}, default="auto"
    hidden_layer_sizes : tuple of int, default=(256, 256)
    max_epochs : int, default=40
    batch_size : int, default=256
    lr : float, default=3e-3
    weight_decay : float, default=1e-4
    dropout : float, default=0.1
    lr_schedule : {"cosine", "constant"}, default="cosine"
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import FullPrecisionMLP
    >>> X, y = load_iris(return_X_y=True)
    >>> FullPrecisionMLP(max_epochs=30, random_state=0).fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **BaseMLPEstimator._parameter_constraints,
        **BaseMLPEstimator._task_constraint,
    }

    def __init__(
        self,
        *,
        task="auto",
        hidden_layer_sizes=(256, 256),
        max_epochs=40,
        batch_size=256,
        lr=3e-3,
        weight_decay=1e-4,
        dropout=0.1,
        lr_schedule="cosine",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
    ):
        self.task = task
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the MLP on standardized float32 features."""
        return self._fit_or_forget(X, y)

    def _fit(self, X, y):
        hidden = self._check_hidden_layer_sizes()
        X, y = validate_data(self, X, y, dtype=np.float32)
        target = self._prepare_target(y)
        self.feature_mean_, self.feature_scale_ = standardization(X)

        def build_module():
            return _FullPrecisionModule(
                X.shape[1], hidden, self._n_outputs(), self.dropout
            )

        self._fit_network(self._standardize(X), target, build_module)
        return self

    def _standardize(self, X):
        return ((X - self.feature_mean_) / self.feature_scale_).astype(np.float32)

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self.net_.forward(self._standardize(X)).numpy()

    def predict(self, X):
        """Class labels or regression values in the target's units."""
        return self._predictions(self._outputs(X))

    @available_if(has_predict_proba)
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        return self._probabilities(self._outputs(X))
