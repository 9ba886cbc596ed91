"""``partial_fit``: training on data that arrives in chunks (out-of-core).

The first call fixes what a fit derives from all of its data, here from the
first chunk: the task and the classes (give them all with ``classes=``), the
regression target's scale, the widths, the feature standardization and the
initial thresholds. Every call then trains one epoch over its chunk, going on
with the thresholds and the network; the steepness and learning-rate schedules
count calls as epochs, over ``max_epochs`` calls.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.metaestimators import available_if

from ._target import encode_target, encode_with, resolve_task
from ._threshold_init import initial_thresholds
from ._training import own_random_state, training_inputs
from ._validation import (
    check_n_bits,
    check_readings,
    check_sample_weight,
    check_steepness,
    learns_widths,
)


def _widths_are_given(estimator) -> bool:
    """``available_if`` check: no ``partial_fit`` with ``n_bits="auto"``."""
    if learns_widths(estimator.n_bits):
        raise AttributeError(
            "partial_fit is not available with n_bits='auto': the widths are "
            "learned from all the data at once; use fit, or give the widths."
        )
    return True


class IncrementalMixin:
    """``partial_fit`` for a SoftQuantizer (see the module docstring)."""

    @available_if(_widths_are_given)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train on one chunk of the data: one epoch, continuing the last call.

        The first call (on an estimator without a fit) fixes the task, the
        classes, the widths, the standardization and the initial thresholds from
        its chunk; later calls only train. The steepness and learning-rate
        schedules count calls as epochs: after ``max_epochs`` calls (40 for
        ``max_epochs="auto"``, which cannot know the rows to come) the steps are
        at their final steepness and, with ``lr_schedule="cosine"``, the
        learning rate has decayed to 0, so use ``lr_schedule="constant"`` for an
        open-ended stream. ``bin_values_`` (what ``inverse_transform`` returns)
        comes from the latest chunk. ``early_stopping`` does not apply, and
        with ``n_bits="auto"`` there is no ``partial_fit`` (the widths are
        learned from all the data at once).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, default=None
            Every class label the stream can hold, on the first call of a
            classifier (a chunk need not hold them all; default: the labels of
            the first chunk); ignored later.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row of the chunk. Unlike in ``fit``
            they are used as given, so that chunks weigh against each other:
            the chunk's loss is the mean of weight x row loss (keep weights
            around 1). On the first call they also weigh the standardization
            and the initial quantiles.

        Returns
        -------
        self : object

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, lr_schedule="constant", random_state=0)
        >>> for start in range(0, 500, 100):  # five chunks of 100 rows
        ...     _ = clf.partial_fit(X[start : start + 100], y[start : start + 100],
        ...                         classes=[0, 1])
        >>> len(clf.net_.history), clf.bytes_per_row_
        (5, 8)
        """
        if not hasattr(self, "net_"):
            return self._fit_or_forget(
                X, y, lambda X, y: self._first_chunk(X, y, classes, sample_weight)
            )
        X, y = check_readings(self, X, y, reset=False)
        weights = check_sample_weight(sample_weight, X, rescale=False)
        target = encode_with(
            y,
            getattr(self, "classes_", None),
            getattr(self, "target_mean_", 0.0),
            getattr(self, "target_scale_", 1.0),
        )
        with own_random_state(self, self.net_.device, seed=self._draw_seed()):
            self._train_on_chunk(X, target, weights)
        return self

    def _first_chunk(self, X, y, classes, sample_weight):
        steepness = check_steepness(self.steepness)
        hidden = self._check_hidden_layer_sizes()
        X, y = check_readings(self, X, y, reset=True)
        weights = check_sample_weight(sample_weight, X, rescale=False)
        self.n_bits_ = check_n_bits(self.n_bits, X.shape[1])
        task = "classification" if classes is not None else self._task_param()
        self.task_ = resolve_task(task, y)
        if self.task_ == "classification":
            labels = y if classes is None else np.asarray(classes)
            if classes is None and np.unique(labels).size < 2:
                raise ValueError(
                    "the first partial_fit chunk holds one class; give every label "
                    "the stream can hold with classes=."
                )
            self.classes_ = encode_target("classification", labels).classes
            target = encode_with(y, self.classes_, 0.0, 1.0)
        else:
            encoded = encode_target("regression", y, weights)
            self.target_mean_, self.target_scale_ = encoded.mean, encoded.scale
            target = encoded.y
        X_std = self._fit_standardization(X, weights)
        init = [
            initial_thresholds(
                X_std[:, j], 2 ** int(b) - 1, self.threshold_init, weights
            )
            for j, b in enumerate(self.n_bits_)
        ]
        setup = self._training_setup(steepness, self.threshold_lr)
        with own_random_state(self, setup.device):
            self.net_ = setup.start(
                lambda: self._build_module(init, hidden), self._draw_seed()
            )
            self._train_on_chunk(X, target, weights)
        return self

    def _train_on_chunk(self, X: np.ndarray, target: np.ndarray, weights) -> None:
        """One epoch over the chunk, then the fitted attributes that follow."""
        inputs = training_inputs(self._standardize(X), weights)
        self.net_.partial_fit(inputs, target, epochs=1)
        self.net_.module_.eval()
        self._set_trained_attributes(X, weights)
