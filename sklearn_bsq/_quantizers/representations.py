"""What the network sees of a soft quantizer's steps: one class per representation.

Each is a linear map of the step ("thermometer") vector, so the same sigmoids
drive all of them in training:

- ``"thermometer"``: the ``K_j`` steps (``sum K_j`` outputs);
- ``"bits"``: the ``b_j`` binary digits of the code (``sum b_j`` outputs);
- ``"levels"``: one trainable quantized value per feature (``d`` outputs);
- ``"embedding"``: ``EMBEDDING_CHANNELS`` (16) trainable values per code and
  feature (``16 d`` outputs): a learned low-rank factor of the first layer on
  the thermometer, whose size does not grow with ``2**b``;
- ``"embedding-4"``: the same with ``COMPACT_EMBEDDING_CHANNELS`` (4) values
  (``4 d`` outputs), what "auto" means above 4 bits;
- ``"levels+thermometer"``: per feature its level followed by its ``K_j`` steps
  (``sum (K_j + 1)`` outputs): the level keeps the order and spacing of the codes
  (a smooth trend costs the network one weight), the steps let it bend anywhere.

A representation registers its tensors on the quantizer in :meth:`attach`
(their names are part of the model file format) and maps steps, or codes, to
the network's input. A new representation is one new class with
:func:`representation`; ``REPRESENTATION_CLASSES`` is the registry, and
:func:`resolve_representation` says what "auto" means.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional as F

from .._widths import n_codes, n_thresholds
from .base import register_derived_buffer

# "embedding": trainable values per code and feature in this many channels.
EMBEDDING_CHANNELS = 16
# "embedding-4", "auto" above 4 bits: fewer channels give the network fewer
# inputs to fit noise with (CHANGELOG.md: smooth data and the paper's table).
COMPACT_EMBEDDING_CHANNELS = 4
# "auto" by the widest feature: up to this many steps (4 bits) a representation
# with the steps themselves, above it the embedding, whose first layer does not
# grow with 2**b.
AUTO_THERMOMETER_MAX_STEPS = 15
# What "auto" means: "current" for a new fit; "thermometer", what it meant when
# format-1 files that do not record their representation were written, still
# the representation the bit allocation ranks bits with.
AUTO_MEANINGS = {
    "current": ("levels+thermometer", "embedding-4"),
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

# The parameter value that lets the widths choose (resolve_representation).
AUTO = "auto"

REPRESENTATION_CLASSES: dict[str, type[Representation]] = {}


def representation(cls: type[Representation]) -> type[Representation]:
    """Class decorator: make ``cls`` selectable as ``representation=cls.name``."""
    REPRESENTATION_CLASSES[cls.name] = cls
    return cls


def resolve_representation(requested: str, widths, meaning: str = "current") -> str:
    """``requested`` with "auto" resolved for features of these widths (by
    the widest one; see ``AUTO_MEANINGS``). The one place that says what
    "auto" means.

    >>> resolve_representation("auto", [2, 4]), resolve_representation("auto", [6])
    ('levels+thermometer', 'embedding-4')
    >>> resolve_representation("bits", [6])
    'bits'
    """
    if requested in REPRESENTATION_CLASSES:
        return requested
    if requested != AUTO:
        raise ValueError(
            f"representation must be one of {representation_names()}, got "
            f"{requested!r}."
        )
    narrow, wide = AUTO_MEANINGS[meaning]
    widest_steps = n_thresholds(int(np.max(widths)))
    return narrow if widest_steps <= AUTO_THERMOMETER_MAX_STEPS else wide


def representation_names() -> tuple[str, ...]:
    """What the ``representation`` parameter accepts."""
    return (AUTO, *REPRESENTATION_CLASSES)


def network_inputs(representation: str | None, widths) -> int:
    """The first layer's inputs for features of these widths (0: not sent);
    one per feature for a quantizer without a representation."""
    widths = np.asarray(widths, dtype=np.int64)
    sent = widths[widths > 0]
    if representation is None:
        return int(sent.size)
    return int(np.sum(REPRESENTATION_CLASSES[representation].n_inputs(sent)))


def level_channels(representation: str | None) -> int:
    """Trainable values per threshold besides the threshold itself (level
    steps, one per channel): 0 for the thermometer, bits and no representation."""
    return getattr(REPRESENTATION_CLASSES.get(representation), "channels", 0)


class Representation:
    """Base class: the network's input from steps (and from codes)."""

    name = ""
    # whether codes become the input through (rows, d, K_max) step vectors, so
    # that the memory of ``from_codes`` grows with the widest feature's steps
    expands_steps = True

    @classmethod
    def n_inputs(cls, widths: NDArray) -> NDArray:
        """The network inputs of a feature of each width (``widths`` >= 1)."""
        raise NotImplementedError

    def attach(self, q, padded: NDArray, counts: NDArray) -> NDArray:
        """Register this representation's tensors on the quantizer ``q`` for its
        initial (padded) thresholds; return the outputs per feature."""
        return self.n_inputs(q.n_bits)

    def from_steps(self, q, steps: Tensor) -> Tensor:
        """The input for step vectors, shape ``(n, d, K_max)``."""
        raise NotImplementedError

    def from_codes(self, q, codes: Tensor) -> Tensor:
        return self.from_steps(q, q.steps_from_codes(codes))

    def from_hard(self, q, x: Tensor) -> Tensor:
        return self.from_steps(q, q.hard_steps(x))

    def from_soft(self, q, x: Tensor) -> Tensor:
        return self.from_steps(q, q.soft_steps(x))


@representation
class Thermometer(Representation):
    name = "thermometer"

    @classmethod
    def n_inputs(cls, widths):
        return n_thresholds(widths)

    def from_steps(self, q, steps):
        flat = steps.reshape(steps.shape[0], -1)
        return flat if q.dense else flat.index_select(1, q.step_index)


def _bit_flip_matrix(n_bits: int, k_max: int, b_max: int) -> NDArray[np.float32]:
    """``D[k, i]``: change of bit ``i`` (MSB first) when the code goes ``k -> k+1``.

    Summing ``D`` over the active steps of a thermometer vector with ``c`` ones
    gives the binary digits of ``c``.
    """
    matrix = np.zeros((k_max, b_max), dtype=np.float32)
    codes = np.arange(n_codes(n_bits))
    digits = (codes[:, None] >> np.arange(n_bits - 1, -1, -1)[None, :]) & 1
    matrix[: n_thresholds(n_bits), :n_bits] = np.diff(digits, axis=0)
    return matrix


@representation
class Bits(Representation):
    name = "bits"

    def attach(self, q, padded, counts):
        n_bits, k_max = q.n_bits, padded.shape[1]
        b_max = int(n_bits.max())
        flips = np.stack([_bit_flip_matrix(b, k_max, b_max) for b in n_bits])
        q.register_buffer("bit_flips", torch.as_tensor(flips))
        bit_mask = np.arange(b_max)[None, :] < n_bits[:, None]
        register_derived_buffer(q, "bit_index", np.flatnonzero(bit_mask))
        return super().attach(q, padded, counts)

    @classmethod
    def n_inputs(cls, widths):
        return np.array(widths, dtype=np.int64)

    def from_steps(self, q, steps):
        bits = torch.einsum("ndk,dkb->ndb", steps, q.bit_flips)
        bits = bits.reshape(steps.shape[0], -1)
        return bits if q.dense else bits.index_select(1, q.bit_index)


@representation
class Levels(Representation):
    """One trainable value per code: ``level_start`` plus the ``level_steps``
    of the steps passed (with ``channels`` values per code)."""

    name = "levels"
    expands_steps = False  # codes index prefix sums of the steps directly
    channels = 1

    def attach(self, q, padded, counts):
        centers = _initial_levels(padded, counts)
        start = torch.as_tensor(centers[:, 0], dtype=torch.float32)
        steps = torch.as_tensor(np.diff(centers, axis=1), dtype=torch.float32)
        start, steps = self.channels_of(start, steps)
        q.level_start = nn.Parameter(start)
        q.level_steps = nn.Parameter(steps)
        return super().attach(q, padded, counts)

    @classmethod
    def n_inputs(cls, widths):
        return np.full(len(widths), cls.channels)

    def channels_of(self, start: Tensor, steps: Tensor) -> tuple[Tensor, Tensor]:
        """The initial start and steps of every channel (one here)."""
        return start, steps

    def from_steps(self, q, steps):
        # steps are 0 on padding, so the padded level steps add nothing
        return q.level_start + (steps * q.level_steps).sum(dim=2)

    def masked_steps(self, q) -> Tensor:
        """Level change per threshold, zero on padding, shape (d, K_max) (with
        a trailing channel axis for several channels)."""
        if q.dense:
            return q.level_steps
        mask = q.mask if q.level_steps.dim() == 2 else q.mask[:, :, None]
        return q.level_steps * mask

    def prefix(self, steps: Tensor) -> Tensor:
        """``P[j, c]``: level of code ``c`` minus the first level, shape
        (d, K+1) (with a trailing channel axis for several channels)."""
        first_code = (1, 0) if steps.dim() == 2 else (0, 0, 1, 0)
        return F.pad(torch.cumsum(steps, dim=1), first_code)

    def from_codes(self, q, codes):
        prefix = self.prefix(self.masked_steps(q)).gather(1, codes.T.contiguous())
        return q.level_start + prefix.T

    def from_hard(self, q, x):
        return self.from_codes(q, q.hard_codes(x))

    def from_soft(self, q, x):
        # The window's gathers and search cost more than they save below 6
        # bits; soft schedules (steepness < 1) reach beyond it.
        if q.mask.shape[1] >= WINDOWED_FROM and q.steepness >= 1.0:
            return self.windowed_soft_levels(q, x)
        return self.from_steps(q, q.soft_steps(x))

    def windowed_soft_levels(self, q, x: Tensor) -> Tensor:
        """Soft levels from sigmoids of the ``2 * WINDOW`` nearest thresholds."""
        t = q.thresholds()
        d, k_max = t.shape
        xt = x.T.contiguous()  # (d, n)
        n = xt.shape[1]
        below = torch.searchsorted(t.detach(), xt)  # thresholds below each reading
        k = below[:, :, None] + torch.arange(-WINDOW, WINDOW, device=x.device)
        inside = (k >= 0) & (k < k_max)
        k = k.clamp(0, k_max - 1).reshape(d, -1)
        steps = self.masked_steps(q)
        near_t = t.gather(1, k).reshape(d, n, 2 * WINDOW)
        near_steps = (steps.gather(1, k).reshape(d, n, 2 * WINDOW)) * inside
        slope = q.steepness * q.slope_scale[:, None, None]
        soft = (torch.sigmoid(slope * (xt[:, :, None] - near_t)) * near_steps).sum(2)
        # Every threshold left of the window counts as passed.
        passed = self.prefix(steps).gather(1, (below - WINDOW).clamp(0, k_max))
        return (q.level_start[:, None] + passed + soft).T


@representation
class Embedding(Levels):
    name = "embedding"
    channels = EMBEDDING_CHANNELS

    def channels_of(self, start, steps):
        # Channel 0 starts as the bin midpoints, the others as random walks
        # over the codes of unit scale (drawn from torch's seeded generator),
        # so the channels differ from the first step.
        d, k_max = steps.shape
        walks = torch.randn(d, k_max, self.channels - 1) / np.sqrt(k_max)
        steps = torch.cat([steps[:, :, None], walks], dim=2)
        start = F.pad(start[:, None], (0, self.channels - 1))
        return start, steps

    def from_steps(self, q, steps):
        values = torch.einsum("ndk,dke->nde", steps, q.level_steps)
        return (q.level_start + values).reshape(steps.shape[0], -1)

    def from_codes(self, q, codes):
        prefix = self.prefix(self.masked_steps(q))
        index = codes.T.contiguous()[:, :, None].expand(-1, -1, prefix.shape[2])
        values = prefix.gather(1, index).permute(1, 0, 2) + q.level_start
        return values.reshape(len(codes), -1)

    def from_soft(self, q, x):
        return self.from_steps(q, q.soft_steps(x))


@representation
class CompactEmbedding(Embedding):
    name = "embedding-4"
    channels = COMPACT_EMBEDDING_CHANNELS


@representation
class LevelsThermometer(Levels):
    name = "levels+thermometer"

    def attach(self, q, padded, counts):
        out_sizes = super().attach(q, padded, counts)
        # columns of the (d, 1 + K_max) [level, steps] blocks kept
        mask = np.arange(padded.shape[1])[None, :] < counts[:, None]
        kept = np.concatenate([np.ones((len(counts), 1), bool), mask], axis=1)
        register_derived_buffer(q, "level_step_index", np.flatnonzero(kept))
        return out_sizes

    @classmethod
    def n_inputs(cls, widths):
        return n_thresholds(widths) + 1

    def from_steps(self, q, steps):
        levels = super().from_steps(q, steps)
        flat = torch.cat([levels[:, :, None], steps], dim=2).reshape(steps.shape[0], -1)
        return flat if q.dense else flat.index_select(1, q.level_step_index)

    # the steps themselves are part of the input: the generic paths
    expands_steps = True
    from_codes = Representation.from_codes
    from_hard = Representation.from_hard
    from_soft = Representation.from_soft


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
