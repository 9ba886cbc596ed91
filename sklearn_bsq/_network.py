"""The torch networks the estimators train: an MLP behind a quantizer, or alone."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._first_layer import first_layer_tables
from ._quantizers import Quantizer
from ._quantizers.base import register_derived_buffer

# Rows per batch when a trained network only predicts (validation, serving).
PREDICT_BATCH_ROWS = 4096


class TensorSource(Protocol):
    """A network's tensors by state-dict key; shapes are known before the data
    is read, so a file that describes a bigger network than its parameters can
    be refused before anything is allocated."""

    def keys(self) -> Iterable[str]: ...

    def shape(self, key: str) -> tuple[int, ...]: ...

    def read(self, key: str) -> np.ndarray: ...


class InMemoryTensors:
    """A :class:`TensorSource` over a dict of arrays or torch tensors (a live
    module's state dict: a tensor is copied to a CPU array only when read, so
    export and plotting, which never read them, copy nothing)."""

    def __init__(self, arrays: dict) -> None:
        self.arrays = arrays

    def keys(self) -> list[str]:
        return list(self.arrays)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.arrays[key].shape)

    def read(self, key: str) -> np.ndarray:
        value = self.arrays[key]
        return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def make_mlp(
    in_features: int,
    hidden_layer_sizes: Sequence[int],
    n_outputs: int,
    dropout: float = 0.0,
    n_heads: int = 1,
    classification: bool = False,
):
    """ReLU MLP ``in -> hidden... -> n_outputs`` (a linear model when no hidden),
    with dropout after every hidden layer when ``dropout > 0``.

    With ``n_heads > 1``, that many MLPs of this shape side by side on the same
    input (see :class:`CombineHeads` for their outputs). The first layer of
    them all is one ``nn.Linear`` (so the first-layer tables still apply), the
    later layers are :class:`HeadLinear`.
    """
    layers: list[nn.Module] = []
    width = in_features
    for i, size in enumerate((*hidden_layer_sizes, n_outputs)):
        if i == 0:
            layers.append(nn.Linear(width, n_heads * size))
        elif n_heads == 1:
            layers.append(nn.Linear(width, size))
        else:
            layers.append(HeadLinear(n_heads, width, size))
        if i < len(hidden_layer_sizes):
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        width = size
    if n_heads > 1:
        layers.append(CombineHeads(n_heads, classification))
    return nn.Sequential(*layers)


class HeadLinear(nn.Module):
    """``n_heads`` linear layers ``in -> out`` side by side: input
    ``(n, n_heads * in)``, output ``(n, n_heads * out)``, head ``h`` reading
    and writing its own block."""

    def __init__(self, n_heads: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        # nn.Linear's default initialization, head by head
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.empty(n_heads, in_features, out_features).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(
            torch.empty(n_heads, 1, out_features).uniform_(-bound, bound)
        )

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        by_head = x.reshape(n, self.n_heads, -1).transpose(0, 1)
        out = torch.baddbmm(self.bias, by_head, self.weight)
        return out.transpose(0, 1).reshape(n, -1)


class CombineHeads(nn.Module):
    """The outputs of ``n_heads`` MLPs, ``(n, n_heads * n_outputs)``.

    In training mode each head's outputs, shape ``(n, n_heads, n_outputs)``:
    the loss is the mean of the heads' losses, so each head learns to predict
    on its own (an ensemble) rather than as a part of one wider network. In
    eval mode one prediction: the mean for regression; for classification the
    log of the mean of the heads' class probabilities (a softmax of it gives
    those probabilities back).
    """

    def __init__(self, n_heads: int, classification: bool) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.classification = classification

    def forward(self, x: Tensor) -> Tensor:
        by_head = x.reshape(x.shape[0], self.n_heads, -1)
        if self.training:
            return by_head
        return self.combine(by_head)

    def combine(self, by_head: Tensor) -> Tensor:
        """The eval-mode prediction from contiguous outputs ``(n, heads, n_outputs)``
        (reduced over the middle axis: a row's result does not depend on its
        position in the batch, as scikit-learn's checks require)."""
        if not self.classification:
            return by_head.mean(1)
        log_probabilities = torch.log_softmax(by_head, dim=2)
        return torch.logsumexp(log_probabilities, dim=1) - math.log(self.n_heads)


def has_head_axis(outputs: Tensor, classification: bool) -> bool:
    """Whether network outputs hold each head's outputs (axis 1), as
    :class:`CombineHeads` gives them in training mode."""
    return outputs.dim() == (3 if classification else 2)


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
        n_heads: int = 1,
        classification: bool = False,
    ) -> None:
        super().__init__()
        self.quantizer = quantizer
        self.mlp = make_mlp(
            quantizer.out_features,
            hidden_layer_sizes,
            n_outputs,
            dropout,
            n_heads,
            classification,
        )
        # Derived from the widths, which are stored apart from the weights: not
        # part of the state dict.
        everything = active is None or np.array_equal(active, np.arange(n_features))
        register_derived_buffer(
            self, "active", None if everything else np.asarray(active, np.int64)
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
            out = predict_after_first(
                itertools.islice(self.mlp, 1, None), tables(codes), tables.n_heads
            )
        return _squeeze_single_output(out)


def predict_after_first(
    layers: Iterable[nn.Module], out: Tensor, n_heads: int
) -> Tensor:
    """Eval-mode layers after the first on its output ``(n, heads * units)``.

    Head by head, every layer one 2-D product (``addmm``, the first on a view
    of the head's columns: no reshapes or copies between layers), ReLU in
    place; the heads meet only in :class:`CombineHeads`. The same outputs as
    the layers one by one, with fewer copies of a batch (one batched product
    of all heads, as in training, ran slower: ``benchmarks/results/history.md``).
    """
    by_head = list(out.chunk(n_heads, dim=1))
    for layer in layers:
        if isinstance(layer, HeadLinear):
            by_head = [
                torch.addmm(layer.bias[h], x, layer.weight[h])
                for h, x in enumerate(by_head)
            ]
        elif isinstance(layer, nn.Linear):  # one head
            by_head = [F.linear(x, layer.weight, layer.bias) for x in by_head]
        elif isinstance(layer, nn.ReLU):
            by_head = [torch.relu_(x) for x in by_head]
        elif isinstance(layer, nn.Dropout):
            continue  # identity in eval mode
        elif isinstance(layer, CombineHeads):
            return layer.combine(torch.stack(by_head, dim=1))
        else:
            raise TypeError(f"no eval-mode head-by-head rule for {layer!r}")
    (out,) = by_head
    return out


def _squeeze_single_output(out: Tensor) -> Tensor:
    """A regression output ``(n, 1)`` as ``(n,)`` (``(n, n_heads)`` for the
    heads in training), as skorch's regressor and ``row_losses`` expect."""
    return out.squeeze(-1) if out.shape[-1] == 1 else out


class PlainMLP(nn.Module):
    """The same MLP on the float32 standardized features: the reference.
    ``options`` (dropout, heads, classification) go to :func:`make_mlp`."""

    def __init__(
        self,
        n_features: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        **options,
    ) -> None:
        super().__init__()
        self.mlp = make_mlp(n_features, hidden_layer_sizes, n_outputs, **options)

    def forward(self, x: Tensor) -> Tensor:
        return _squeeze_single_output(self.mlp(x))


def softmax_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, in float64, as one torch kernel (half
    the time of numpy's five passes over the array)."""
    logits = torch.from_numpy(np.ascontiguousarray(outputs)).double()
    return torch.softmax(logits, dim=1).numpy()


def log_probabilities(outputs: np.ndarray) -> np.ndarray:
    """The logarithms of :func:`softmax_probabilities`, computed from the
    logits (finite where a probability rounds to 0)."""
    logits = torch.from_numpy(np.ascontiguousarray(outputs)).double()
    return torch.log_softmax(logits, dim=1).numpy()


def load_network(build: Callable[[], nn.Module], tensors: TensorSource) -> nn.Module:
    """``build()`` with ``tensors`` loaded strictly, in eval mode.

    The module is laid out on torch's "meta" device (shapes, no memory, no
    initial weights drawn), so tensors of the wrong names or shapes are
    refused before anything is read or allocated; then the tensors read take
    the places of the layout's, and non-finite values are refused. Nothing is
    drawn from torch's random generators, so a load never waits for a fit
    running in another thread (``_generators``) nor moves the caller's state.
    """
    with torch.device("meta"):
        module = build()
    layout = module.state_dict()
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
    state = {  # copies: the source may be a live module's tensors (InMemoryTensors)
        key: torch.from_numpy(tensors.read(key)).to(tensor.dtype, copy=True)
        for key, tensor in layout.items()
    }
    module.load_state_dict(state, strict=True, assign=True)
    on_meta = [name for name, t in _module_tensors(module) if t.is_meta]
    if on_meta:  # a tensor outside the state dict, built on "meta" by build()
        raise RuntimeError(f"no values for the module's tensors {on_meta}.")
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.all(torch.isfinite(tensor)):
            raise ValueError(f"module tensor {name!r} holds NaN or infinity.")
    return module.eval()


def _module_tensors(module: nn.Module):
    """Every parameter and buffer of ``module``, with its name."""
    return itertools.chain(module.named_parameters(), module.named_buffers())
