"""The network's first layer on codes as lookup tables (the server's shortcut).

The network's input for feature ``j`` depends on its code ``c_j`` alone (the
quantizer's contract: a block of ``out_sizes[j]`` columns), so the first linear
layer computes ``b + sum_j T_j[c_j]``, where ``T_j`` holds
``W[:, block_j] @ input_j(c)`` for every code ``c``. A row then costs one
gather-and-sum of ``d`` hidden vectors (``embedding_bag``) instead of a matrix
product over every step of every feature: with the thermometer at 4 bits, 15
inputs per feature become one table row. ``QuantizedMLP.forward(codes=...)``
takes this path in eval mode, so every prediction from codes (``predict``,
``predict_packed``, skorch's ``forward``) gives the same numbers; they equal the
plain matrix product up to float32 rounding (the sums run in another order).
Training never sees codes and is unchanged.

Tables are built once per trained network and cached (keyed by the parameters'
version counters, which every optimizer step and every load bumps); networks
whose tables would exceed ``MAX_TABLE_VALUES`` (very wide codes) keep the
matrix product.
"""

from __future__ import annotations

import itertools
import weakref

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# Above this many table values (4 bytes each: 16 MiB) the matrix product runs.
MAX_TABLE_VALUES = 1 << 22

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# Values per call when the network's inputs of every code are computed by a
# representation that expands a row of codes to (features, widest steps) steps.
INPUT_CHUNK_VALUES = 1 << 24


def inputs_per_code(quantizer: nn.Module, device) -> list[Tensor]:
    """Feature ``j``'s block of the network's input for each of its codes,
    shape ``(2**n_bits[j], out_sizes[j])``, in chunks of codes so that a
    quantizer that expands codes to steps stays within ``INPUT_CHUNK_VALUES``."""
    n_codes = [2 ** int(b) for b in quantizer.n_bits]
    sizes = [int(s) for s in quantizer.out_sizes]
    starts = [0, *itertools.accumulate(sizes)]
    widest = max(n_codes)
    representer = getattr(quantizer, "representer", None)
    if getattr(representer, "expands_steps", False):
        chunk = max(1, INPUT_CHUNK_VALUES // (len(n_codes) * widest))
    else:  # a row of codes costs a few values: all codes in one call
        chunk = widest
    blocks: list[list[Tensor]] = [[] for _ in n_codes]
    with torch.no_grad():
        for first_code in range(0, widest, chunk):
            codes = torch.arange(
                first_code, min(first_code + chunk, widest), device=device
            )
            # every feature's codes, the narrower ones repeating their top
            all_codes = torch.stack([codes.clamp(max=n - 1) for n in n_codes], dim=1)
            inputs = quantizer(codes=all_codes)
            for j, n in enumerate(n_codes):
                if first_code < n:
                    rows = inputs[: n - first_code, starts[j] : starts[j + 1]]
                    blocks[j].append(rows)
    return [torch.cat(parts) for parts in blocks]


class FirstLayerTables:
    """The first linear layer of a ``QuantizedMLP`` as per-feature tables."""

    def __init__(self, module: nn.Module):
        quantizer = module.quantizer
        first = module.mlp[0]
        n_codes = [2 ** int(b) for b in quantizer.n_bits]
        starts = [0, *itertools.accumulate(int(s) for s in quantizer.out_sizes)]
        device = first.weight.device
        with torch.no_grad():
            tables = [
                rows @ first.weight[:, starts[j] : starts[j + 1]].T
                for j, rows in enumerate(inputs_per_code(quantizer, device))
            ]
            self.table = torch.cat(tables).contiguous()
            self.bias = first.bias.detach().clone()
        self.offsets = torch.as_tensor([0] + n_codes[:-1], device=device).cumsum(0)

    def __call__(self, codes: Tensor) -> Tensor:
        """The first layer's output for int64 ``codes`` of the quantized features."""
        hidden = F.embedding_bag(codes + self.offsets, self.table, mode="sum")
        return hidden.add_(self.bias)  # in place: one batch-wide tensor less


def table_values(module: nn.Module) -> int:
    """How many values the tables of a ``QuantizedMLP`` would hold."""
    n_codes = sum(2 ** int(b) for b in module.quantizer.n_bits)
    return n_codes * module.mlp[0].out_features


def first_layer_tables(module: nn.Module) -> FirstLayerTables | None:
    """The tables of a trained ``QuantizedMLP`` (built once, cached), or None
    when they would be too large."""
    if table_values(module) > MAX_TABLE_VALUES:
        return None
    # a quantizer may rebuild its inputs from buffers as well as parameters
    tensors = itertools.chain(module.parameters(), module.buffers())
    key = tuple((t.data_ptr(), t._version) for t in tensors)
    cached = _CACHE.get(module)
    if cached is None or cached[0] != key:
        cached = (key, FirstLayerTables(module))
        _CACHE[module] = cached
    return cached[1]
