"""The fitted-state contract: everything a fitted quantizer is, as plain data.

``fitted_state(estimator)`` (in ``_estimator``) returns a :class:`FittedState`;
``estimator_from_state(cls, state)`` checks one and builds a fitted estimator
from it (the network rebuilt from ``module_state``). Persistence, export and
plotting use only this, never the estimator's internals, so the estimator can
change inside without breaking saved files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ._network import TensorSource
from ._target import FittedTarget
from .codec import Codec


@dataclass
class FittedState:
    """A fitted quantizer as data (raw units unless said otherwise).

    ``params`` are the parameters the model was fitted with (``get_params()``
    at fit: a later ``set_params`` does not change the model);
    ``allocation_trace`` is set only for ``n_bits="auto"``.
    """

    params: dict
    n_features_in: int
    feature_names_in: np.ndarray | None
    target: FittedTarget
    codec: Codec
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    allocation_trace: dict[str, np.ndarray] | None
    module_state: TensorSource

    def digest(self) -> str:
        """SHA-256 of everything that decides the outputs: the encoder
        (``model_id``), the standardization, the bin values, the target and
        the network's tensors."""
        digest = hashlib.sha256(self.codec.model_id.encode())
        for array in (self.feature_mean, self.feature_scale, *self.codec.bin_values):
            digest.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
        target = self.target
        digest.update(repr((target.task, target.classes, target.mean)).encode())
        digest.update(repr((target.scale, self.codec.representation)).encode())
        for key in self.module_state.keys():
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.module_state.read(key)).tobytes())
        return digest.hexdigest()

    def feature_names(self) -> list[str]:
        """``feature_names_in`` as strings, or ``x0, x1, ...``."""
        if self.feature_names_in is not None:
            return [str(n) for n in self.feature_names_in]
        return [f"x{j}" for j in range(self.n_features_in)]
