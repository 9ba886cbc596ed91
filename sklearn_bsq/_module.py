"""Quantizer (or none) and MLP as one torch module."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ._quantizer import BitwiseSoftQuantizer


def make_mlp(in_features: int, hidden_layer_sizes: Sequence[int], n_outputs: int):
    """ReLU MLP ``in -> hidden... -> n_outputs`` (a linear model when no hidden)."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class QuantizedMLP(nn.Module):
    """A bitwise soft quantizer feeding an MLP.

    ``forward(x)`` takes standardized features (training, validation);
    ``forward(codes=...)`` takes the integer codes a node sends (server side).
    The output is logits for classification, the standardized target for
    regression; a single output is squeezed to shape ``(n,)``.
    """

    def __init__(
        self,
        quantizer: BitwiseSoftQuantizer,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
    ) -> None:
        super().__init__()
        self.quantizer = quantizer
        self.mlp = make_mlp(quantizer.out_features, hidden_layer_sizes, n_outputs)

    def forward(self, x: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        out = self.mlp(self.quantizer(x, codes))
        return out.squeeze(1) if out.shape[1] == 1 else out


class FullPrecisionMLP(nn.Module):
    """The same MLP on the float32 standardized features: the reference."""

    def __init__(
        self, n_features: int, hidden_layer_sizes: Sequence[int], n_outputs: int
    ) -> None:
        super().__init__()
        self.mlp = make_mlp(n_features, hidden_layer_sizes, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        out = self.mlp(x)
        return out.squeeze(1) if out.shape[1] == 1 else out
