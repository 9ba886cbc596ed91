"""What every estimator here shares: the network's parameters, the task and its
target, feature standardization, training through skorch, outputs to predictions."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags, RegressorTags
from torch import nn

from ._target import TASKS, EncodedTarget, encode_target, mean_and_std, resolve_task
from ._training import TrainingSetup, interrupted, resolve_epochs, validation_split
from ._validation import check_device


def extends(base_init: Callable):
    """Decorator for an ``__init__(self, <own parameters>, **inherited)`` that
    passes ``inherited`` on to ``base_init``: its signature becomes its own
    parameters followed by the base's, which is where scikit-learn's
    ``get_params``, ``set_params`` and ``clone`` read them. Each parameter is
    declared once, in the class it belongs to."""

    def decorate(init: Callable) -> Callable:
        own = [
            p
            for p in inspect.signature(init).parameters.values()
            if p.kind is not p.VAR_KEYWORD
        ]
        names = {p.name for p in own}
        inherited = [
            p
            for p in inspect.signature(base_init).parameters.values()
            if p.name not in names
        ]
        init.__signature__ = inspect.Signature(own + inherited)
        return init

    return decorate


def store_arguments(estimator, arguments: dict) -> None:
    """Keep an ``__init__``'s arguments (its ``locals()``) as attributes, as
    scikit-learn expects; ``**inherited`` went to the base class."""
    for name, value in arguments.items():
        if name not in ("self", "__class__", "inherited"):
            setattr(estimator, name, value)


def has_predict_proba(estimator) -> bool:
    """``available_if`` check: no ``predict_proba`` for regression."""
    task = getattr(estimator, "task_", None) or estimator._task_param()
    return task != "regression"


class BaseMLPEstimator(BaseEstimator):
    """Trains an MLP-headed torch module through skorch on standardized features.

    Subclasses add their own parameters with :func:`extends`, define
    ``_task_param`` and call :meth:`_fit_network` from ``_fit``.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [tuple, list],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str],
    }
    _task_constraint = {"task": [StrOptions({"auto", *TASKS})]}

    def __init__(
        self,
        *,
        hidden_layer_sizes=(128, 128),
        max_epochs="auto",
        batch_size=256,
        lr=3e-3,
        weight_decay=1e-4,
        dropout=0.1,
        n_heads=5,
        lr_schedule="cosine",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
        device="cpu",
    ):
        store_arguments(self, locals())

    def _task_param(self) -> str:
        """The task as configured: "auto", "classification" or "regression"."""
        return self.task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        task = self._task_param()
        if task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    def _check_hidden_layer_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold positive ints, got {sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    # ---------------------------------------------------------- fitted state
    def _prepare_target(self, y, sample_weight=None) -> EncodedTarget:
        """Set ``task_`` (and ``classes_``) and return the training target."""
        self.task_ = resolve_task(self._task_param(), y)
        target = encode_target(self.task_, y, sample_weight)
        if target.classes is not None:
            self.classes_ = target.classes
        else:
            self.target_mean_, self.target_scale_ = target.mean, target.scale
        return target

    def _n_outputs(self) -> int:
        return 1 if self.task_ == "regression" else len(self.classes_)

    def _fit_standardization(self, X: np.ndarray, sample_weight=None) -> np.ndarray:
        """Set ``feature_mean_`` and ``feature_scale_`` (1 for a constant
        feature) from ``X``, weighted by ``sample_weight`` if given; return ``X``
        standardized."""
        self.feature_mean_, std = mean_and_std(X, sample_weight, axis=0)
        self.feature_scale_ = np.where(std > 0, std, 1.0)
        return self._standardize(X)

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.feature_mean_) / self.feature_scale_).astype(np.float32)

    def _fit_or_forget(self, X, y, fit=None):
        """Run ``fit`` (the subclass's ``_fit`` by default) from a clean state (a
        refit for another task keeps nothing of the last fit); on any failure
        forget all fitted state."""
        self._discard_fitted_state()
        try:
            return (fit or self._fit)(X, y)
        except BaseException:
            self._discard_fitted_state()
            raise

    def _discard_fitted_state(self) -> None:
        """Forget everything a failed ``fit`` may have set, so that no half-fitted
        estimator is left: the next use raises ``NotFittedError``."""
        for name in list(vars(self)):
            if name.endswith("_") and not name.startswith("__"):
                delattr(self, name)
        self.__dict__.pop("_n_features_out", None)

    # -------------------------------------------------------------- training
    def _training_setup(
        self, steepness=None, threshold_lr=None, n_rows=None
    ) -> TrainingSetup:
        """The training parameters, for the task set by ``_prepare_target``;
        checks ``device``. ``n_rows``, the rows given to ``fit``, resolves
        ``max_epochs="auto"``; None (``partial_fit``, loading) gives its fewest
        epochs, as does ``early_stopping``: the schedules run over
        ``max_epochs``, and with a longer schedule early stopping ended fits
        while the steps were still soft (README, "Accuracy at full scale")."""
        classification = self.task_ == "classification"
        rows = None if self.early_stopping else n_rows
        return TrainingSetup(
            n_classes=self._n_outputs() if classification else None,
            max_epochs=resolve_epochs(self.max_epochs, rows, self.batch_size),
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            lr_schedule=self.lr_schedule,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            steepness=steepness,
            threshold_lr=threshold_lr,
            device=check_device(self.device),
        )

    def _fit_network(
        self,
        X_std: np.ndarray,
        target: EncodedTarget,
        build_module: Callable[[], nn.Module],
        setup: TrainingSetup,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        """Seed, build the module, train it with skorch (each row's loss times
        its ``sample_weight`` if given); sets ``net_``."""
        seed = self._draw_seed()
        train_split = None
        if self.early_stopping:
            classification = self.task_ == "classification"
            train_split = validation_split(
                target.y, self.validation_fraction, classification, seed, sample_weight
            )
        self.net_ = setup.train(
            build_module, seed, X_std, target.y, train_split, None, sample_weight
        )
        if interrupted(self.net_):
            stopper = dict(self.net_.callbacks_).get("early_stopping")
            which = "the best epoch so far" if stopper is not None else "that epoch"
            warnings.warn(
                f"training was interrupted in epoch {len(self.net_.history)} of "
                f"{setup.max_epochs}; the estimator is fitted with the network of "
                f"{which}.",
                UserWarning,
                stacklevel=4,
            )

    def _draw_seed(self) -> int:
        """A torch seed from ``random_state`` (a new draw for a RandomState)."""
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    # --------------------------------------------------------------- outputs
    def _predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Labels or raw-unit values from network outputs."""
        if self.task_ == "classification":
            return self.classes_[outputs.argmax(axis=1)]
        return outputs.astype(np.float64) * self.target_scale_ + self.target_mean_

    @staticmethod
    def _probabilities(outputs: np.ndarray) -> np.ndarray:
        """Softmax in float64, as one torch kernel (half the time of numpy's
        five passes over the array)."""
        logits = torch.from_numpy(np.ascontiguousarray(outputs)).double()
        return torch.softmax(logits, dim=1).numpy()

    def score(self, X, y, sample_weight=None):
        """Accuracy for classification, R² for regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True labels or values.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            Of ``predict(X)`` against ``y``.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.model_selection import train_test_split
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        >>> clf = SoftQuantizerClassifier(2, max_epochs=20, random_state=0)
        >>> clf.fit(X_train, y_train).score(X_test, y_test) > 0.9
        True
        """
        y_pred = self.predict(X)
        if self.task_ == "classification":
            return accuracy_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y, y_pred, sample_weight=sample_weight)
