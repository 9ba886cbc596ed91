"""A trainable uniform quantizer with straight-through rounding (LSQ-style baseline).

Each feature ``j`` has an offset ``o_j`` and a step ``s_j > 0``. The code is
``clamp(round((x - o_j) / s_j), 0, L_j - 1)`` and the network sees the dequantized
value ``o_j + s_j * code``. Rounding passes gradients straight through; the step
gets the LSQ gradient scale ``1 / sqrt(n * L)`` (Esser et al., 2020). The hard code
equals the number of the uniform thresholds ``o_j + (k - 1/2) s_j`` (``k = 1..L-1``)
below the reading, so encoding and packing are shared with the soft quantizer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional as F

from .._widths import n_thresholds
from .base import Quantizer, register
from .ops import round_ste, scale_grad


class UniformSTEQuantizer(Quantizer):
    """Per-feature uniform grid with learned offset and step.

    Parameters
    ----------
    init_thresholds : sequence of 1-D arrays
        Initial thresholds per feature (standardized units), ``2**b_j - 1`` each;
        only the first and last are used to place the initial uniform grid.
    """

    def __init__(self, init_thresholds: Sequence[NDArray]) -> None:
        super().__init__(init_thresholds)
        counts = n_thresholds(self.n_bits)
        low = np.array([t[0] for t in init_thresholds], dtype=np.float64)
        high = np.array([t[-1] for t in init_thresholds], dtype=np.float64)
        step = np.where(counts > 1, (high - low) / np.maximum(counts - 1, 1), 1.0)
        step = np.maximum(step, 1e-3)
        self.register_buffer(
            "n_levels", torch.as_tensor(counts + 1, dtype=torch.float32)
        )
        self.offset = nn.Parameter(torch.as_tensor(low - step / 2, dtype=torch.float32))
        self.raw_step = nn.Parameter(
            torch.as_tensor(np.log(np.expm1(step)), dtype=torch.float32)
        )
        self.out_sizes = np.ones(len(counts), dtype=int)  # one value per feature
        self.out_features = len(counts)

    def step(self) -> Tensor:
        return F.softplus(self.raw_step)

    def thresholds(self) -> Tensor:
        """The uniform grid's thresholds, shape ``(d, K_max)`` (padding beyond K_j)."""
        k = torch.arange(
            1, int(self.n_levels.max()), dtype=torch.float32, device=self.offset.device
        )
        return self.offset[:, None] + (k[None, :] - 0.5) * self.step()[:, None]

    def forward(self, x: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        step, top = self.step(), self.n_levels - 1
        if codes is not None:
            return self.offset + step * codes.to(torch.float32)
        if self.training:
            g = 1.0 / float(np.sqrt(x.shape[0] * float(top.max())))
            step = scale_grad(step, g)
            offset = scale_grad(self.offset, g)
            code = torch.clamp(
                round_ste((x - offset) / step), torch.zeros_like(top), top
            )
            return offset + step * code
        return self.offset + step * self.hard_codes(x).to(torch.float32)


@register("lsq", uses_representation=False)
def lsq_quantizer(init_thresholds, representation: None) -> UniformSTEQuantizer:
    """A learned uniform grid per feature; ignores ``representation``."""
    return UniformSTEQuantizer(init_thresholds)
