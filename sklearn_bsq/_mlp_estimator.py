"""What every estimator here shares: the network's parameters and their
declaration, the task and its fitted target, starting a fit from a clean state,
``score``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags, RegressorTags

from ._target import TASKS


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


def configured_task(estimator) -> str:
    """The task as configured: a form's fixed task, else its ``task``."""
    return estimator.fixed_task or estimator.task


def has_predict_proba(estimator) -> bool:
    """``available_if`` check: no ``predict_proba`` for regression."""
    task = getattr(estimator, "task_", None) or configured_task(estimator)
    return task != "regression"


def discard_fitted_state(estimator) -> None:
    """Forget everything a fit set (attributes ending in "_"), so that no
    half-fitted estimator is left: the next use raises ``NotFittedError``."""
    for name in list(vars(estimator)):
        if name.endswith("_") and not name.startswith("__"):
            delattr(estimator, name)


def fit_from_scratch(estimator, fit: Callable[[], object]):
    """Run ``fit()`` from a clean state (a refit for another task keeps
    nothing of the last fit); on any failure forget all fitted state."""
    discard_fitted_state(estimator)
    try:
        return fit()
    except BaseException:
        discard_fitted_state(estimator)
        raise


class BaseMLPEstimator(BaseEstimator):
    """The network's parameters, the task and its target, ``score``.

    Subclasses add their own parameters with :func:`extends`; a form fixed to
    one task sets ``fixed_task``. A fitted estimator holds ``target_`` (a
    :class:`~sklearn_bsq._target.FittedTarget`), from which ``task_``,
    ``classes_``, ``target_mean_`` and ``target_scale_`` are read.
    """

    # the task of a form fixed to one (None: the ``task`` parameter decides)
    fixed_task: str | None = None

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
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
        "n_threads": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }
    task_constraint = {"task": [StrOptions({"auto", *TASKS})]}

    def __init__(
        self,
        *,
        hidden_layer_sizes=(128, 128),
        max_epochs="auto",
        batch_size=256,
        lr=3e-3,
        weight_decay=1e-4,
        dropout=0.1,
        n_heads=3,
        lr_schedule="cosine",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
        device="cpu",
        n_threads="auto",
    ):
        store_arguments(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        task = configured_task(self)
        if task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    # ------------------------------------------------ the target, as fitted
    @property
    def task_(self) -> str:
        """The task trained: "classification" or "regression"."""
        return self.target_.task

    @property
    def classes_(self) -> np.ndarray:
        """Class labels, sorted (classification only)."""
        if self.target_.classes is None:
            raise AttributeError("a regression model has no classes_.")
        return self.target_.classes

    @property
    def target_mean_(self) -> float:
        """Mean of the regression target (regression only)."""
        if self.target_.mean is None:
            raise AttributeError("a classification model has no target_mean_.")
        return self.target_.mean

    @property
    def target_scale_(self) -> float:
        """Standard deviation of the regression target (regression only)."""
        if self.target_.scale is None:
            raise AttributeError("a classification model has no target_scale_.")
        return self.target_.scale

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
