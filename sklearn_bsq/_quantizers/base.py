"""What every quantizer is: the contract the estimator, the training schedule, the
bit allocation and persistence rely on, and the registry that names them.

A quantizer is a torch module over standardized features. Feature ``j`` has
``2**n_bits[j] - 1`` sorted thresholds; its hard code is the number of them
strictly below the reading, which is what a node computes and sends.
``forward(x)`` gives the network's input for standardized rows (soft while
training when the quantizer says so), ``forward(codes=...)`` the same input
rebuilt from the codes alone (the server side). Feature ``j``'s input is the
contiguous block of ``out_sizes[j]`` columns.

A new quantizer is one new module that subclasses :class:`Quantizer` and
registers a factory with :func:`register`; ``quantizer="<name>"`` then selects
it in the estimators.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from .._widths import n_thresholds, widths_of
from .ops import count_below


def register_derived_buffer(module: nn.Module, name: str, values) -> None:
    """Give ``module`` a buffer computed from its widths as it is built, not
    saved (outside the state dict). Made on the CPU even where the module is
    laid out on torch's "meta" device: loading fills only the state dict."""
    tensor = None if values is None else torch.as_tensor(values, device="cpu")
    module.register_buffer(name, tensor, persistent=False)


class Quantizer(nn.Module):
    """Base class: per-feature thresholds, hard codes, the network's input.

    Parameters
    ----------
    init_thresholds : sequence of 1-D arrays
        Strictly increasing initial thresholds per feature in standardized
        units, ``2**b_j - 1`` of them for a width ``b_j >= 1``.

    Attributes
    ----------
    n_bits : ndarray of int
        Width of every feature.
    out_sizes : ndarray of int
        Network inputs per feature (set by the subclass).
    out_features : int
        ``out_sizes.sum()``.
    uses_steepness : bool
        Whether training anneals ``steepness`` (sigmoid steps); the estimator
        runs the steepness schedule only then.
    threshold_parameters : tuple of str
        Names of the parameters that move the thresholds; they train at the
        estimator's ``threshold_lr``.
    """

    uses_steepness = False
    threshold_parameters: tuple[str, ...] = ()

    def __init__(self, init_thresholds: Sequence[NDArray]) -> None:
        super().__init__()
        counts = np.array([len(t) for t in init_thresholds], dtype=np.int64)
        if counts.size == 0 or np.any(counts < 1):
            raise ValueError("each feature needs 2**b - 1 thresholds with b >= 1.")
        self.n_bits = widths_of(counts)
        register_derived_buffer(self, "counts", counts)
        self.steepness = 1.0

    def thresholds(self) -> Tensor:
        """Current thresholds, shape ``(d, K_max)``; row ``j`` is meaningful up to
        ``2**n_bits[j] - 1`` entries, padding above."""
        raise NotImplementedError

    def forward(self, x: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        """Network input, shape ``(n, out_features)``, from rows ``x`` or ``codes``."""
        raise NotImplementedError

    def hard_codes(self, x: Tensor) -> Tensor:
        """Codes of standardized rows: thresholds strictly below, shape (n, d)."""
        return count_below(self.thresholds(), self.counts, x)

    def feature_thresholds(self) -> list[NDArray[np.float64]]:
        """The thresholds of every feature without padding, standardized units."""
        table = self.thresholds().detach().cpu().numpy().astype(np.float64)
        counts = n_thresholds(self.n_bits)
        return [row[:k] for row, k in zip(table, counts, strict=True)]


QuantizerFactory = Callable[[Sequence[NDArray], str | None], Quantizer]
QUANTIZERS: dict[str, QuantizerFactory] = {}
# Quantizers whose network input is a representation of the steps.
REPRESENTING: set[str] = set()


def register(name: str, *, uses_representation: bool = True):
    """Decorator: make a factory ``(init_thresholds, representation) ->
    Quantizer`` selectable as ``quantizer=name``. A quantizer that feeds the
    network something of its own (``uses_representation=False``) is given
    None as its representation."""

    def add(factory: QuantizerFactory) -> QuantizerFactory:
        if name in QUANTIZERS:
            raise ValueError(f"a quantizer named {name!r} is already registered.")
        QUANTIZERS[name] = factory
        if uses_representation:
            REPRESENTING.add(name)
        return factory

    return add


def unregister(name: str) -> None:
    """Remove a registered quantizer (tests that register their own)."""
    QUANTIZERS.pop(name, None)
    REPRESENTING.discard(name)


def build_quantizer(
    name: str, init_thresholds: Sequence[NDArray], representation: str
) -> Quantizer:
    """The registered quantizer ``name`` for these initial thresholds."""
    if name not in QUANTIZERS:
        raise ValueError(
            f"quantizer must be one of {sorted(QUANTIZERS)}, got {name!r}."
        )
    return QUANTIZERS[name](init_thresholds, representation)
