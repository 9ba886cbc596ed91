"""The torch networks the estimators train: an MLP behind a quantizer, or alone."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ._first_layer import first_layer_tables
from ._fitted_state import TensorSource
from ._quantizers import Quantizer


def make_mlp(
    in_features: int,
    hidden_layer_sizes: Sequence[int],
    n_outputs: int,
    dropout: float = 0.0,
):
    """ReLU MLP ``in -> hidden... -> n_outputs`` (a linear model when no hidden),
    with dropout after every hidden layer when ``dropout > 0``."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class QuantizedMLP(nn.Module):
    """A quantizer feeding an MLP.

    ``forward(x)`` takes standardized features (training, validation);
    ``forward(codes=...)`` takes the integer codes a node sends (server side),
    in eval mode through the first layer's lookup tables (``_first_layer``).
    The output is logits for classification, the standardized target for
    regression; a single output is squeezed to shape ``(n,)``.

    ``active`` lists the features the quantizer covers (those with at least one
    bit); the others are not transmitted and the module ignores their columns.
    """

    def __init__(
        self,
        quantizer: Quantizer,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        active: Sequence[int] | None = None,
        n_features: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.quantizer = quantizer
        self.mlp = make_mlp(
            quantizer.out_features, hidden_layer_sizes, n_outputs, dropout
        )
        # Derived from the widths, which are stored apart from the weights: not
        # part of the state dict.
        everything = active is None or np.array_equal(active, np.arange(n_features))
        self.register_buffer(
            "active",
            None if everything else torch.as_tensor(np.asarray(active, np.int64)),
            persistent=False,
        )

    def forward(self, x: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        if self.active is not None:
            x = None if x is None else x.index_select(1, self.active)
            codes = None if codes is None else codes.index_select(1, self.active)
        tables = None
        if x is None and not self.training:
            tables = first_layer_tables(self)
        if tables is None:
            out = self.mlp(self.quantizer(x, codes))
        else:
            out = tables(codes)
            for layer in itertools.islice(self.mlp, 1, None):
                out = layer(out)
        return out.squeeze(1) if out.shape[1] == 1 else out


class PlainMLP(nn.Module):
    """The same MLP on the float32 standardized features: the reference."""

    def __init__(
        self,
        n_features: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.mlp = make_mlp(n_features, hidden_layer_sizes, n_outputs, dropout)

    def forward(self, x: Tensor) -> Tensor:
        out = self.mlp(x)
        return out.squeeze(1) if out.shape[1] == 1 else out


def load_network(build: Callable[[], nn.Module], tensors: TensorSource) -> nn.Module:
    """``build()`` with ``tensors`` loaded strictly, in eval mode.

    The module is laid out on torch's "meta" device first (shapes, no memory),
    so tensors of the wrong names or shapes are refused before anything is
    read or allocated; non-finite values are refused after loading.
    """
    with torch.device("meta"):
        layout = build().state_dict()
    if list(tensors.keys()) != list(layout):
        raise ValueError(
            f"the network's tensors are {list(layout)}, found {list(tensors.keys())}."
        )
    for key, tensor in layout.items():
        if tensors.shape(key) != tuple(tensor.shape):
            raise ValueError(
                f"size mismatch for module tensor {key!r}: shape "
                f"{tensors.shape(key)}, the parameters imply {tuple(tensor.shape)}."
            )
    module = build()
    state = {key: torch.from_numpy(tensors.read(key)) for key in layout}
    module.load_state_dict(state, strict=True)
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.all(torch.isfinite(tensor)):
            raise ValueError(f"module tensor {name!r} holds NaN or infinity.")
    return module.eval()
