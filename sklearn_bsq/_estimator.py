"""``SoftQuantizer`` and its fixed-task forms: validation, fit, transform, predict."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from . import _packing
from ._allocation import greedy_bit_removal, start_width, wide_epochs
from ._base import BaseMLPEstimator, has_predict_proba
from ._coding import BucketEncoder, bin_representatives
from ._init import THRESHOLD_INITS, initial_thresholds
from ._lsq import UniformSTEQuantizer
from ._module import QuantizedMLP
from ._quantizer import REPRESENTATIONS, BitwiseSoftQuantizer
from ._targets import standardization
from ._training import holdout_indices


def _check_numeric_columns(X) -> None:
    """Name non-numeric DataFrame columns instead of failing on their first value."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    for column, dtype in zip(X.columns, dtypes, strict=True):
        if getattr(dtype, "kind", "O") not in "biuf":
            raise TypeError(
                f"column {column!r} has dtype {dtype}; SoftQuantizer needs numeric "
                "features. Encode it first, e.g. with OrdinalEncoder in a "
                "ColumnTransformer, or drop it."
            )


class _BaseSoftQuantizer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseMLPEstimator
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
        "quantizer": [StrOptions({"soft", "fixed", "lsq"})],
        "threshold_init": [StrOptions(set(THRESHOLD_INITS))],
        "steepness": [tuple, list],
        "threshold_lr": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        n_bits=4,
        *,
        bit_budget=None,
        representation="auto",
        quantizer="soft",
        threshold_init="quantile",
        hidden_layer_sizes=(256, 256),
        max_epochs=40,
        batch_size=256,
        lr=3e-3,
        weight_decay=1e-4,
        dropout=0.1,
        lr_schedule="cosine",
        threshold_lr=1e-2,
        steepness=(4.0, 256.0),
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
    ):
        self.n_bits = n_bits
        self.bit_budget = bit_budget
        self.representation = representation
        self.quantizer = quantizer
        self.threshold_init = threshold_init
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.lr_schedule = lr_schedule
        self.threshold_lr = threshold_lr
        self.steepness = steepness
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _validate_readings(self, X, y="no_validation", *, reset: bool):
        """``validate_data`` for readings, cast to float32 as a device compares them."""
        _check_numeric_columns(X)
        # Readings beyond float32 become inf in the cast and scikit-learn's quick
        # finiteness test sums the array (overflowing near the float32 limit); the
        # finiteness check that follows names real problems, so numpy's warnings
        # would only add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            return validate_data(self, X, y, dtype=np.float32, reset=reset)

    # ------------------------------------------------------------ validation
    def _learns_widths(self) -> bool:
        """Whether ``n_bits="auto"`` (``n_bits`` may also be an array)."""
        return isinstance(self.n_bits, str) and self.n_bits == "auto"

    def _validate_bit_budget(self) -> int | None:
        """The budget when widths are learned (``n_bits="auto"``), else None."""
        auto = self._learns_widths()
        if auto and self.bit_budget is None:
            raise ValueError(
                "n_bits='auto' learns the widths under a total budget: give "
                "bit_budget, the bits per sample (e.g. 2 * n_features)."
            )
        if not auto and self.bit_budget is not None:
            raise ValueError(
                f"bit_budget={self.bit_budget} is used only with n_bits='auto'; "
                f"n_bits={self.n_bits!r} fixes the widths. Set n_bits='auto' or "
                "bit_budget=None."
            )
        return int(self.bit_budget) if auto else None

    def _validate_n_bits(self, n_features: int) -> np.ndarray:
        if isinstance(self.n_bits, Integral) and not isinstance(self.n_bits, bool):
            widths = np.full(n_features, int(self.n_bits))
        else:
            if isinstance(self.n_bits, str | bool):
                raise TypeError(
                    f"n_bits must be an int or a sequence of ints, got {self.n_bits!r}."
                )
            widths = np.asarray(self.n_bits)
            if widths.ndim != 1 or widths.size != n_features:
                raise ValueError(
                    f"n_bits has {widths.size} entries but X has {n_features} "
                    "features; give one width per feature or a single int."
                )
        widths = _packing.check_bit_widths(widths, allow_zero=True)
        if not widths.any():
            raise ValueError(
                "n_bits gives every feature 0 bits; at least one feature must be "
                "transmitted (width >= 1)."
            )
        return widths

    def _validate_steepness(self) -> tuple[float, float]:
        steep = self.steepness
        if len(steep) != 2 or not all(
            isinstance(a, Real) and not isinstance(a, bool) and np.isfinite(a) and a > 0
            for a in steep
        ):
            raise ValueError(
                "steepness must be a pair (start, end) of positive numbers, got "
                f"{steep!r}."
            )
        return float(steep[0]), float(steep[1])

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the thresholds and the network jointly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric readings; compared as float32, as a device would.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type) or a numeric regression target.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_or_forget(X, y)

    def _fit(self, X, y):
        steepness = self._validate_steepness()
        hidden = self._check_hidden_layer_sizes()
        budget = self._validate_bit_budget()
        X, y = self._validate_readings(X, y, reset=True)
        if budget is None:
            self.n_bits_ = self._validate_n_bits(X.shape[1])
        self.__dict__.pop("allocation_trace_", None)  # from an earlier "auto" fit
        target = self._prepare_target(y)

        self.feature_mean_, self.feature_scale_ = standardization(X)
        X_std = ((X - self.feature_mean_) / self.feature_scale_).astype(np.float32)
        if budget is not None:
            self.n_bits_, self.allocation_trace_ = self._allocate_bits(
                X_std, target, budget, hidden, steepness
            )
        init = [
            initial_thresholds(X_std[:, j], 2 ** int(b) - 1, self.threshold_init)
            for j, b in enumerate(self.n_bits_)
        ]

        self._fit_network(
            X_std, target, lambda: self._build_module(init, hidden), steepness
        )
        self.thresholds_ = self._raw_thresholds()
        self._set_sizes()
        codes = self._encoder()(X)
        self.bin_values_ = bin_representatives(X, codes, self.thresholds_)
        return self

    def _allocate_bits(self, X_std, target, budget, hidden, steepness):
        """Widths under ``budget`` from a wide first pass (see ``_allocation``)."""
        d = X_std.shape[1]
        start = start_width(budget, d)
        classification = self.task_ == "classification"
        seed = self._draw_seed()
        train, valid = holdout_indices(
            target.y, self.validation_fraction, classification, seed
        )
        X_train, y_train = X_std[train], target.y[train]
        X_valid, y_valid = X_std[valid], target.y[valid]
        init = [
            initial_thresholds(X_train[:, j], 2**start - 1, self.threshold_init)
            for j in range(d)
        ]
        train_split = None
        if self.early_stopping:
            train_split = predefined_split(Dataset(X_valid, y_valid))
        log = print if self.verbose else None
        if log:
            log(f"bit allocation: wide pass, {d} features at {start} bits")
        net = self._train(
            lambda: self._build_module(init, hidden),
            seed,
            X_train,
            y_train,
            train_split,
            steepness,
            epochs=wide_epochs(self.max_epochs),
        )
        if self._interrupted(net):
            raise KeyboardInterrupt("fit was interrupted during the bit allocation.")
        return greedy_bit_removal(
            net.module_, X_train, X_valid, y_valid, budget, classification, log
        )

    def _threshold_lr(self) -> float | None:
        return self.threshold_lr

    def _build_module(self, init_thresholds, hidden) -> QuantizedMLP:
        """Quantizer + MLP for these initial (standardized) thresholds.

        Features without thresholds (width 0) are left out of the quantizer.
        """
        active = [j for j, t in enumerate(init_thresholds) if len(t)]
        init = [init_thresholds[j] for j in active]
        if self.quantizer == "lsq":
            quantizer = UniformSTEQuantizer(init)
        else:
            learnable = self.quantizer == "soft"
            quantizer = BitwiseSoftQuantizer(init, self.representation, learnable)
        return QuantizedMLP(
            quantizer,
            hidden,
            self._n_outputs(),
            active,
            len(init_thresholds),
            self.dropout,
        )

    def _encoder(self) -> BucketEncoder:
        """The fast encoder for the current thresholds, built once and cached."""
        cached = self.__dict__.get("_bucket_encoder")
        if cached is None or cached[0] is not self.thresholds_:
            cached = (self.thresholds_, BucketEncoder(self.thresholds_, self.n_bits_))
            self._bucket_encoder = cached
        return cached[1]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_bucket_encoder", None)  # 65,536 entries per feature: rebuilt
        return state

    def _set_sizes(self) -> None:
        """Sizes that follow from ``n_bits_``."""
        self.bytes_per_row_ = _packing.bytes_per_row(self.n_bits_)
        self.compression_ratio_ = 32 * len(self.n_bits_) / (8 * self.bytes_per_row_)
        self._n_features_out = self.bytes_per_row_

    def _raw_thresholds(self) -> list[np.ndarray]:
        """Learned thresholds in the caller's units, as float32 (what a node uses)."""
        quantizer = self.net_.module_.quantizer
        standardized = quantizer.thresholds().detach().cpu().numpy().astype(np.float64)
        rows = iter(standardized)  # one row per transmitted feature, in order
        result = []
        for j, b in enumerate(self.n_bits_):
            t = next(rows)[: 2 ** int(b) - 1] if b else np.empty(0)
            raw = self.feature_mean_[j] + self.feature_scale_[j] * t
            # Rounding to float32 is monotone, so the thresholds stay sorted.
            result.append(raw.astype(np.float32))
        return result

    # ------------------------------------------------------- node-side path
    def encode(self, X):
        """Integer code of every reading: the number of thresholds below it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
            dtype uint8 when every width is at most 8 bits, else uint16. Readings
            outside the training range get the first or the last code.
        """
        check_is_fitted(self)
        X = self._validate_readings(X, reset=False)
        return self._encoder()(X)

    def transform(self, X):
        """Packed bytes a node sends, wire format v1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        packed : ndarray of shape (n_samples, bytes_per_row_), dtype uint8
        """
        # encode's codes are in range by construction: skip pack's range check.
        return _packing.pack_in_range(self.encode(X), self.n_bits_)

    # ----------------------------------------------------- server-side path
    def decode(self, packed):
        """Integer codes from packed bytes (the inverse of ``transform``'s packing).

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, bytes_per_row_)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return _packing.unpack(packed, self.n_bits_)

    def inverse_transform(self, packed):
        """A representative reading for every transmitted code, in raw units.

        The value for a code is the mean of the training readings that fell into
        that interval (the midpoint of its thresholds when none did).

        Parameters
        ----------
        packed : array-like of uint8, shape (n_samples, bytes_per_row_)

        Returns
        -------
        X_approx : ndarray of shape (n_samples, n_features), dtype float64
        """
        codes = self.decode(packed)
        columns = [values[codes[:, j]] for j, values in enumerate(self.bin_values_)]
        return np.stack(columns, axis=1) if columns else np.empty((len(codes), 0))

    def _outputs_from_codes(self, codes) -> np.ndarray:
        if len(codes) == 0:  # skorch's forward cannot concatenate zero batches
            shape = (0,) if self.task_ == "regression" else (0, self._n_outputs())
            return np.empty(shape, dtype=np.float32)
        return self.net_.forward({"codes": codes.astype(np.int64)}).numpy()

    def predict_codes(self, codes):
        """Predict from integer codes (as returned by ``encode`` or ``decode``)."""
        check_is_fitted(self)
        return self._predictions(self._outputs_from_codes(self._check_codes(codes)))

    @available_if(has_predict_proba)
    def predict_proba_codes(self, codes):
        """Class probabilities from integer codes."""
        check_is_fitted(self)
        return self._probabilities(self._outputs_from_codes(self._check_codes(codes)))

    def predict_packed(self, packed):
        """Predict from the packed bytes alone (what the server receives).

        Equal to ``predict(X)`` for ``packed = transform(X)``, exactly.
        """
        return self.predict_codes(self.decode(packed))

    @available_if(has_predict_proba)
    def predict_proba_packed(self, packed):
        """Class probabilities from the packed bytes alone."""
        return self.predict_proba_codes(self.decode(packed))

    def predict(self, X):
        """Predict through the hard quantizer: exactly what the server computes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Class labels or regression values in the target's units.
        """
        return self.predict_codes(self.encode(X))

    @available_if(has_predict_proba)
    def predict_proba(self, X):
        """Class probabilities through the hard quantizer.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self.predict_proba_codes(self.encode(X))

    def _check_codes(self, codes) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.n_features_in_:
            raise ValueError(
                f"codes must have shape (n_samples, {self.n_features_in_}), got "
                f"{codes.shape}."
            )
        if codes.dtype == bool or not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f"codes must be integers, got dtype {codes.dtype}.")
        limit = (1 << self.n_bits_) - 1
        if codes.size and (
            np.any(codes.min(axis=0) < 0) or np.any(codes.max(axis=0) > limit)
        ):
            raise ValueError(
                f"codes out of range: feature j takes codes 0..{limit.tolist()}[j]."
            )
        return codes


_PARAMETERS_DOC = """
    Parameters
    ----------
    n_bits : int, sequence of int or "auto", default=4
        Bits per feature: one int (1..16) for all features, or one width per
        feature (0..16; a feature with 0 bits is not sent and the network
        ignores it), or "auto" to learn the widths under ``bit_budget``.
        Feature ``j`` is cut into ``2**n_bits[j]`` intervals.
    bit_budget : int, default=None
        With ``n_bits="auto"``: the most bits per sample, summed over the
        features. A wide model (every feature at ``ceil(bit_budget /
        n_features) + 2`` bits, at most 16) is trained for half the epochs on
        all but ``validation_fraction`` of the data; then the bits whose
        removal raises the validation loss least are removed (a feature at
        ``w`` bits merges its wide codes into ``2**w`` groups of equal training
        frequency; near the budget one bit per scoring round, further away up
        to a quarter of the bits left to remove, one per feature; a bit goes
        before those of the widest features only if the validation loss says
        so by more than one standard error) until the widths fit the budget;
        then the model is trained for those widths as for fixed ``n_bits``.
        This costs about two fits. ``allocation_trace_`` records every removed
        bit.
    {task}representation : {{"auto", "thermometer", "bits", "levels", "embedding"}}, \
default="auto"
        What the network sees of each code, rebuilt on the server from the
        code alone: the ``2**b - 1`` step outputs ("thermometer"), the ``b``
        binary digits of the code ("bits"), one trainable value per code
        ("levels"), or 16 trainable values per code ("embedding", a learned
        low-rank factor of the first layer on the thermometer). "auto" is the
        thermometer up to 4 bits and the embedding above, where the
        thermometer's first layer grows with ``2**b`` and overfits; it won
        on full data under the paper's protocol (README, "Accuracy at full
        scale").
    quantizer : {{"soft", "fixed", "lsq"}}, default="soft"
        How thresholds are trained. ``"soft"`` is the method: sigmoid steps of
        growing steepness. ``"fixed"`` keeps the initial thresholds (plain
        quantile, uniform or k-means binning; a baseline). ``"lsq"`` learns a
        uniform grid per feature (offset and step) with straight-through
        rounding and feeds the MLP the dequantized value, ignoring
        ``representation`` (a baseline).
    threshold_init : {{"quantile", "uniform", "kmeans"}}, default="quantile"
        Initial thresholds: equal-frequency, equal-width or 1-D k-means bins
        of the training data (``"lsq"`` uses only the outer two).
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the MLP's hidden ReLU layers.
    max_epochs : int, default=40
        Training epochs (the upper bound when ``early_stopping`` is on).
    batch_size : int, default=256
    lr : float, default=3e-3
        AdamW learning rate (the first epoch's, with ``lr_schedule="cosine"``).
    weight_decay : float, default=1e-4
        AdamW weight decay.
    dropout : float, default=0.1
        Dropout probability after every hidden layer during training.
    lr_schedule : {{"cosine", "constant"}}, default="cosine"
        "cosine" decays the learning rate from ``lr`` towards 0 over
        ``max_epochs`` along a half cosine (epoch ``e`` of ``E`` uses
        ``lr * (1 + cos(pi * e / E)) / 2``), so the weights settle while the
        steps are nearly hard; "constant" keeps ``lr``.
    threshold_lr : float or None, default=1e-2
        AdamW learning rate of the thresholds (in standardized units; the
        schedule applies to it too). Adam moves a parameter by about its
        learning rate per step, and a threshold may have to travel a standard
        deviation or more, further than the network's ``lr`` takes it in a
        few hundred steps. None uses ``lr``.
    steepness : (float, float), default=(4.0, 256.0)
        Sigmoid steepness in the first and last epoch, growing geometrically in
        between. Units are "levels per standard deviation": a value of ``s`` gives
        feature ``j`` the slope ``s * 2**n_bits[j]`` on the standardized feature.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its loss
        (computed with hard steps) has not improved for ``n_iter_no_change``
        epochs, and restore the best epoch.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and the validation split. The
        same value gives the same thresholds and the same bytes.
    verbose : int, default=0
        ``1`` prints skorch's table of losses per epoch.

    Attributes
    ----------
    thresholds_ : list of ndarray of float32
        Learned thresholds per feature in the caller's units, sorted, of length
        ``2**n_bits_[j] - 1`` (none for a feature that is not sent). A reading's
        code is the number of thresholds strictly below it.
    n_bits_ : ndarray of int
        Bits per feature (0 for a feature that is not sent).
    allocation_trace_ : dict of ndarray
        Only with ``n_bits="auto"``: one entry per step of the allocation, the
        first being the wide start. ``feature`` lost a bit in that step (-1 at
        the start) and has ``n_bits`` left; ``total_bits`` is the sum of the
        widths after the step and ``validation_loss`` the wide model's loss on
        the held-out rows with those widths (cross-entropy, or MSE of the
        standardized target). ``pandas.DataFrame(allocation_trace_)`` shows it
        as a table.
    bytes_per_row_ : int
        Bytes per packed sample, ``ceil(sum(n_bits_) / 8)``.
    compression_ratio_ : float
        ``32 * n_features_in_ / (8 * bytes_per_row_)``: size of float32 readings
        over size of the packed row.
    task_ : str
        "classification" or "regression".
    classes_ : ndarray
        Class labels (classification only).
    bin_values_ : list of ndarray
        Representative raw value of every code, used by ``inverse_transform``.
    feature_mean_, feature_scale_ : ndarray
        Standardization of the features applied before the quantizer.
    net_ : skorch net
        The trained network (quantizer + MLP).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
"""


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
        + _PARAMETERS_DOC.format(
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

    def __init__(
        self,
        n_bits=4,
        *,
        bit_budget=None,
        task="auto",
        representation="auto",
        quantizer="soft",
        threshold_init="quantile",
        hidden_layer_sizes=(256, 256),
        max_epochs=40,
        batch_size=256,
        lr=3e-3,
        weight_decay=1e-4,
        dropout=0.1,
        lr_schedule="cosine",
        threshold_lr=1e-2,
        steepness=(4.0, 256.0),
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_bits,
            bit_budget=bit_budget,
            representation=representation,
            quantizer=quantizer,
            threshold_init=threshold_init,
            hidden_layer_sizes=hidden_layer_sizes,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            dropout=dropout,
            lr_schedule=lr_schedule,
            threshold_lr=threshold_lr,
            steepness=steepness,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            verbose=verbose,
        )
        self.task = task


class SoftQuantizerClassifier(_BaseSoftQuantizer):
    __doc__ = (
        """:class:`SoftQuantizer` for classification: a scikit-learn classifier.

    ``score`` is accuracy; ``GridSearchCV`` stratifies its folds.
"""
        + _PARAMETERS_DOC.format(task="")
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizerClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftQuantizerClassifier(n_bits=2, max_epochs=30, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.8
    True
    """
    )

    def _task_param(self) -> str:
        return "classification"


class SoftQuantizerRegressor(_BaseSoftQuantizer):
    __doc__ = (
        """:class:`SoftQuantizer` for regression: a scikit-learn regressor.

    The target is standardized for training; predictions come back in its units.
    ``score`` is R².
"""
        + _PARAMETERS_DOC.format(task="")
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn_bsq import SoftQuantizerRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = SoftQuantizerRegressor(n_bits=3, max_epochs=30, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.4
    True
    """
    )

    def _task_param(self) -> str:
        return "regression"
