"""Torch helpers the quantizers share."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor


def count_below(thresholds: Tensor, counts: Tensor, x: Tensor) -> Tensor:
    """Hard codes, shape (n, d): how many of feature ``j``'s first ``counts[j]``
    thresholds (rows of the sorted, padded ``(d, K_max)`` table) lie strictly
    below ``x[:, j]``. A binary search: no (n, d, K_max) comparison tensor."""
    below = torch.searchsorted(thresholds.detach(), x.T.contiguous())
    return torch.minimum(below, counts[:, None]).T  # padding lies above


def inverse_softplus(y: NDArray) -> NDArray:
    """``x`` with ``softplus(x) == y`` (for ``y > 0``)."""
    return y + np.log(-np.expm1(-y))


def round_ste(x: Tensor) -> Tensor:
    """Round in the forward pass, identity in the backward pass."""
    return x + (torch.round(x) - x).detach()


def scale_grad(x: Tensor, factor: float) -> Tensor:
    """Identity in the forward pass, gradient multiplied by ``factor``."""
    return x * factor + (x - x * factor).detach()
