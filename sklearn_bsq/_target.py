"""The task and the training target: task inference, label and value encoding
(numpy only)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target

TASKS = ("classification", "regression")

# task="auto" warns when whole-number targets look like a quantity: more than this
# many distinct values, with fewer than ``_FEW_PER_VALUE`` samples each on average.
_MANY_VALUES = 20
_FEW_PER_VALUE = 5


def resolve_task(task: str, y) -> str:
    """The task to train: ``task`` itself, or read from ``y`` when "auto"."""
    _check_labels_sort(y)
    if task != "auto":
        return task
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind in ("binary", "multiclass"):
        _warn_if_quantity(y)
        return "classification"
    if kind == "continuous":
        return "regression"
    raise ValueError(
        f"task='auto' cannot tell the task from a target of type {kind!r}; pass "
        "task='classification' or task='regression' (multi-output targets are "
        "not supported)."
    )


def _check_labels_sort(y) -> None:
    """Object labels must sort (classes are kept sorted): name mixed types or None
    instead of numpy's "'<' not supported" from deep inside ``np.unique``."""
    y = np.asarray(y)
    if y.dtype != object:
        return
    try:
        np.unique(y)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in y.ravel()})
        raise ValueError(
            f"y mixes labels of types {kinds} that cannot be ordered; give labels "
            "of one type (all strings or all numbers), and encode missing labels "
            "as a value of that type (None is not a label)."
        ) from None


def looks_like_quantity(y) -> bool:
    """Whether numeric whole-number labels look like a regression target (for
    example prices in whole units): many distinct values, few samples each."""
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        return False  # string or object labels are classes
    n_values = np.unique(y).size
    return n_values > _MANY_VALUES and y.size < _FEW_PER_VALUE * n_values


def _warn_if_quantity(y) -> None:
    """Warn when numeric class labels look like a regression target."""
    if looks_like_quantity(y):
        y = np.asarray(y)
        n_values = np.unique(y).size
        warnings.warn(
            f"task='auto' reads y as classification because its values are whole "
            f"numbers, but it has {n_values} distinct values ({y.size / n_values:.1f} "
            "samples each on average), like a quantity. Pass task='regression' "
            "(or use SoftQuantizerRegressor) if y is a quantity, or "
            "task='classification' to keep the classes and silence this warning.",
            UserWarning,
            stacklevel=2,
        )


@dataclass(frozen=True)
class EncodedTarget:
    """What the network trains on, and how to map its outputs back."""

    y: np.ndarray  # int64 class indices, or float32 standardized values
    classes: np.ndarray | None = None
    mean: float = 0.0
    scale: float = 1.0


def encode_target(task: str, y, sample_weight=None) -> EncodedTarget:
    """Class indices for classification, a standardized float32 target otherwise
    (with the ``sample_weight``-weighted mean and standard deviation)."""
    if task == "classification":
        check_classification_targets(y)
        classes, indices = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "classification needs samples of at least 2 classes, got 1 class "
                f"({classes.tolist()[0]!r})."
            )
        return EncodedTarget(indices.astype(np.int64), classes=classes)
    y = np.asarray(y, dtype=np.float64)
    # Statistics of y / max|y|, scaled back: squares of targets near 1e200
    # overflow, and an infinite scale would make every prediction inf or NaN.
    peak = float(np.abs(y).max())
    unit = peak if peak > 0 else 1.0
    z = y / unit
    z_mean, z_std = map(float, mean_and_std(z, sample_weight))
    z_scale = z_std if z_std > 0 else 1.0 / unit
    return EncodedTarget(
        ((z - z_mean) / z_scale).astype(np.float32),
        mean=z_mean * unit,
        scale=z_scale * unit,
    )


def mean_and_std(values: np.ndarray, weights=None, axis=None) -> tuple:
    """Mean and (population) standard deviation in float64 along ``axis``,
    weighted by ``weights`` (one per row) if given."""
    if weights is None:
        return (
            values.mean(axis=axis, dtype=np.float64),
            values.std(axis=axis, dtype=np.float64),
        )
    values = values.astype(np.float64)
    mean = np.average(values, axis=axis, weights=weights)
    variance = np.average((values - mean) ** 2, axis=axis, weights=weights)
    return mean, np.sqrt(variance)


def encode_with(y, classes: np.ndarray | None, mean: float, scale: float) -> np.ndarray:
    """The training target of a later chunk, encoded as the first one was: class
    indices among ``classes`` (a label outside them is an error), or the value
    standardized with the first chunk's ``mean`` and ``scale``."""
    if classes is None:
        return ((np.asarray(y, dtype=np.float64) - mean) / scale).astype(np.float32)
    y = np.asarray(y)
    indices = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    unknown = classes[indices] != y
    if np.any(unknown):
        raise ValueError(
            f"y holds labels that are not among the classes {classes.tolist()}: "
            f"{np.unique(y[unknown]).tolist()}. Give every class in the first "
            "partial_fit call (classes=...)."
        )
    return indices.astype(np.int64)


def check_stream_classes(classes, task: str, first_classes=None) -> None:
    """``partial_fit``'s ``classes``: for classification only, and on a later
    call the first call's (scikit-learn's rule: a stream keeps its classes)."""
    if classes is None:
        return
    if task == "regression":
        raise ValueError(
            "classes is for classification and this model is a regression: "
            "call partial_fit without classes."
        )
    if first_classes is not None:
        given = np.unique(np.asarray(classes))
        if not np.array_equal(given, first_classes):
            raise ValueError(
                f"classes={given.tolist()} is not what the first partial_fit call "
                f"fixed, {first_classes.tolist()}; a stream keeps its classes "
                "(fit starts over)."
            )


@dataclass(frozen=True)
class FittedTarget:
    """The task a network was trained for and how its outputs become
    predictions: class labels (``classes``) or values in the target's units
    (``mean + scale * output``)."""

    task: str
    classes: np.ndarray | None = None
    mean: float | None = None
    scale: float | None = None

    @classmethod
    def fit(cls, task: str, y, sample_weight=None) -> tuple[FittedTarget, np.ndarray]:
        """The target of ``y`` for ``task`` and what the network trains on."""
        encoded = encode_target(task, y, sample_weight)
        if task == "classification":
            return cls(task, classes=encoded.classes), encoded.y
        return cls(task, mean=encoded.mean, scale=encoded.scale), encoded.y

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.classification else 1

    def encode(self, y) -> np.ndarray:
        """The training target of later data, encoded as the first was."""
        return encode_with(y, self.classes, self.mean or 0.0, self.scale or 1.0)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Labels or raw-unit values from network outputs."""
        if self.classification:
            return self.classes[outputs.argmax(axis=1)]
        return outputs.astype(np.float64) * self.scale + self.mean
