"""The trainable bitwise soft quantizer as a torch module.

Each feature ``j`` has ``K_j = 2**b_j - 1`` thresholds, kept strictly increasing by
construction: the first is free, the others add a positive (softplus) gap to the one
before. Training replaces each step ``1[x > t]`` with ``sigmoid(a * (x - t))``; eval
uses hard steps. The network never sees the steps directly but one of four
representations, each a linear map of the step ("thermometer") vector, so the same
sigmoids drive all of them:

- ``"thermometer"``: the ``K_j`` steps (``sum K_j`` outputs);
- ``"bits"``: the ``b_j`` binary digits of the code (``sum b_j`` outputs);
- ``"levels"``: one trainable quantized value per feature (``d`` outputs);
- ``"embedding"``: ``EMBEDDING_CHANNELS`` trainable values per code and feature
  (``16 d`` outputs): a learned low-rank factor of the first layer on the
  thermometer, whose size does not grow with ``2**b``;
- ``"levels+thermometer"``: per feature its level followed by its ``K_j`` steps
  (``sum (K_j + 1)`` outputs): the level keeps the order and spacing of the codes
  (a smooth trend costs the network one weight), the steps let it bend anywhere.

``"auto"`` is resolved before a quantizer is built (``resolve_representation``).

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
from .base import Quantizer, register
from .ops import inverse_softplus

REPRESENTATIONS = (
    "auto",
    "thermometer",
    "bits",
    "levels",
    "embedding",
    "levels+thermometer",
)
# Representations with one trainable value per code and feature (a level).
LEVELLED = ("levels", "embedding", "levels+thermometer")
# "embedding": trainable values per code and feature in this many channels.
EMBEDDING_CHANNELS = 16
# "auto" by the widest feature: up to this many steps (4 bits) a representation
# with the steps themselves, above it the embedding, whose first layer does not
# grow with 2**b.
AUTO_THERMOMETER_MAX_STEPS = 15
# What "auto" means: "current" for a new fit; "thermometer", what it meant when
# format-1 files that do not record their representation were written, still
# the representation the bit allocation ranks bits with.
AUTO_MEANINGS = {
    "current": ("levels+thermometer", "embedding"),
    "thermometer": ("thermometer", "embedding"),
}

# Soft "levels" evaluate sigmoids only for this many thresholds on each side of
# a reading and count the others as 0 or 1. The slope grows with 2**b, so the
# spacing of equal-frequency thresholds in slope units does not shrink with the
# width: for a normal feature it is about 2.5 * steepness in the middle, and the
# thresholds left out, at least 4 spacings away, have sigmoids below 1e-17 at
# the initial steepness 4. Denser thresholds (heavy tails) leave more out.
WINDOW = 4
WINDOWED_FROM = 63  # thresholds per feature (6 bits) from which the window pays


def resolve_representation(
    representation: str, widths, meaning: str = "current"
) -> str:
    """``representation`` with "auto" resolved for features of these widths
    (by the widest one; see ``AUTO_MEANINGS``). The one place that says what
    "auto" means.

    >>> resolve_representation("auto", [2, 4]), resolve_representation("auto", [6])
    ('levels+thermometer', 'embedding')
    >>> resolve_representation("bits", [6])
    'bits'
    """
    if representation != "auto":
        return representation
    narrow, wide = AUTO_MEANINGS[meaning]
    return (
        narrow
        if n_thresholds(int(np.max(widths))) <= AUTO_THERMOMETER_MAX_STEPS
        else wide
    )


def _bit_flip_matrix(n_bits: int, k_max: int, b_max: int) -> NDArray[np.float32]:
    """``D[k, i]``: change of bit ``i`` (MSB first) when the code goes ``k -> k+1``.

    Summing ``D`` over the active steps of a thermometer vector with ``c`` ones
    gives the binary digits of ``c``.
    """
    matrix = np.zeros((k_max, b_max), dtype=np.float32)
    codes = np.arange(2**n_bits)
    digits = (codes[:, None] >> np.arange(n_bits - 1, -1, -1)[None, :]) & 1
    matrix[: n_thresholds(n_bits), :n_bits] = np.diff(digits, axis=0)
    return matrix


class BitwiseSoftQuantizer(Quantizer):
    """Trainable per-feature thresholds with soft (train) and hard (eval) steps.

    Parameters
    ----------
    init_thresholds : sequence of 1-D arrays
        Strictly increasing initial thresholds per feature, in standardized units;
        feature ``j`` must have ``2**b_j - 1`` of them.
    representation : {"thermometer", "bits", "levels", "embedding", \
            "levels+thermometer"}
        What the downstream network sees of each code.
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
        if representation not in REPRESENTATIONS:
            raise ValueError(
                f"representation must be one of {REPRESENTATIONS}, got "
                f"{representation!r}."
            )
        if representation == "auto":
            raise ValueError(
                "resolve representation='auto' first (resolve_representation)."
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
        self.register_buffer(
            "step_index", torch.as_tensor(np.flatnonzero(mask)), persistent=False
        )
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

        if representation == "bits":
            b_max = int(n_bits.max())
            flips = np.stack([_bit_flip_matrix(b, k_max, b_max) for b in n_bits])
            self.register_buffer("bit_flips", torch.as_tensor(flips))
            bit_mask = np.arange(b_max)[None, :] < n_bits[:, None]
            self.register_buffer(
                "bit_index", torch.as_tensor(np.flatnonzero(bit_mask)), persistent=False
            )
            self.out_sizes = n_bits.copy()
        elif representation in LEVELLED:
            centers = self._initial_levels(padded, counts)
            start = torch.as_tensor(centers[:, 0], dtype=torch.float32)
            steps = torch.as_tensor(np.diff(centers, axis=1), dtype=torch.float32)
            channels = 1
            if representation == "embedding":
                # Channel 0 starts as the bin midpoints, the others as random
                # walks over the codes of unit scale (drawn from torch's seeded
                # generator), so the channels differ from the first step.
                channels = EMBEDDING_CHANNELS
                walks = torch.randn(d, k_max, channels - 1) / np.sqrt(k_max)
                steps = torch.cat([steps[:, :, None], walks], dim=2)
                start = F.pad(start[:, None], (0, channels - 1))
            self.level_start = nn.Parameter(start)
            self.level_steps = nn.Parameter(steps)
            self.out_sizes = np.full(d, channels)
            if representation == "levels+thermometer":
                # columns of the (d, 1 + K_max) [level, steps] blocks kept
                kept = np.concatenate([np.ones((d, 1), bool), mask], axis=1)
                self.register_buffer(
                    "level_step_index",
                    torch.as_tensor(np.flatnonzero(kept)),
                    persistent=False,
                )
                self.out_sizes = counts + 1
        else:
            self.out_sizes = counts.copy()
        # Outputs per feature, in feature order: feature j owns a contiguous block.
        self.out_features = int(self.out_sizes.sum())

    @staticmethod
    def _initial_levels(padded: NDArray, counts: NDArray) -> NDArray:
        """Bin midpoints per feature, padded with the last one (zero steps)."""
        d, k_max = padded.shape
        centers = np.zeros((d, k_max + 1))
        for j, k in enumerate(counts):
            t = padded[j, :k]
            gap = np.diff(t).mean() if k > 1 else 1.0
            edges = np.concatenate([[t[0] - gap], t, [t[-1] + gap]])
            mids = (edges[:-1] + edges[1:]) / 2
            centers[j, : k + 1] = mids
            centers[j, k + 1 :] = mids[-1]
        return centers

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
        """Map step vectors to what the network sees (see the module docstring)."""
        n = steps.shape[0]
        if self.representation == "thermometer":
            flat = steps.reshape(n, -1)
            return flat if self.dense else flat.index_select(1, self.step_index)
        if self.representation == "bits":
            bits = torch.einsum("ndk,dkb->ndb", steps, self.bit_flips).reshape(n, -1)
            return bits if self.dense else bits.index_select(1, self.bit_index)
        if self.representation == "embedding":
            values = torch.einsum("ndk,dke->nde", steps, self.level_steps)
            return (self.level_start + values).reshape(n, -1)
        # steps are 0 on padding, so the padded level steps add nothing
        levels = self.level_start + (steps * self.level_steps).sum(dim=2)
        if self.representation == "levels":
            return levels
        flat = torch.cat([levels[:, :, None], steps], dim=2).reshape(n, -1)
        return flat if self.dense else flat.index_select(1, self.level_step_index)

    # ------------------------------------------------ "levels" without step tensors
    def _masked_level_steps(self) -> Tensor:
        """Level change per threshold, zero on padding, shape (d, K_max) (with a
        trailing channel axis for "embedding")."""
        if self.dense:
            return self.level_steps
        mask = self.mask if self.level_steps.dim() == 2 else self.mask[:, :, None]
        return self.level_steps * mask

    def _level_prefix(self, steps: Tensor | None = None) -> Tensor:
        """``P[j, c]``: level of code ``c`` minus the first level, shape (d, K+1)
        (with a trailing channel axis for "embedding")."""
        steps = self._masked_level_steps() if steps is None else steps
        first_code = (1, 0) if steps.dim() == 2 else (0, 0, 1, 0)
        return F.pad(torch.cumsum(steps, dim=1), first_code)

    def _levels_from_codes(self, codes: Tensor) -> Tensor:
        if self.representation == "embedding":
            prefix = self._level_prefix()
            index = codes.T.contiguous()[:, :, None].expand(-1, -1, prefix.shape[2])
            values = prefix.gather(1, index).permute(1, 0, 2) + self.level_start
            return values.reshape(len(codes), -1)
        prefix = self._level_prefix().gather(1, codes.T.contiguous())
        return self.level_start + prefix.T

    def _soft_levels(self, x: Tensor) -> Tensor:
        """Soft levels from sigmoids of the ``2 * WINDOW`` nearest thresholds."""
        t = self.thresholds()
        d, k_max = t.shape
        xt = x.T.contiguous()  # (d, n)
        n = xt.shape[1]
        below = torch.searchsorted(t.detach(), xt)  # thresholds below each reading
        k = below[:, :, None] + torch.arange(-WINDOW, WINDOW, device=x.device)
        inside = (k >= 0) & (k < k_max)
        k = k.clamp(0, k_max - 1).reshape(d, -1)
        steps = self._masked_level_steps()
        near_t = t.gather(1, k).reshape(d, n, 2 * WINDOW)
        near_steps = (steps.gather(1, k).reshape(d, n, 2 * WINDOW)) * inside
        slope = self.steepness * self.slope_scale[:, None, None]
        soft = (torch.sigmoid(slope * (xt[:, :, None] - near_t)) * near_steps).sum(2)
        # Every threshold left of the window counts as passed.
        passed = self._level_prefix(steps).gather(1, (below - WINDOW).clamp(0, k_max))
        return (self.level_start[:, None] + passed + soft).T

    def forward(self, x: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        """Quantize standardized features ``x``, or rebuild the input from ``codes``.

        Codes (what the server receives) always give the hard representation;
        ``x`` gives soft steps when training learnable thresholds, else hard steps.
        """
        if self.representation in ("levels", "embedding"):
            if codes is None and self.training and self.learnable:
                # The window's gathers and search cost more than they save
                # below 6 bits; soft schedules (steepness < 1) reach beyond it.
                if (
                    self.representation == "levels"
                    and self.mask.shape[1] >= WINDOWED_FROM
                    and self.steepness >= 1.0
                ):
                    return self._soft_levels(x)
                return self.represent(self.soft_steps(x))
            return self._levels_from_codes(
                self.hard_codes(x) if codes is None else codes
            )
        if codes is not None:
            steps = self.steps_from_codes(codes)
        elif self.training and self.learnable:
            steps = self.soft_steps(x)
        else:
            steps = self.hard_steps(x)
        return self.represent(steps)


@register("soft")
def soft_quantizer(init_thresholds, representation: str) -> BitwiseSoftQuantizer:
    """The method: thresholds learned through sigmoid steps of growing steepness."""
    return BitwiseSoftQuantizer(init_thresholds, representation, learnable=True)


@register("fixed")
def fixed_quantizer(init_thresholds, representation: str) -> BitwiseSoftQuantizer:
    """The initial thresholds kept fixed (plain binning; a baseline)."""
    return BitwiseSoftQuantizer(init_thresholds, representation, learnable=False)
