"""The trainable bitwise soft quantizer as a torch module.

Each feature ``j`` has ``K_j = 2**b_j - 1`` thresholds, kept strictly increasing by
construction: the first is free, the others add a positive (softplus) gap to the one
before. Training replaces each step ``1[x > t]`` with ``sigmoid(a * (x - t))``; eval
uses hard steps. The network never sees the steps directly but a representation of
them (``representations``: one class each), a linear map of the step
("thermometer") vector, so the same sigmoids drive all of them.

Features are stored in padded ``(d, K_max)`` tensors; a mask hides the padding of
features with fewer bits. Inputs are standardized features (training units).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional as F

from .._widths import n_thresholds
from .base import Quantizer, register, register_derived_buffer
from .ops import inverse_softplus
from .representations import REPRESENTATION_CLASSES, representation_names


class BitwiseSoftQuantizer(Quantizer):
    """Trainable per-feature thresholds with soft (train) and hard (eval) steps.

    Parameters
    ----------
    init_thresholds : sequence of 1-D arrays
        Strictly increasing initial thresholds per feature, in standardized units;
        feature ``j`` must have ``2**b_j - 1`` of them.
    representation : str
        What the downstream network sees of each code: a name in
        ``REPRESENTATION_CLASSES`` ("auto" is resolved before).
    learnable : bool, default=True
        If False the thresholds stay at their initial values and training uses
        hard steps too (the fixed binning baselines).

    Attributes
    ----------
    steepness : float
        The sigmoid slope ``a`` in units of "levels per standard deviation": the
        slope applied to feature ``j`` is ``steepness * 2**b_j``, so one value
        means the same softness at every width. Set by the training schedule.
    """

    # the first threshold and the (softplus) gaps to the next ones
    threshold_parameters = ("first", "raw_gaps")

    def __init__(
        self,
        init_thresholds: Sequence[NDArray],
        representation: str = "thermometer",
        learnable: bool = True,
    ) -> None:
        super().__init__(init_thresholds)
        if representation not in REPRESENTATION_CLASSES:
            raise ValueError(
                f"representation must be one of {tuple(REPRESENTATION_CLASSES)} "
                f"(resolve {representation_names()[0]!r} first with "
                f"resolve_representation), got {representation!r}."
            )
        n_bits = self.n_bits
        counts = n_thresholds(n_bits)
        self.representation = representation
        d, k_max = len(counts), int(counts.max())
        padded = np.zeros((d, k_max))
        gaps = np.ones((d, max(k_max - 1, 0)))
        for j, t in enumerate(init_thresholds):
            t = np.asarray(t, dtype=np.float64)
            if np.any(np.diff(t) <= 0):
                raise ValueError(f"initial thresholds of feature {j} must increase.")
            padded[j, : t.size] = t
            gaps[j, : t.size - 1] = np.diff(t)
        mask = np.arange(k_max)[None, :] < counts[:, None]
        self.register_buffer("mask", torch.as_tensor(mask))
        # With equal widths there is no padding: skip masking and gathers.
        self.dense = bool(mask.all())
        register_derived_buffer(self, "step_index", np.flatnonzero(mask))
        self.register_buffer(
            "slope_scale", torch.as_tensor(2.0**n_bits, dtype=torch.float32)
        )
        self.first = nn.Parameter(torch.as_tensor(padded[:, 0], dtype=torch.float32))
        self.raw_gaps = nn.Parameter(
            torch.as_tensor(inverse_softplus(gaps), dtype=torch.float32)
        )
        self.first.requires_grad_(learnable)
        self.raw_gaps.requires_grad_(learnable)
        self.learnable = learnable
        self.uses_steepness = learnable
        self.representer = REPRESENTATION_CLASSES[representation]()
        # Outputs per feature, in feature order: feature j owns a contiguous block.
        self.out_sizes = self.representer.attach(self, padded, counts)
        self.out_features = int(self.out_sizes.sum())

    def thresholds(self) -> Tensor:
        """Current thresholds, shape ``(d, K_max)``; padding entries are meaningless."""
        gaps = F.softplus(self.raw_gaps)
        offsets = torch.cumsum(gaps, dim=1)
        return torch.cat([self.first[:, None], self.first[:, None] + offsets], dim=1)

    def soft_steps(self, x: Tensor) -> Tensor:
        """Sigmoid steps, shape ``(n, d, K_max)``, zero on padding."""
        slope = self.steepness * self.slope_scale[:, None]
        steps = torch.sigmoid(slope * (x[:, :, None] - self.thresholds()[None]))
        return steps if self.dense else steps * self.mask

    def hard_steps(self, x: Tensor) -> Tensor:
        """Hard steps ``1[x > t]``, shape ``(n, d, K_max)``, zero on padding."""
        return ((x[:, :, None] > self.thresholds()[None]) & self.mask).to(x.dtype)

    def steps_from_codes(self, codes: Tensor) -> Tensor:
        """The hard steps a code stands for: ``c`` ones, then zeros."""
        k = torch.arange(self.mask.shape[1], device=codes.device)
        return (k[None, None, :] < codes[:, :, None]).to(torch.float32)

    def represent(self, steps: Tensor) -> Tensor:
        """Map step vectors to what the network sees (``representations``)."""
        return self.representer.from_steps(self, steps)

    def forward(self, x: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        """Quantize standardized features ``x``, or rebuild the input from ``codes``.

        Codes (what the server receives) always give the hard representation;
        ``x`` gives soft steps when training learnable thresholds, else hard steps.
        """
        if codes is not None:
            return self.representer.from_codes(self, codes)
        if self.training and self.learnable:
            return self.representer.from_soft(self, x)
        return self.representer.from_hard(self, x)


@register("soft")
def soft_quantizer(init_thresholds, representation: str) -> BitwiseSoftQuantizer:
    """The method: thresholds learned through sigmoid steps of growing steepness."""
    return BitwiseSoftQuantizer(init_thresholds, representation, learnable=True)


@register("fixed")
def fixed_quantizer(init_thresholds, representation: str) -> BitwiseSoftQuantizer:
    """The initial thresholds kept fixed (plain binning; a baseline)."""
    return BitwiseSoftQuantizer(init_thresholds, representation, learnable=False)
