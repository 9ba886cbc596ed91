"""What a fit will need in memory, estimated before anything is allocated, so
that widths or layers that cannot fit are refused with the numbers and the fix
instead of swapping for minutes or being killed (numpy only)."""

from __future__ import annotations

import os

import numpy as np

from ._widths import n_thresholds

# Copies of every parameter while training: the value, its gradient and
# AdamW's two moments.
_PARAMETER_COPIES = 4
# Copies of the (batch, features, thresholds) step tensor alive at once in a
# training step: the differences, the sigmoids, and their gradients.
_STEP_COPIES = 4
# Refuse a fit that needs more than this share of the memory available now.
AVAILABLE_SHARE = 0.8


def training_bytes(
    widths,
    in_features: int,
    hidden_layer_sizes,
    n_heads: int,
    n_outputs: int,
    batch_size: int,
    values_per_threshold: int,
) -> int:
    """About how many bytes training a quantizer + MLP of these sizes needs
    (float32 parameters with gradients and Adam's moments, one batch's step
    tensors and activations). ``in_features``: the first layer's inputs;
    ``values_per_threshold``: the quantizer's trainable values per threshold."""
    widths = np.asarray(widths, dtype=np.int64)
    widths = widths[widths > 0]
    steps_max = int(n_thresholds(int(widths.max()))) if widths.size else 0
    quantizer = widths.size * steps_max * values_per_threshold
    steps = batch_size * _STEP_COPIES * widths.size * steps_max
    network = network_bytes(
        in_features, hidden_layer_sizes, n_heads, n_outputs, batch_size
    )
    return network + 4 * (_PARAMETER_COPIES * quantizer + steps)


def network_bytes(
    in_features: int, hidden_layer_sizes, n_heads: int, n_outputs: int, batch_size: int
) -> int:
    """About how many bytes training an MLP of these sizes needs: float32
    parameters with gradients and Adam's moments, one batch's activations."""
    sizes = [in_features, *(int(h) * n_heads for h in hidden_layer_sizes)]
    weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    weights += sizes[-1] * n_outputs
    return 4 * (_PARAMETER_COPIES * weights + batch_size * 3 * sum(sizes))


def available_bytes() -> int | None:
    """Memory available to a new allocation now (Linux' MemAvailable), or None
    where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


QUANTIZER_FIX = (
    'use fewer bits per feature, representation="levels" (one input per '
    "feature), fewer or smaller hidden layers, or a smaller batch_size"
)
NETWORK_FIX = "use fewer or smaller hidden layers, fewer heads or a smaller batch_size"


def check_training_memory(needed: int, what: str, fix: str = QUANTIZER_FIX) -> None:
    """MemoryError, with the estimate and the fix, when ``needed`` bytes are
    more than ``AVAILABLE_SHARE`` of the memory available."""
    available = available_bytes()
    if available is None or needed <= AVAILABLE_SHARE * available:
        return
    raise MemoryError(
        f"training {what} needs about {needed / 2**30:.1f} GiB, more than the "
        f"{available / 2**30:.1f} GiB available; {fix}."
    )
