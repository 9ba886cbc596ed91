"""The network's first layer on codes as lookup tables (the server's shortcut).

The network's input for feature ``j`` depends on its code ``c_j`` alone (the
quantizer's contract: a block of ``out_sizes[j]`` columns), so the first linear
layer computes ``b + sum_j T_j[c_j]``, where ``T_j`` holds
``W[:, block_j] @ input_j(c)`` for every code ``c``. Consecutive features
whose codes take at most ``WINDOW_MAX_BITS`` bits together (fewer where
those tables would exceed ``COMBINED_TABLE_MAX_VALUES``) share one table
with a row per combination of their codes (the sum of their rows). A row then
costs one gather-and-sum of a hidden vector per window (``embedding_bag``)
instead of a matrix product over every step of every feature: at 4 bits,
two features' 30 thermometer inputs become one table row.
``QuantizedMLP.forward(codes=...)``
takes this path in eval mode, so every prediction from codes (``predict``,
``predict_packed``, skorch's ``forward``) gives the same numbers; they equal the
plain matrix product up to float32 rounding (the sums run in another order).
Training never sees codes and is unchanged.

Tables are built once per trained network and cached (keyed by the version
counters of the quantizer's and the first layer's tensors, which every optimizer
step and every load bumps); networks
whose tables would exceed ``MAX_TABLE_VALUES`` (very wide codes) keep the
matrix product.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

# Above this many table values (4 bytes each: 16 MiB) the matrix product runs.
MAX_TABLE_VALUES = 1 << 22
# Up to this many values (16 MiB) tables combine several features' codes: a
# window of features here, a byte of packed rows in the ONNX graph.
COMBINED_TABLE_MAX_VALUES = 1 << 22
# Consecutive features share a window, one table row per combination of their
# codes, while their codes take at most this many bits together.
WINDOW_MAX_BITS = 10

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
    """The first linear layer of a ``QuantizedMLP`` as lookup tables.

    ``table`` holds a row per code of every feature (all heads' units side by
    side) and ``bias`` the layer's bias: what the ONNX export combines as it
    needs. The server sums rows of ``window_table`` instead: a row per
    combination of the codes of each window of consecutive features
    (``code_windows``), the bias in the first window's rows.
    """

    def __init__(self, module: nn.Module):
        quantizer = module.quantizer
        first = module.mlp[0]
        widths = [int(b) for b in quantizer.n_bits]
        starts = [0, *itertools.accumulate(int(s) for s in quantizer.out_sizes)]
        device = first.weight.device
        with torch.no_grad():
            self.table = torch.cat(
                [
                    rows @ first.weight[:, starts[j] : starts[j + 1]].T
                    for j, rows in enumerate(inputs_per_code(quantizer, device))
                ]
            )
            self.bias = first.bias.detach().clone()
        n_codes = [1 << b for b in widths]
        self.offsets = torch.as_tensor([0] + n_codes[:-1], device=device).cumsum(0)
        self.n_heads = heads_of(module)
        self.widths = widths

        self.windows = fitting_windows(widths, first.out_features)
        window_table, window_starts = self._window_tables(self.windows)
        self.window_table = torch.as_tensor(window_table, device=device)
        self.window_starts = torch.as_tensor(window_starts, device=device)
        window_of, shifts = window_positions(widths, self.windows)
        self.window_of = torch.as_tensor(window_of, device=device)
        self.shifts = torch.as_tensor(shifts, device=device)

    def combined_table(self, windows) -> tuple[np.ndarray, np.ndarray]:
        """``(table, starts)`` of ``window_tables`` for ``windows`` of this
        layer's features: the server's own table when they are its windows."""
        if windows == self.windows:
            return self.window_table.cpu().numpy(), self.window_starts.cpu().numpy()
        return self._window_tables(windows)

    def _window_tables(self, windows) -> tuple[np.ndarray, np.ndarray]:
        return window_tables(
            self.table.detach().cpu().numpy(),
            self.offsets.cpu().numpy(),
            self.bias.detach().cpu().numpy(),
            self.widths,
            windows,
        )

    def window_index(self, codes: Tensor) -> Tensor:
        """Each window's table row for int64 ``codes``, shape ``(n, windows)``."""
        if len(self.windows) == codes.shape[1]:
            index = codes  # a window per feature: its codes are its rows
        else:
            index = codes.new_zeros((codes.shape[0], len(self.windows)))
            index.index_add_(1, self.window_of, codes << self.shifts)
        return index + self.window_starts

    def __call__(self, codes: Tensor) -> Tensor:
        """The first layer's output ``(n, heads * units)`` for int64 ``codes``
        of the quantized features: one gather-and-sum for all heads, whose
        later layers read their columns as views."""
        return F.embedding_bag(self.window_index(codes), self.window_table, mode="sum")


def fits_combined(rows: int, units: int) -> bool:
    """Whether combined tables of ``rows`` rows of ``units`` values stay within
    ``COMBINED_TABLE_MAX_VALUES`` (windows here, byte tables in the ONNX graph)."""
    return rows * units <= COMBINED_TABLE_MAX_VALUES


def code_windows(widths, max_bits: int = WINDOW_MAX_BITS) -> list[list[int]]:
    """Consecutive features grouped so that each group's codes take at most
    ``max_bits`` bits together (a wider feature alone)."""
    windows: list[list[int]] = [[]]
    bits = 0
    for j, width in enumerate(widths):
        if windows[-1] and bits + width > max_bits:
            windows.append([])
            bits = 0
        windows[-1].append(j)
        bits += width
    return windows


def fitting_windows(widths, units: int) -> list[list[int]]:
    """The widest ``code_windows`` (at most ``WINDOW_MAX_BITS`` bits) whose
    tables of ``units`` values a row fit ``fits_combined``; a window per
    feature when none does. Fewer lookups serve faster even from larger
    tables (benchmarks/results/history.md, "window widths")."""
    for max_bits in range(WINDOW_MAX_BITS, 0, -1):
        windows = code_windows(widths, max_bits)
        if fits_combined(sum(window_sizes(widths, windows)), units):
            return windows
    return code_windows(widths, max_bits=0)


def window_sizes(widths, windows) -> list[int]:
    """Each window's table rows: one per combination of its features' codes."""
    return [1 << sum(widths[j] for j in window) for window in windows]


def window_positions(widths, windows) -> tuple[np.ndarray, np.ndarray]:
    """For each feature, its window and the left shift of its code in the
    window's combination (the first feature's code most significant, as in a
    packed byte)."""
    window_of = np.zeros(len(widths), np.int64)
    shifts = np.zeros(len(widths), np.int64)
    for w, window in enumerate(windows):
        shift = sum(widths[j] for j in window)
        for j in window:
            shift -= widths[j]
            window_of[j], shifts[j] = w, shift
    return window_of, shifts


def window_tables(
    table: np.ndarray, offsets: np.ndarray, bias: np.ndarray, widths, windows
) -> tuple[np.ndarray, np.ndarray]:
    """``(table, starts)``: float32 rows, one per combination of a window's
    codes (the sum of its features' rows of ``table``, feature ``j``'s first
    row at ``offsets[j]``; ``bias`` in the first window's rows), and the first
    row of each window."""
    sizes = window_sizes(widths, windows)
    _, shifts = window_positions(widths, windows)
    combined = np.zeros((sum(sizes), table.shape[1]), np.float32)
    start = 0
    for window, size in zip(windows, sizes, strict=True):
        values = np.arange(size)
        for j in window:
            codes = (values >> shifts[j]) & ((1 << widths[j]) - 1)
            combined[start : start + size] += table[offsets[j] + codes]
        start += size
    combined[: sizes[0]] += bias
    return combined, np.cumsum([0, *sizes[:-1]]).astype(np.int64)


def heads_of(module: nn.Module) -> int:
    """How many heads the MLP of a ``QuantizedMLP`` holds."""
    return next((layer.n_heads for layer in module.mlp if hasattr(layer, "n_heads")), 1)


def table_values(module: nn.Module) -> int:
    """How many values the tables of a ``QuantizedMLP`` would hold."""
    n_codes = sum(2 ** int(b) for b in module.quantizer.n_bits)
    return n_codes * module.mlp[0].out_features


def first_layer_tables(module: nn.Module) -> FirstLayerTables | None:
    """The tables of a trained ``QuantizedMLP`` (built once, cached), or None
    when they would be too large.

    The cache is checked on every forward pass, so its key holds only what the
    tables are made of: the quantizer's tensors (it may rebuild its inputs
    from buffers as well as parameters) and the first layer's; the later
    layers are read as they are on every call.
    """
    if table_values(module) > MAX_TABLE_VALUES:
        return None
    quantizer, first = module.quantizer, module.mlp[0]
    tensors = itertools.chain(
        quantizer.parameters(), quantizer.buffers(), first.parameters()
    )
    key = tuple((t.data_ptr(), t._version) for t in tensors)
    cached = _CACHE.get(module)
    if cached is None or cached[0] != key:
        cached = (key, FirstLayerTables(module))
        _CACHE[module] = cached
    return cached[1]
