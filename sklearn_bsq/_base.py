"""What every MLP estimator here shares: parameters, task, training, outputs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags, RegressorTags
from torch import nn

from ._targets import TASKS, EncodedTarget, encode_target, resolve_task
from ._training import make_net, seed_torch, validation_split


def has_predict_proba(estimator) -> bool:
    """``available_if`` check: no ``predict_proba`` for regression."""
    task = getattr(estimator, "task_", None) or estimator._task_param()
    return task != "regression"


class BaseMLPEstimator(BaseEstimator):
    """Trains an MLP-headed torch module through skorch on standardized features.

    Subclasses store their own parameters in ``__init__``, define
    ``_task_param`` and call :meth:`_fit_network` from ``fit``.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [tuple, list],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _task_constraint = {"task": [StrOptions({"auto", *TASKS})]}

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

    def _prepare_target(self, y) -> EncodedTarget:
        """Set ``task_`` (and ``classes_``) and return the training target."""
        self.task_ = resolve_task(self._task_param(), y)
        target = encode_target(self.task_, y)
        if target.classes is not None:
            self.classes_ = target.classes
        else:
            self.target_mean_, self.target_scale_ = target.mean, target.scale
        return target

    def _n_outputs(self) -> int:
        return 1 if self.task_ == "regression" else len(self.classes_)

    def _fit_or_forget(self, X, y):
        """Run the subclass's ``_fit`` from a clean state (a refit for another
        task keeps nothing of the last fit); on any failure forget all fitted
        state."""
        self._discard_fitted_state()
        try:
            return self._fit(X, y)
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

    def _fit_network(
        self,
        X_std: np.ndarray,
        target: EncodedTarget,
        build_module: Callable[[], nn.Module],
        steepness: tuple[float, float] | None = None,
    ) -> None:
        """Seed, build the module, train it with skorch; sets ``net_``."""
        classification = self.task_ == "classification"
        seed = self._draw_seed()
        train_split = None
        if self.early_stopping:
            train_split = validation_split(
                target.y, self.validation_fraction, classification, seed
            )
        self.net_ = self._train(
            build_module, seed, X_std, target.y, train_split, steepness
        )
        if self._interrupted(self.net_):
            stopper = dict(self.net_.callbacks_).get("early_stopping")
            which = "the best epoch so far" if stopper is not None else "that epoch"
            warnings.warn(
                f"training was interrupted in epoch {len(self.net_.history)} of "
                f"{self.max_epochs}; the estimator is fitted with the network of "
                f"{which}.",
                UserWarning,
                stacklevel=4,
            )

    def _draw_seed(self) -> int:
        """A torch seed from ``random_state`` (a new draw for a RandomState)."""
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _train(self, build_module, seed, X, y, train_split, steepness, epochs=None):
        """Seed torch, build the module and train it (``max_epochs`` epochs unless
        ``epochs`` is given); returns the net in eval mode."""
        seed_torch(seed)
        net = self._new_net(build_module(), seed, train_split, steepness)
        if epochs is not None:
            net.max_epochs = epochs
        net.fit(X, y)  # skorch ends training quietly on Ctrl-C
        net.module_.eval()
        return net

    def _interrupted(self, net) -> bool:
        """Whether training ended before its epochs ran out, other than by early
        stopping (skorch ends quietly on Ctrl-C)."""
        stopper = dict(net.callbacks_).get("early_stopping")
        stopped_early = stopper is not None and stopper.misses_ >= stopper.patience
        return len(net.history) < net.max_epochs and not stopped_early

    def _new_net(self, module: nn.Module, seed: int, train_split=None, steepness=None):
        """The skorch net that trains (or, once initialized, serves) ``module``."""
        classification = self.task_ == "classification"
        return make_net(
            module,
            classification=classification,
            n_classes=self._n_outputs() if classification else None,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=seed,
            verbose=self.verbose,
            train_split=train_split,
            n_iter_no_change=self.n_iter_no_change,
            steepness=steepness,
            lr_schedule=self.lr_schedule,
            threshold_lr=self._threshold_lr(),
        )

    def _threshold_lr(self) -> float | None:
        """Learning rate of the quantizer's thresholds; None: the network's (and
        for a network without a quantizer)."""
        return None

    def _predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Labels or raw-unit values from network outputs."""
        if self.task_ == "classification":
            return self.classes_[outputs.argmax(axis=1)]
        return outputs.astype(np.float64) * self.target_scale_ + self.target_mean_

    @staticmethod
    def _probabilities(outputs: np.ndarray) -> np.ndarray:
        return softmax(outputs.astype(np.float64), axis=1)

    def score(self, X, y, sample_weight=None):
        """Accuracy for classification, R² for regression."""
        y_pred = self.predict(X)
        if self.task_ == "classification":
            return accuracy_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y, y_pred, sample_weight=sample_weight)
