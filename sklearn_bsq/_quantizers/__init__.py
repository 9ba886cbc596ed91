"""Quantizers: where thresholds are learned (torch modules, one per file).

``base`` states the contract and keeps the registry; importing a module here
registers its quantizers under the names the estimators accept.
"""

from __future__ import annotations

from . import lsq, soft  # noqa: F401  (registers "soft", "fixed", "lsq")
from .base import (
    QUANTIZERS,
    REPRESENTING,
    Quantizer,
    build_quantizer,
    register,
    unregister,
)
from .representations import (
    EMBEDDING_CHANNELS,
    REPRESENTATION_CLASSES,
    Representation,
    level_channels,
    network_inputs,
    representation,
    representation_names,
    resolve_representation,
)
from .soft import BitwiseSoftQuantizer

# what the ``representation`` parameter accepts
REPRESENTATIONS = representation_names()


def quantizer_representation(
    quantizer: str, representation: str, widths, meaning: str = "current"
) -> str | None:
    """The representation a ``quantizer`` is built with for these widths:
    "auto" resolved (:func:`resolve_representation`), or None for a quantizer
    that feeds the network something of its own."""
    if quantizer not in REPRESENTING:
        return None
    return resolve_representation(representation, widths, meaning)


__all__ = [
    "EMBEDDING_CHANNELS",
    "QUANTIZERS",
    "REPRESENTATIONS",
    "REPRESENTATION_CLASSES",
    "BitwiseSoftQuantizer",
    "Quantizer",
    "Representation",
    "build_quantizer",
    "level_channels",
    "network_inputs",
    "quantizer_representation",
    "register",
    "representation",
    "resolve_representation",
    "unregister",
]
