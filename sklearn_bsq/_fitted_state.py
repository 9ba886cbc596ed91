"""The fitted-state contract: everything a fitted quantizer is, as plain data.

``SoftQuantizer._get_fitted_state()`` returns a :class:`FittedState`;
``SoftQuantizer._set_fitted_state(state)`` checks one and makes the estimator
fitted with it (the network rebuilt from ``module_state``). Persistence, export
and plotting use only this, never the estimator's other internals, so the
estimator can change inside without breaking saved files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._encoding import model_id


class TensorSource(Protocol):
    """The network's tensors by state-dict key; shapes are known before the data
    is read, so a file that describes a bigger network than its parameters can
    be refused before anything is allocated."""

    def keys(self) -> Iterable[str]: ...

    def shape(self, key: str) -> tuple[int, ...]: ...

    def read(self, key: str) -> np.ndarray: ...


class InMemoryTensors:
    """A :class:`TensorSource` over a dict of arrays or torch tensors (a live
    module's state dict: a tensor is copied to a CPU array only when read, so
    export and plotting, which never read them, copy nothing)."""

    def __init__(self, arrays: dict) -> None:
        self.arrays = arrays

    def keys(self) -> list[str]:
        return list(self.arrays)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.arrays[key].shape)

    def read(self, key: str) -> np.ndarray:
        value = self.arrays[key]
        return value.detach().cpu().numpy() if hasattr(value, "detach") else value


@dataclass
class FittedState:
    """A fitted quantizer as data (raw units unless said otherwise).

    ``thresholds[j]`` has ``2**n_bits[j] - 1`` float32 entries and
    ``bin_values[j]`` one more (one entry for a feature with 0 bits);
    ``classes`` is set for classification, ``target_mean`` and
    ``target_scale`` for regression; ``allocation_trace`` only for
    ``n_bits="auto"``.
    """

    n_features_in: int
    feature_names_in: np.ndarray | None
    task: str
    classes: np.ndarray | None
    target_mean: float | None
    target_scale: float | None
    n_bits: np.ndarray
    representation: str | None  # what "auto" chose; None: the quantizer has none
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    thresholds: list[np.ndarray]
    bin_values: list[np.ndarray]
    allocation_trace: dict[str, np.ndarray] | None
    module_state: TensorSource

    @property
    def model_id(self) -> str:
        """Fingerprint of the encoder (widths and thresholds), as ``model_id_``."""
        return model_id(self.n_bits, self.thresholds)

    @property
    def n_outputs(self) -> int:
        return 1 if self.task == "regression" else len(self.classes)

    def digest(self) -> str:
        """SHA-256 of everything that decides the outputs: the encoder
        (``model_id``), the standardization, the bin values, the task and the
        network's tensors."""
        digest = hashlib.sha256(self.model_id.encode())
        for array in (self.feature_mean, self.feature_scale, *self.bin_values):
            digest.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
        digest.update(repr((self.task, self.classes, self.target_mean)).encode())
        digest.update(repr((self.target_scale, self.representation)).encode())
        for key in self.module_state.keys():
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.module_state.read(key)).tobytes())
        return digest.hexdigest()

    def feature_names(self) -> list[str]:
        """``feature_names_in`` as strings, or ``x0, x1, ...``."""
        if self.feature_names_in is not None:
            return [str(n) for n in self.feature_names_in]
        return [f"x{j}" for j in range(self.n_features_in)]


def state_of(estimator, user: str) -> FittedState:
    """The fitted state of a SoftQuantizer passed to ``user`` (a function name);
    a clear TypeError for anything else, NotFittedError before ``fit``."""
    if not hasattr(estimator, "_get_fitted_state"):
        check_is_fitted(estimator)  # TypeError for what is not an estimator
        raise TypeError(
            f"{user} takes a fitted SoftQuantizer, SoftQuantizerClassifier or "
            f"SoftQuantizerRegressor, got {type(estimator).__name__}."
        )
    return estimator._get_fitted_state()
