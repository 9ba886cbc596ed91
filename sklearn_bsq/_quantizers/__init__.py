"""Quantizers: where thresholds are learned (torch modules, one per file).

``base`` states the contract and keeps the registry; importing a module here
registers its quantizers under the names the estimators accept.
"""

from . import lsq, soft  # noqa: F401  (registers "soft", "fixed", "lsq")
from .base import QUANTIZERS, Quantizer, build_quantizer, register
from .soft import (
    EMBEDDING_CHANNELS,
    REPRESENTATIONS,
    BitwiseSoftQuantizer,
    thermometer_or_embedding,
)

__all__ = [
    "EMBEDDING_CHANNELS",
    "QUANTIZERS",
    "REPRESENTATIONS",
    "BitwiseSoftQuantizer",
    "Quantizer",
    "build_quantizer",
    "register",
    "thermometer_or_embedding",
]
