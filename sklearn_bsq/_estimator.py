"""``SoftQuantizer`` and its fixed-task forms: the scikit-learn surface over the
fitted codec (``codec_``), the trained network (``net_``) and its target.

Validation happens here; training is :class:`QuantizerTraining`'s, the node
side is the codec's (``_node``), predictions are ``_server``'s. A fitted
estimator converts to and from a :class:`FittedState` (persistence, export,
plots) with :func:`fitted_state` and :func:`estimator_from_state`.
"""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, _fit_context
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._docs import (
    NOTES_DOC,
    PARAMETERS_DOC,
    PARTIAL_FIT_DOC,
    TASK_DOC,
    estimator_doc,
    with_docstring,
)
from ._fitted_state import FittedState
from ._generators import RandomStream
from ._mlp_estimator import (
    BaseMLPEstimator,
    configured_task,
    extends,
    fit_from_scratch,
    store_arguments,
)
from ._network import InMemoryTensors, load_network
from ._node import NodeSideMixin
from ._quantizer_training import QuantizerTraining, TrainedQuantizer
from ._quantizers import QUANTIZERS, REPRESENTATIONS
from ._server import ServerSideMixin
from ._target import check_stream_classes
from ._threads import uses_threads
from ._threshold_init import THRESHOLD_INITS
from ._training import draw_seed
from ._validation import (
    ALLOCATIONS,
    LEARNED_MIN_ROWS,
    LEARNED_UP_TO_BITS,
    check_bit_budget,
    check_hidden_layer_sizes,
    check_n_bits,
    check_readings,
    check_sample_weight,
    check_steepness,
    learned_bit_budget,
    learns_widths,
    requires_learned_widths,
)
from ._widths import MAX_BITS, check_bit_widths


def _widths_are_given(estimator) -> bool:
    """``available_if`` check: no ``partial_fit`` where the parameters ask for
    learned widths (``allocation="auto"`` streams at the uniform width)."""
    if requires_learned_widths(estimator.n_bits, estimator.allocation):
        raise AttributeError(
            "partial_fit is not available with n_bits='auto' or "
            "allocation='learned': the widths are learned from all the data at "
            "once; use fit, or give the widths (allocation='auto' or 'uniform')."
        )
    return True


class _BaseSoftQuantizer(
    NodeSideMixin,
    ServerSideMixin,
    ClassNamePrefixFeaturesOutMixin,
    BaseMLPEstimator,
):
    """Shared implementation; see :class:`SoftQuantizer` for the documentation."""

    _parameter_constraints: dict = {
        **BaseMLPEstimator._parameter_constraints,
        "n_bits": [
            Interval(Integral, 1, MAX_BITS, closed="both"),
            "array-like",
            StrOptions({"auto"}),
        ],
        "bit_budget": [Interval(Integral, 1, None, closed="left"), None],
        "allocation": [StrOptions(set(ALLOCATIONS))],
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
        allocation="auto",
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
    @uses_threads("fit")
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
        return fit_from_scratch(self, lambda: self._fit(X, y, sample_weight))

    def _fit(self, X, y, sample_weight):
        training = QuantizerTraining(self, configured_task(self))
        check_bit_budget(self.n_bits, self.bit_budget, self.allocation)
        X, y = check_readings(self, X, y, reset=True)
        weights = check_sample_weight(sample_weight, X, rescale=True)
        budget = learned_bit_budget(
            self.n_bits,
            self.bit_budget,
            self.allocation,
            X.shape[1],
            self.quantizer,
            n_rows=X.shape[0],
        )
        widths = None if budget is not None else check_n_bits(self.n_bits, X.shape[1])
        self._adopt(training.fit(X, y, widths, budget, weights))
        return self

    @available_if(_widths_are_given)
    @_fit_context(prefer_skip_nested_validation=True)
    @uses_threads("fit")
    @with_docstring(PARTIAL_FIT_DOC)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        if not hasattr(self, "net_"):
            return fit_from_scratch(
                self, lambda: self._first_chunk(X, y, classes, sample_weight)
            )
        check_unchanged_since_fit(self)
        check_stream_classes(classes, self.target_.task, self.target_.classes)
        X, y = check_readings(self, X, y, reset=False)
        weights = check_sample_weight(sample_weight, X, rescale=False)
        trained = TrainedQuantizer(
            self.target_,
            self.feature_mean_,
            self.feature_scale_,
            self.codec_,
            self.net_,
            getattr(self, "allocation_trace_", None),
            self._stream_,
        )
        training = QuantizerTraining(self, configured_task(self))
        seed = draw_seed(self.random_state)
        self._adopt(training.next_chunk(trained, X, y, weights, seed))
        return self

    def _first_chunk(self, X, y, classes, sample_weight):
        training = QuantizerTraining(self, configured_task(self))
        X, y = check_readings(self, X, y, reset=True)
        weights = check_sample_weight(sample_weight, X, rescale=False)
        widths = check_n_bits(self.n_bits, X.shape[1])
        self._adopt(training.start_stream(X, y, widths, classes, weights))
        return self

    def _adopt(self, trained: TrainedQuantizer) -> None:
        """Make what training left this estimator's fitted state."""
        self.target_ = trained.target
        self.feature_mean_ = trained.feature_mean
        self.feature_scale_ = trained.feature_scale
        self.codec_ = trained.codec
        self.net_ = trained.net
        self._stream_ = trained.stream
        if trained.allocation_trace is not None:
            self.allocation_trace_ = trained.allocation_trace
        self._fitted_params_ = copy.deepcopy(self.get_params(deep=False))

    # ------------------------------------------------- the codec, read-only
    n_bits_ = property(lambda self: self.codec_.n_bits, doc="Bits per feature.")
    thresholds_ = property(
        lambda self: self.codec_.thresholds, doc="Thresholds per feature (raw)."
    )
    bin_values_ = property(
        lambda self: self.codec_.bin_values, doc="A reading per code and feature."
    )
    representation_ = property(
        lambda self: self.codec_.representation, doc="What the network sees."
    )
    model_id_ = property(lambda self: self.codec_.model_id, doc="The fingerprint.")
    bytes_per_row_ = property(
        lambda self: self.codec_.bytes_per_row, doc="Bytes per packed row."
    )
    compression_ratio_ = property(
        lambda self: self.codec_.compression_ratio, doc="float32 bytes / packed."
    )

    @property
    def mean_message_bits_(self) -> float:
        """Mean bits of a ``compress`` message (format v2) on rows the code
        frequencies were not counted from: ten folds of the training rows,
        each coded with frequencies counted from the other nine in the
        model's contexts. Compare ``8 * bytes_per_row_``, what every
        ``transform`` row costs."""
        estimate = self.codec_.estimated_message_bits
        if estimate is None:
            raise AttributeError(
                "this model was saved without code tables; refit it for "
                "format v2 messages."
            )
        return estimate

    # ClassNamePrefixFeaturesOutMixin: transform's output columns are bytes
    _n_features_out = property(lambda self: self.codec_.bytes_per_row)

    def __dask_tokenize__(self):
        """Dask names a task by its inputs: an estimator by its parameters and,
        once fitted, its fitted state (pickles of torch tensors differ between
        calls, so Dask cannot hash the estimator itself)."""
        fitted = fitted_state(self).digest() if hasattr(self, "net_") else None
        return type(self).__name__, repr(self.get_params()), fitted


def check_parameters(estimator) -> None:
    """Every check of a SoftQuantizer's parameters that needs no data (types
    and ranges, the steepness pair, the hidden layers, the bit budget), as
    ``fit`` makes them: ValueError or TypeError naming the parameter."""
    validate_parameter_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        caller_name=type(estimator).__name__,
    )
    check_steepness(estimator.steepness)
    check_hidden_layer_sizes(estimator.hidden_layer_sizes)
    check_bit_budget(estimator.n_bits, estimator.bit_budget, estimator.allocation)


# What a later partial_fit call may change: how it runs, not what it trains.
# The first call (or fit) built the network, its optimizer and schedules from
# every other parameter; a new value would not take effect, and a file saved
# with it would describe another model (or not load at all).
CHANGEABLE_BETWEEN_CHUNKS = frozenset({"n_threads"})


def check_unchanged_since_fit(estimator) -> None:
    """ValueError when a parameter that the fitted model was built with has
    been changed (``set_params``) before a later ``partial_fit`` call."""
    for name, value in estimator.get_params(deep=False).items():
        fitted = estimator._fitted_params_[name]
        if name not in CHANGEABLE_BETWEEN_CHUNKS and not _same_value(value, fitted):
            raise ValueError(
                f"partial_fit goes on training the model that was built with "
                f"{name}={fitted!r}, but {name} is now {value!r}. Set it back "
                f"(set_params({name}={fitted!r})) to go on, or call fit to train "
                "a new model with the new value."
            )


def _same_value(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return type(a) is type(b) and a == b
    if type(a).__eq__ is object.__eq__:
        # No value to compare (a RandomState): the fitted parameters hold a
        # copy of it, and the estimator's own is drawn from as it trains.
        return type(a) is type(b)
    if np.ndim(a) or np.ndim(b) or isinstance(a, (list, tuple)):
        return np.shape(a) == np.shape(b) and np.array_equal(
            np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        )
    return a == b


# ----------------------------------------------------- fitted-state contract
def fitted_state(estimator, user: str = "this function") -> FittedState:
    """The fitted estimator as data; a clear TypeError for anything but a
    SoftQuantizer passed to ``user`` (a function name), NotFittedError before
    ``fit``."""
    if not isinstance(estimator, _BaseSoftQuantizer):
        check_is_fitted(estimator)  # TypeError for what is not an estimator
        hint = ""
        if hasattr(estimator, "steps") and isinstance(
            estimator[-1], _BaseSoftQuantizer
        ):
            hint = (
                " Pass the Pipeline's last step (pipeline[-1]): it takes what "
                "the steps before it output."
            )
        raise TypeError(
            f"{user} takes a fitted SoftQuantizer, SoftQuantizerClassifier or "
            f"SoftQuantizerRegressor, got {type(estimator).__name__}.{hint}"
        )
    check_is_fitted(estimator)
    return FittedState(
        params=copy.deepcopy(estimator._fitted_params_),
        n_features_in=int(estimator.n_features_in_),
        feature_names_in=getattr(estimator, "feature_names_in_", None),
        target=estimator.target_,
        codec=estimator.codec_,
        feature_mean=estimator.feature_mean_,
        feature_scale=estimator.feature_scale_,
        allocation_trace=getattr(estimator, "allocation_trace_", None),
        module_state=InMemoryTensors(estimator.net_.module_.state_dict()),
    )


def estimator_from_state(cls, state: FittedState, device: str = "cpu"):
    """A fitted ``cls`` with ``state`` and its parameters (``device`` replaced);
    a state that contradicts them raises ValueError."""
    est = cls(**{**state.params, "device": device})
    check_parameters(est)
    target = state.target
    if configured_task(est) not in ("auto", target.task):
        raise ValueError(
            f"a {type(est).__name__} with task {configured_task(est)!r} cannot hold "
            f"a {target.task} model."
        )
    codec = state.codec
    widths = check_bit_widths(codec.n_bits, allow_zero=True)
    if not widths.any():
        raise ValueError("n_bits gives every feature 0 bits.")
    # A trace comes from a fit that learned the widths; a model without one
    # under allocation="auto" up to 4 bits was streamed (partial_fit) or fitted
    # on too few rows to learn them.
    has_trace = state.allocation_trace is not None
    if (has_trace and not learns_widths(est.n_bits, est.allocation, est.quantizer)) or (
        not has_trace and requires_learned_widths(est.n_bits, est.allocation)
    ):
        raise ValueError(
            "an allocation trace goes with learned widths only: n_bits='auto', "
            "allocation='learned', or allocation='auto' up to "
            f"{LEARNED_UP_TO_BITS} bits per feature (from {LEARNED_MIN_ROWS} rows)."
        )
    budget = (
        learned_bit_budget(
            est.n_bits, est.bit_budget, est.allocation, len(widths), est.quantizer
        )
        if has_trace
        else None
    )
    if budget is not None and widths.sum() > budget:
        raise ValueError(
            f"the stored widths sum to {widths.sum()} bits, over the parameters' "
            f"budget of {budget}."
        )
    if budget is None and not np.array_equal(
        check_n_bits(est.n_bits, len(widths)), widths
    ):
        raise ValueError("the parameter 'n_bits' contradicts the stored widths.")
    training = QuantizerTraining(est, configured_task(est))
    module = load_network(
        lambda: training.placeholder_module(widths, state.target, codec.representation),
        state.module_state,
    )
    learned = iter(module.quantizer.feature_thresholds())
    for b, stored, mean, scale in zip(
        widths, codec.thresholds, state.feature_mean, state.feature_scale, strict=True
    ):
        if b and not thresholds_agree(stored, next(learned), mean, scale):
            raise ValueError("the stored thresholds do not match the network's.")
    setup = training.setup(state.target)
    est.n_features_in_ = state.n_features_in
    if state.feature_names_in is not None:
        est.feature_names_in_ = state.feature_names_in
    est._adopt(
        TrainedQuantizer(
            state.target,
            state.feature_mean,
            state.feature_scale,
            codec,
            setup.serve(module),
            state.allocation_trace,
            RandomStream(),
        )
    )
    return est


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
        + PARAMETERS_DOC.format(task=TASK_DOC)
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
        **BaseMLPEstimator.task_constraint,
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

    fixed_task = "classification"


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

    fixed_task = "regression"


def thresholds_agree(stored, learned, mean: float, scale: float) -> bool:
    """Whether a file's raw float32 ``stored`` thresholds are the network's
    ``learned`` (standardized) ones, up to float32 rounding.

    The network's thresholds are a float32 first value plus a running sum of
    softplus gaps; other CPUs (other vector kernels for softplus) round those
    sums differently in the last bit, so an exact comparison refuses genuine
    files on some machines. The stored thresholds are what encodes; this only
    catches a file whose network was trained for other thresholds. The
    tolerance is a few float32 roundings of every term of the sum, in
    standardized units, plus the final rounding to a raw float32 (a whole
    float32 step: subnormal thresholds keep few digits).
    """
    rounding = float(np.spacing(np.abs(np.asarray(stored, np.float32)).max()))
    stored = np.asarray(stored, dtype=np.float64)
    learned = np.asarray(learned, dtype=np.float64)
    eps = float(np.finfo(np.float32).eps)
    span = np.abs(learned[0]) + (learned[-1] - learned[0])  # |first| + sum of gaps
    tolerance = 16 * eps * (1.0 + span) * scale + rounding
    implied = mean + scale * learned
    return bool(np.all(np.abs(stored - implied) <= tolerance))
