"""``SoftQuantizer`` and its fixed-task forms: the scikit-learn surface (fit,
transform, predict on codes or bytes) over the quantizer, the wire format and
the shared MLP training."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _packing
from ._allocation import allocate_bits
from ._docs import NOTES_DOC, PARAMETERS_DOC, estimator_doc
from ._encoding import bin_representatives, model_id
from ._fitted_state import FittedState, InMemoryTensors
from ._incremental import IncrementalMixin
from ._mlp_estimator import BaseMLPEstimator, extends, store_arguments
from ._network import QuantizedMLP, load_network
from ._node import NodeSideMixin
from ._quantizers import QUANTIZERS, REPRESENTATIONS, build_quantizer
from ._server import ServerSideMixin
from ._threshold_init import THRESHOLD_INITS, initial_thresholds
from ._validation import (
    check_bit_budget,
    check_n_bits,
    check_readings,
    check_sample_weight,
    check_steepness,
    learns_widths,
)


class _BaseSoftQuantizer(
    IncrementalMixin,
    NodeSideMixin,
    ServerSideMixin,
    ClassNamePrefixFeaturesOutMixin,
    BaseMLPEstimator,
):
    """Shared implementation; see :class:`SoftQuantizer` for the documentation."""

    _parameter_constraints: dict = {
        **BaseMLPEstimator._parameter_constraints,
        "n_bits": [
            Interval(Integral, 1, 16, closed="both"),
            "array-like",
            StrOptions({"auto"}),
        ],
        "bit_budget": [Interval(Integral, 1, None, closed="left"), None],
        "representation": [StrOptions(set(REPRESENTATIONS))],
        # a live view: quantizers registered later are accepted too
        "quantizer": [StrOptions(QUANTIZERS.keys())],
        "threshold_init": [StrOptions(set(THRESHOLD_INITS))],
        "steepness": [tuple, list],
        "threshold_lr": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
            None,
        ],
    }

    @extends(BaseMLPEstimator.__init__)
    def __init__(
        self,
        n_bits=4,
        *,
        bit_budget=None,
        representation="auto",
        quantizer="soft",
        threshold_init="quantile",
        threshold_lr="auto",
        steepness=(4.0, 256.0),
        **inherited,
    ):
        super().__init__(**inherited)
        store_arguments(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the thresholds and the network jointly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric readings; compared as float32, as a device would.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type) or a numeric regression target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, as if the row were repeated that
            many times: it multiplies the row's loss and weighs the
            standardization, the initial quantiles, the bit allocation
            (``n_bits="auto"``) and ``bin_values_``. Only the ratios matter
            (weights are rescaled to mean 1), equal weights fit exactly as none,
            and rows of weight 0 take no part.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        Widths per feature: 4 bits for the petals, 1 bit for the sepals.

        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftQuantizerClassifier([1, 1, 4, 4], max_epochs=2, random_state=0)
        >>> [len(t) for t in clf.fit(X, y).thresholds_]
        [1, 1, 15, 15]

        Weights for an imbalanced target: each class weighs as much in all.

        >>> from sklearn.utils.class_weight import compute_sample_weight
        >>> weights = compute_sample_weight("balanced", y)
        >>> clf.fit(X, y, sample_weight=weights).bytes_per_row_
        2
        """
        return self._fit_or_forget(X, y, lambda X, y: self._fit(X, y, sample_weight))

    def _fit(self, X, y, sample_weight=None):
        steepness = check_steepness(self.steepness)
        hidden = self._check_hidden_layer_sizes()
        budget = check_bit_budget(self.n_bits, self.bit_budget)
        X, y = check_readings(self, X, y, reset=True)
        weights = check_sample_weight(sample_weight, X, rescale=True)
        if budget is None:
            self.n_bits_ = check_n_bits(self.n_bits, X.shape[1])
        target = self._prepare_target(y, weights)
        X_std = self._fit_standardization(X, weights)
        setup = self._training_setup(steepness, self.threshold_lr, len(X))
        if budget is not None:
            self.n_bits_, self.allocation_trace_ = allocate_bits(
                X_std,
                target.y,
                budget,
                build_module=lambda init, rep: self._build_module(init, hidden, rep),
                representation=self.representation,
                setup=setup,
                seed=self._draw_seed(),
                threshold_init=self.threshold_init,
                validation_fraction=self.validation_fraction,
                early_stopping=self.early_stopping,
                log=print if self.verbose else None,
                sample_weight=weights,
            )
        init = [
            initial_thresholds(
                X_std[:, j], 2 ** int(b) - 1, self.threshold_init, weights
            )
            for j, b in enumerate(self.n_bits_)
        ]
        self._fit_network(
            X_std, target, lambda: self._build_module(init, hidden), setup, weights
        )
        self._set_trained_attributes(X, weights)
        return self

    def _set_trained_attributes(self, X, sample_weight=None) -> None:
        """What follows from the trained network: the representation "auto"
        chose, the raw thresholds, the sizes and the bin values on ``X``."""
        quantizer = self.net_.module_.quantizer
        self.representation_ = getattr(quantizer, "representation", None)
        self.thresholds_ = self._raw_thresholds()
        self._set_sizes()
        codes = self._encoder()(X)
        self.bin_values_ = bin_representatives(
            X, codes, self.thresholds_, sample_weight
        )

    def _build_module(self, init_thresholds, hidden, representation=None):
        """Quantizer + MLP for these initial (standardized) thresholds; features
        without thresholds (width 0) are left out of the quantizer."""
        active = [j for j, t in enumerate(init_thresholds) if len(t)]
        # a fitted (or loaded) model keeps the representation "auto" chose
        representation = (
            representation
            or getattr(self, "representation_", None)
            or self.representation
        )
        quantizer = build_quantizer(
            self.quantizer, [init_thresholds[j] for j in active], representation
        )
        n_features = len(init_thresholds)
        outputs = self._n_outputs()
        return QuantizedMLP(
            quantizer,
            hidden,
            outputs,
            active,
            n_features,
            self.dropout,
            self.n_heads,
            classification=self.task_ == "classification",
        )

    def _raw_thresholds(self) -> list[np.ndarray]:
        """The network's thresholds in the caller's units, as float32 (what a
        node compares with; rounding to float32 keeps them sorted)."""
        learned = iter(self.net_.module_.quantizer.feature_thresholds())
        return [
            (mean + scale * (next(learned) if b else np.empty(0))).astype(np.float32)
            for b, mean, scale in zip(
                self.n_bits_, self.feature_mean_, self.feature_scale_, strict=True
            )
        ]

    def _set_sizes(self) -> None:
        """Sizes and the fingerprint, which follow from widths and thresholds."""
        self.model_id_ = model_id(self.n_bits_, self.thresholds_)
        self.bytes_per_row_ = _packing.bytes_per_row(self.n_bits_)
        self.compression_ratio_ = _packing.compression_ratio(self.n_bits_)
        self._n_features_out = self.bytes_per_row_

    def __dask_tokenize__(self):
        """Dask names a task by its inputs: an estimator by its parameters and,
        once fitted, its fitted state (pickles of torch tensors differ between
        calls, so Dask cannot hash the estimator itself)."""
        fitted = self._get_fitted_state().digest() if hasattr(self, "net_") else None
        return type(self).__name__, repr(self.get_params()), fitted

    # --------------------------------------------------- fitted-state contract
    def _get_fitted_state(self) -> FittedState:
        """The fitted estimator as data (see ``_fitted_state``)."""
        check_is_fitted(self)
        module_state = self.net_.module_.state_dict()
        return FittedState(
            n_features_in=int(self.n_features_in_),
            feature_names_in=getattr(self, "feature_names_in_", None),
            task=self.task_,
            classes=getattr(self, "classes_", None),
            target_mean=getattr(self, "target_mean_", None),
            target_scale=getattr(self, "target_scale_", None),
            n_bits=np.asarray(self.n_bits_, dtype=np.int64),
            representation=self.representation_,
            feature_mean=self.feature_mean_,
            feature_scale=self.feature_scale_,
            thresholds=list(self.thresholds_),
            bin_values=list(self.bin_values_),
            allocation_trace=getattr(self, "allocation_trace_", None),
            module_state=InMemoryTensors(module_state),
        )

    def _set_fitted_state(self, state: FittedState) -> None:
        """Make this estimator fitted with ``state``, checked against the
        parameters: a state that contradicts them raises ValueError."""
        widths = _packing.check_bit_widths(state.n_bits, allow_zero=True)
        if not widths.any():
            raise ValueError("n_bits gives every feature 0 bits.")
        if learns_widths(self.n_bits) != (state.allocation_trace is not None):
            raise ValueError("an allocation trace goes with n_bits='auto' only.")
        if not learns_widths(self.n_bits) and not np.array_equal(
            check_n_bits(self.n_bits, len(widths)), widths
        ):
            raise ValueError("the parameter 'n_bits' contradicts the stored widths.")
        self._discard_fitted_state()
        self.n_features_in_, self.n_bits_ = state.n_features_in, widths
        if state.feature_names_in is not None:
            self.feature_names_in_ = state.feature_names_in
        self.task_ = state.task
        self.representation_ = state.representation
        if state.task == "classification":
            self.classes_ = state.classes
        else:
            self.target_mean_, self.target_scale_ = (
                state.target_mean,
                state.target_scale,
            )
        self.feature_mean_, self.feature_scale_ = (
            state.feature_mean,
            state.feature_scale,
        )
        self.thresholds_, self.bin_values_ = state.thresholds, state.bin_values
        if state.allocation_trace is not None:
            self.allocation_trace_ = state.allocation_trace
        self._set_sizes()
        hidden = self._check_hidden_layer_sizes()
        placeholder = [np.arange(2 ** int(b) - 1.0) for b in self.n_bits_]
        module = load_network(
            lambda: self._build_module(placeholder, hidden), state.module_state
        )
        self.net_ = self._training_setup().serve(module)
        learned = iter(self.net_.module_.quantizer.feature_thresholds())
        for b, stored, mean, scale in zip(
            self.n_bits_,
            self.thresholds_,
            self.feature_mean_,
            self.feature_scale_,
            strict=True,
        ):
            if b and not thresholds_agree(stored, next(learned), mean, scale):
                raise ValueError("the stored thresholds do not match the network's.")


class SoftQuantizer(_BaseSoftQuantizer):
    __doc__ = (
        """Trainable bitwise soft quantization of input features, with an MLP.

    Learns, for each feature, thresholds that cut it into ``2**n_bits`` intervals,
    jointly with a downstream MLP (Schrödter et al., arXiv:2603.05172). Training
    uses sigmoid steps of growing steepness; prediction uses hard steps, so the
    network sees exactly what a server can rebuild from the transmitted bytes.

    ``transform`` returns the packed bytes a sensor node sends (wire format v1);
    ``predict_packed`` predicts from them on the server.
"""
        + PARAMETERS_DOC.format(
            task="""task : {"auto", "classification", "regression"}, default="auto"
        "auto" reads the target's type (``sklearn.utils.multiclass.type_of_target``):
        integer or string labels mean classification, non-integer floats mean
        regression. Pass the task explicitly for integer-valued regression
        targets ("auto" warns when whole numbers look like a quantity: more
        than 20 distinct values, fewer than 5 samples each on average); with an
        explicit task the estimator is a scikit-learn classifier or regressor.
    """
        )
        + """
    See Also
    --------
    SoftQuantizerClassifier, SoftQuantizerRegressor : the same with a fixed task.
"""
        + NOTES_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizer
    >>> X, y = load_iris(return_X_y=True)
    >>> sq = SoftQuantizer(n_bits=2, max_epochs=30, random_state=0).fit(X, y)
    >>> sq.transform(X[:2])
    array([[...],
           [...]], dtype=uint8)
    >>> sq.bytes_per_row_, sq.compression_ratio_
    (1, 16.0)
    >>> bool((sq.predict_packed(sq.transform(X)) == sq.predict(X)).all())
    True
    """
    )

    _parameter_constraints: dict = {
        **_BaseSoftQuantizer._parameter_constraints,
        **BaseMLPEstimator._task_constraint,
    }

    @extends(_BaseSoftQuantizer.__init__)
    def __init__(self, n_bits=4, *, task="auto", **inherited):
        super().__init__(n_bits, **inherited)
        self.task = task


class SoftQuantizerClassifier(_BaseSoftQuantizer):
    __doc__ = estimator_doc(
        """:class:`SoftQuantizer` for classification: a scikit-learn classifier.

    ``score`` is accuracy; ``GridSearchCV`` stratifies its folds.
""",
        examples="""\
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizerClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftQuantizerClassifier(n_bits=2, max_epochs=30, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.8
    True
""",
    )

    def _task_param(self) -> str:
        return "classification"


class SoftQuantizerRegressor(_BaseSoftQuantizer):
    __doc__ = estimator_doc(
        """:class:`SoftQuantizer` for regression: a scikit-learn regressor.

    The target is standardized for training; predictions come back in its units.
    ``score`` is R².
""",
        examples="""\
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn_bsq import SoftQuantizerRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = SoftQuantizerRegressor(n_bits=3, max_epochs=30, random_state=0).fit(X, y)
    >>> reg.bytes_per_row_  # 10 features x 3 bits, padded to whole bytes
    4
    >>> reg.score(X, y) > 0.4
    True
""",
    )

    def _task_param(self) -> str:
        return "regression"


def thresholds_agree(stored, learned, mean: float, scale: float) -> bool:
    """Whether a file's raw float32 ``stored`` thresholds are the network's
    ``learned`` (standardized) ones, up to float32 rounding.

    The network's thresholds are a float32 first value plus a running sum of
    softplus gaps; other CPUs (other vector kernels for softplus) round those
    sums differently in the last bit, so an exact comparison refuses genuine
    files on some machines. The stored thresholds are what encodes; this only
    catches a file whose network was trained for other thresholds. The
    tolerance is a few float32 roundings of every term of the sum, in
    standardized units, plus the final rounding to a raw float32.
    """
    stored = np.asarray(stored, dtype=np.float64)
    learned = np.asarray(learned, dtype=np.float64)
    eps = float(np.finfo(np.float32).eps)
    span = np.abs(learned[0]) + (learned[-1] - learned[0])  # |first| + sum of gaps
    tolerance = 16 * eps * (1.0 + span) * scale + np.spacing(np.abs(stored).max())
    implied = mean + scale * learned
    return bool(np.all(np.abs(stored - implied) <= tolerance))
