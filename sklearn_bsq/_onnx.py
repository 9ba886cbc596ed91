"""ONNX graphs of fitted estimators: a server runs them without Python or torch.

One graph per input kind, built node by node (no tracing, so the graph depends
on the fitted state alone and not on the torch version):

- ``"packed"``: uint8 rows of wire format v1, unpacked inside the graph;
- ``"codes"``: int64 codes, one column per feature (as ``encode`` returns them);
- ``"readings"``: float32 readings, coded inside the graph by counting the
  float32 thresholds strictly below each reading (the node's hard steps).

The network runs head by head: each head's block of the first layer, then its
2-D ``Gemm`` products (onnxruntime fuses the bias and the ReLU into them), the
heads' outputs averaged at the end, then the target's mapping to labels or raw
units. The first layer uses the lookup tables of the torch server path
(``_first_layer``) when they are small: on packed rows whose features each lie
inside one byte, one table row per byte value (the sum of the features' rows in
that byte), so a row costs one gather per byte and no unpacking; otherwise
one table row per combination of the codes of a window of consecutive
features, or a row per feature (the torch server's windows,
``_first_layer.FirstLayerTables``), packed bits weighted straight to each
window's combined code in one product. Rows with few lookups add each lookup's
table rows as they are gathered; rows with many gather them all, then sum.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from ._first_layer import (
    first_layer_tables,
    fits_combined,
    heads_of,
    inputs_per_code,
)
from ._network import CombineHeads, HeadLinear
from ._packing import WIRE_FORMAT_VERSION, bit_offsets
from ._version import __version__

# ai.onnx opset of the graphs: onnxruntime has run it since 1.14.
OPSET = 17
# The oldest opset whose operators the graphs use as written (reduction axes
# and Unsqueeze axes as inputs came with opset 13).
MIN_OPSET = 13
INPUT_KINDS = ("packed", "codes", "readings")
# Input tables (one row of network inputs per code) above this many values make
# a graph too large to be worth writing (thermometer steps at 16 bits).
MAX_INPUT_TABLE_VALUES = 1 << 26
# Up to this many thresholds in the widest feature, all features are compared
# in one padded block; above it (the padding would grow with 2**16), each alone.
PADDED_COMPARISON_MAX = 255
# Up to this many table lookups per row (bytes or windows of features), the
# first layer adds each lookup's rows as it gathers them; above it, one gather
# and a sum (benchmarks/results/history.md: faster up to 8, slower at 39).
CHAINED_GATHERS_MAX = 8


def _onnx():
    try:
        import onnx
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "export_onnx needs the onnx package: pip install 'sklearn-bsq[onnx]'."
        ) from error
    return onnx


class GraphBuilder:
    """Nodes and constants of one graph, with fresh names for every value."""

    def __init__(self) -> None:
        self.onnx = _onnx()
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, array, hint: str = "const") -> str:
        name = self._name(hint)
        tensor = self.onnx.numpy_helper.from_array(np.asarray(array), name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attrs) -> str:
        out = output or self._name(op_type.lower())
        node = self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs)
        self.nodes.append(node)
        return out


# ----------------------------------------------------------------- to codes
def codes_from_packed(
    g: GraphBuilder, packed: str, widths: np.ndarray, combine: np.ndarray | None = None
) -> str:
    """int64 codes ``(n, active)`` from uint8 rows of wire format v1: every byte
    looked up as its 8 bits (most significant first; a gather is cheaper than
    integer division and remainder), then each feature's bits weighted by powers
    of two (one product; codes below 2**16 are exact in float32). With
    ``combine`` (active x k, powers of two) the same product gives ``codes @
    combine`` instead, e.g. windows' combined codes (exact below 2**24)."""
    active = widths[widths > 0]
    n_bytes = -(-int(active.sum()) // 8)
    byte_bits = (np.arange(256)[:, None] >> np.arange(7, -1, -1)) & 1
    index = g.op("Cast", packed, to=g.onnx.TensorProto.INT64)
    bits = g.op("Gather", g.const(byte_bits.astype(np.float32), "byte_bits"), index)
    flat = g.op("Reshape", bits, g.const(np.array([0, 8 * n_bytes], np.int64)))
    weights = np.zeros((8 * n_bytes, active.size), np.float32)
    start = 0
    for j, width in enumerate(active):
        weights[start : start + width, j] = 2.0 ** np.arange(width - 1, -1, -1)
        start += int(width)
    if combine is not None:
        weights = weights @ combine
    codes = g.op("MatMul", flat, g.const(weights, "bit_weights"))
    return g.op("Cast", codes, to=g.onnx.TensorProto.INT64)


def checked_codes(g: GraphBuilder, codes: str, widths: np.ndarray) -> str:
    """``codes`` (the active features'), with every row that holds a code
    outside its feature's range moved far beyond the tables, so that the
    lookup fails (onnxruntime: "indices element out of data bounds") instead
    of reading another code's row: ONNX has no way to raise a message."""
    limits = g.const((1 << widths[widths > 0]).astype(np.int64), "code_limits")
    outside = g.op(
        "Or",
        g.op("Less", codes, g.const(np.array(0, np.int64))),
        g.op("GreaterOrEqual", codes, limits),
    )
    as_int = g.op("Cast", outside, to=g.onnx.TensorProto.INT64)
    axis = g.const(np.array([1], np.int64))
    bad_codes = g.op("ReduceSum", as_int, axis, keepdims=1)  # per row
    # far beyond every table, also through the float32 window product
    return g.op("Add", codes, g.op("Mul", bad_codes, g.const(np.array(1 << 40))))


def codes_from_readings(g: GraphBuilder, readings: str, codec) -> str:
    """int64 codes ``(n, active)``: per feature, how many float32 thresholds lie
    strictly below the reading (NaN compares false: code 0, as on the node)."""
    widths = np.asarray(codec.n_bits)
    active = np.flatnonzero(widths > 0)
    thresholds = [np.asarray(codec.thresholds[j], np.float32) for j in active]
    widest = max(t.size for t in thresholds)
    if widest <= PADDED_COMPARISON_MAX:
        # one comparison of (n, features, 1) against (features, widest) thresholds
        padded = np.full((len(thresholds), widest), np.inf, np.float32)
        for row, t in enumerate(thresholds):
            padded[row, : t.size] = t
        picked = g.op("Gather", readings, g.const(active), axis=1)
        column = g.op("Unsqueeze", picked, g.const(np.array([2], np.int64)))
        above = g.op("Greater", column, g.const(padded, "thresholds"))
        counted = g.op("Cast", above, to=g.onnx.TensorProto.INT64)
        return g.op("ReduceSum", counted, g.const(np.array([2], np.int64)), keepdims=0)
    columns = []
    for j, t in zip(active, thresholds, strict=True):
        reading = g.op("Gather", readings, g.const(np.array([j])), axis=1)
        above = g.op("Greater", reading, g.const(t, "thresholds"))
        counted = g.op("Cast", above, to=g.onnx.TensorProto.INT64)
        columns.append(g.op("ReduceSum", counted, g.const(np.array([1], np.int64))))
    return g.op("Concat", *columns, axis=1)


# ----------------------------------------------------------------- network
def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)


def head_columns(units: int, n_heads: int) -> list[slice]:
    """Each head's block of the first layer's ``units`` outputs (``HeadLinear``
    reads head ``h`` from block ``h``)."""
    per_head = units // n_heads
    return [slice(h * per_head, (h + 1) * per_head) for h in range(n_heads)]


def gemm(g: GraphBuilder, x: str, weight: np.ndarray, bias: np.ndarray) -> str:
    """``x @ weight + bias`` as one ``Gemm`` (``weight``: in x out)."""
    weight = np.ascontiguousarray(weight, np.float32)
    bias = np.ascontiguousarray(bias, np.float32)
    return g.op("Gemm", x, g.const(weight, "weight"), g.const(bias, "bias"))


def byte_windows(widths) -> list[list[int]] | None:
    """The features in each byte of a packed row; None when one spans two."""
    widths = np.asarray(widths, np.int64)
    starts = bit_offsets(widths)
    if np.any(starts % 8 + widths > 8):
        return None
    windows: list[list[int]] = [[] for _ in range(-(-int(widths.sum()) // 8))]
    for j, start in enumerate(starts):
        windows[start // 8].append(j)
    return windows


def byte_tables(tables) -> np.ndarray | None:
    """``(bytes, 256, units)``: for every byte of a packed row and each of its
    256 values, the sum of the table rows of the codes it holds (the bias in
    byte 0's rows); None when a feature spans two bytes or the tables would
    exceed ``COMBINED_TABLE_MAX_VALUES``."""
    widths = tables.widths
    windows = byte_windows(widths)
    if windows is None or not fits_combined(len(windows) * 256, tables.table.shape[1]):
        return None
    table, starts = tables.combined_table(windows)
    by_byte = []
    for window, start in zip(windows, starts, strict=True):
        # a byte holds its features' combination, then zero padding bits
        bits = sum(widths[j] for j in window)
        rows = table[start : start + (1 << bits)]
        by_byte.append(np.repeat(rows, 1 << (8 - bits), axis=0))
    return np.stack(by_byte)


def byte_table_first_layer(
    g: GraphBuilder, packed: str, by_byte: np.ndarray, heads: list[slice]
) -> list[str]:
    """Each head's first-layer output from the packed bytes: one gather of
    every byte's table row, summed over the bytes."""
    n_bytes, _, units = by_byte.shape
    index = g.op("Cast", packed, to=g.onnx.TensorProto.INT64)
    rows = np.arange(n_bytes, dtype=np.int64) * 256
    index = g.op("Add", index, g.const(rows, "byte_offsets"))
    table = by_byte.reshape(n_bytes * 256, units)
    return gathered_sums(g, index, n_bytes, table, heads, "byte")


def gathered_sums(
    g: GraphBuilder,
    index: str,
    n_columns: int,
    table: np.ndarray,
    heads: list[slice],
    kind: str,
) -> list[str]:
    """Each head's sum over a row's ``n_columns`` ``index`` columns of the
    table rows they name, with no reshape between the heads.

    ONNX has no gather that sums. Up to ``CHAINED_GATHERS_MAX`` columns, each
    column's rows are gathered apart and added to the running sum at once
    (read back while in cache); with more, one ``Gather`` of every column and a
    ``ReduceSum`` (a chain would cost two kernels a column per head).
    """
    chained = n_columns <= CHAINED_GATHERS_MAX
    if chained:
        columns = [
            g.op("Gather", index, g.const(np.array(c, np.int64)), axis=1)
            for c in range(n_columns)
        ]
    else:
        axis = g.const(np.array([1], np.int64))
    outputs = []
    for head in heads:
        head_table = g.const(np.ascontiguousarray(table[:, head]), f"{kind}_table")
        if chained:
            total = g.op("Gather", head_table, columns[0], axis=0)
            for column in columns[1:]:
                total = g.op("Add", total, g.op("Gather", head_table, column, axis=0))
        else:
            gathered = g.op("Gather", head_table, index, axis=0)
            total = g.op("ReduceSum", gathered, axis, keepdims=0)
        outputs.append(total)
    return outputs


def window_weights(tables) -> np.ndarray | None:
    """``(active, windows)``: each feature's code shifted to its place in its
    window's combination (``codes @ weights``), or None when every feature is
    a window of its own (codes are their windows' rows)."""
    n_active = len(tables.widths)
    if len(tables.windows) == n_active:
        return None
    weights = np.zeros((n_active, len(tables.windows)), np.float32)
    window_of, shifts = tables.window_of.cpu(), tables.shifts.cpu()
    weights[np.arange(n_active), window_of.numpy()] = 2.0 ** shifts.numpy()
    return weights


def windowed_first_layer(
    g: GraphBuilder, codes: str, tables, heads: list[slice]
) -> list[str]:
    """Each head's first-layer output as one gather per window of features,
    summed: the torch server's windows and tables (``FirstLayerTables``)."""
    weights = window_weights(tables)
    if weights is not None:  # combined codes < 2**24: exact in float32
        proto = g.onnx.TensorProto
        as_float = g.op("Cast", codes, to=proto.FLOAT)
        combined = g.op("MatMul", as_float, g.const(weights, "window_weights"))
        codes = g.op("Cast", combined, to=proto.INT64)
    return window_rows_first_layer(g, codes, tables, heads)


def window_rows_first_layer(
    g: GraphBuilder, window_codes: str, tables, heads: list[slice]
) -> list[str]:
    """Each head's first-layer output from each window's combined code."""
    starts = tables.window_starts.cpu().numpy()
    index = g.op("Add", window_codes, g.const(starts, "window_offsets"))
    table = _array(tables.window_table)
    return gathered_sums(g, index, len(tables.windows), table, heads, "window")


def packed_first_layer(g: GraphBuilder, packed: str, module: nn.Module, widths):
    """Each head's first-layer output straight from packed bytes: byte tables
    where no feature spans two bytes, else the bits weighted in one product
    to windows' combined codes; None when the model has no small tables."""
    tables = first_layer_tables(module)
    if tables is None:
        return None
    first = module.mlp[0]
    heads = head_columns(first.out_features, heads_of(module))
    by_byte = byte_tables(tables)
    if by_byte is not None:
        return byte_table_first_layer(g, packed, by_byte, heads)
    window_codes = codes_from_packed(g, packed, widths, window_weights(tables))
    return window_rows_first_layer(g, window_codes, tables, heads)


def first_layer_by_head(g: GraphBuilder, codes: str, module: nn.Module) -> list[str]:
    """Each head's first-layer output ``(n, units)`` from active codes.

    As lookup tables (one row per code and feature, summed) when the torch
    server uses them (``first_layer_tables``); otherwise the network's inputs
    per code as tables, then each head's block of the layer's product.
    """
    quantizer, first = module.quantizer, module.mlp[0]
    heads = head_columns(first.out_features, heads_of(module))
    tables = first_layer_tables(module)
    if tables is not None:
        return windowed_first_layer(g, codes, tables, heads)
    widths = [int(b) for b in quantizer.n_bits]
    sizes = [int(s) for s in quantizer.out_sizes]
    input_values = sum((1 << b) * s for b, s in zip(widths, sizes, strict=True))
    if input_values > MAX_INPUT_TABLE_VALUES:
        raise ValueError(
            f"this model's network inputs per code would take {input_values:,} "
            f"values (more than {MAX_INPUT_TABLE_VALUES:,}); export a model with "
            "fewer bits or representation='embedding', whose inputs do not grow "
            "with 2**n_bits."
        )
    parts = []
    for j, rows in enumerate(inputs_per_code(quantizer, first.weight.device)):
        table = g.const(_array(rows), "input_table")
        index = g.op("Gather", codes, g.const(np.array(j)), axis=1)
        parts.append(g.op("Gather", table, index, axis=0))
    network_input = g.op("Concat", *parts, axis=1)
    return linear_by_head(g, network_input, first, heads)


def linear_by_head(
    g: GraphBuilder, x: str, layer: nn.Linear, heads: list[slice]
) -> list[str]:
    """Each head's block of ``layer``'s outputs on ``x``."""
    weight, bias = _array(layer.weight), _array(layer.bias)
    return [gemm(g, x, weight[c].T, bias[c]) for c in heads]


def mlp_after_first(
    g: GraphBuilder, heads: list[str], layers, classification: bool
) -> tuple[str, bool]:
    """The layers after the first, head by head, on each head's first-layer
    output; returns the network's output (a regression's as one row, see
    ``regression_output``) and whether it is already class probabilities (the
    mean of the heads')."""
    layers = [layer for layer in layers if not isinstance(layer, nn.Dropout)]
    for i, layer in enumerate(layers):
        last = all(isinstance(rest, CombineHeads) for rest in layers[i + 1 :])
        if last and not classification and isinstance(layer, nn.Linear | HeadLinear):
            return regression_output(g, heads, layer), False
        if isinstance(layer, nn.ReLU):
            heads = [g.op("Relu", h) for h in heads]
        elif isinstance(layer, nn.Linear):  # one head
            heads = [gemm(g, heads[0], _array(layer.weight).T, _array(layer.bias))]
        elif isinstance(layer, HeadLinear):
            weight, bias = _array(layer.weight), _array(layer.bias)
            heads = [gemm(g, h, weight[k], bias[k, 0]) for k, h in enumerate(heads)]
        elif isinstance(layer, CombineHeads):
            if classification:  # the mean of the heads' probabilities
                heads = [g.op("Softmax", h, axis=1) for h in heads]
            mean = np.array(1 / len(heads), np.float32)
            combined = g.op("Mul", g.op("Sum", *heads), g.const(mean, "mean"))
            return combined, classification
        else:
            raise TypeError(f"export_onnx cannot write a {type(layer).__name__} layer.")
    return heads[0], False


def regression_output(g: GraphBuilder, heads: list[str], layer) -> str:
    """The mean of the heads' single outputs by ``layer``, the network's last,
    shape ``(1, n)``: each head's product runs transposed, ``w @ x.T``
    (onnxruntime's ``Gemm`` with one output column ran 4x slower than with one
    output row), the heads added through ``Gemm``'s C input and the mean folded
    into the weights."""
    if isinstance(layer, HeadLinear):
        rows = _array(layer.weight)[:, :, 0]  # (heads, inputs)
        biases = _array(layer.bias)[:, 0, 0]
    else:
        rows, biases = _array(layer.weight), _array(layer.bias)  # (1, inputs)
    n_heads = len(heads)
    total = g.const(np.full((1, 1), biases.sum() / n_heads, np.float32), "bias")
    for row, x in zip(rows / n_heads, heads, strict=True):
        total = g.op("Gemm", g.const(row[None, :], "weight"), x, total, transB=1)
    return total


# ----------------------------------------------------------------- outputs
def label_tensor(classes: np.ndarray) -> tuple[np.ndarray, int]:
    """``classes`` as an ONNX constant and its element type."""
    proto = _onnx().TensorProto
    if classes.dtype.kind == "b":
        return classes, proto.BOOL
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64), proto.INT64
    if classes.dtype.kind == "f":
        return classes.astype(np.float64), proto.DOUBLE
    if all(isinstance(c, str) for c in classes.tolist()):
        return np.array(classes.tolist(), dtype=object), proto.STRING
    raise TypeError(
        f"export_onnx writes class labels that are numbers or strings, got "
        f"{classes.dtype}; fit on integer or string labels."
    )


def target_outputs(g: GraphBuilder, out: str, target, is_probability: bool) -> list:
    """The graph outputs: predictions and, for classifiers, probabilities."""
    helper, proto = g.onnx.helper, g.onnx.TensorProto
    if target.classification:
        probabilities = out if is_probability else g.op("Softmax", out, axis=1)
        g.op("Identity", probabilities, output="probabilities")
        index = g.op("ArgMax", probabilities, axis=1, keepdims=0)
        labels, label_type = label_tensor(np.asarray(target.classes))
        g.op("Gather", g.const(labels, "classes"), index, axis=0, output="predictions")
        n_classes = len(target.classes)
        return [
            helper.make_tensor_value_info("predictions", label_type, ["N"]),
            helper.make_tensor_value_info(
                "probabilities", proto.FLOAT, ["N", n_classes]
            ),
        ]
    flat = g.op("Reshape", out, g.const(np.array([-1], np.int64)))
    as_double = g.op("Cast", flat, to=proto.DOUBLE)
    scaled = g.op("Mul", as_double, g.const(np.array(target.scale, np.float64)))
    g.op(
        "Add", scaled, g.const(np.array(target.mean, np.float64)), output="predictions"
    )
    return [helper.make_tensor_value_info("predictions", proto.DOUBLE, ["N"])]


# ----------------------------------------------------------------- models
def quantizer_graph(estimator, input_kind: str):
    """The graph of a fitted SoftQuantizer on ``input_kind`` rows."""
    from ._estimator import fitted_state

    state = fitted_state(estimator, "export_onnx")
    codec, module = state.codec, estimator.net_.module_
    proto, helper = _onnx().TensorProto, _onnx().helper
    widths = np.asarray(codec.n_bits)
    g = GraphBuilder()
    heads = None
    if input_kind == "packed":
        source = helper.make_tensor_value_info(
            "packed", proto.UINT8, ["N", codec.bytes_per_row]
        )
        heads = packed_first_layer(g, "packed", module, widths)
        codes = None if heads else codes_from_packed(g, "packed", widths)
    elif input_kind == "codes":
        source = helper.make_tensor_value_info(
            "codes", proto.INT64, ["N", state.n_features_in]
        )
        active = np.flatnonzero(widths > 0)
        picked = g.op("Gather", "codes", g.const(active), axis=1)
        codes = checked_codes(g, picked, widths)
    else:
        source = helper.make_tensor_value_info(
            "readings", proto.FLOAT, ["N", state.n_features_in]
        )
        codes = codes_from_readings(g, "readings", codec)
    heads = heads or first_layer_by_head(g, codes, module)
    classification = state.target.classification
    out, is_probability = mlp_after_first(
        g, heads, list(module.mlp)[1:], classification
    )
    outputs = target_outputs(g, out, state.target, is_probability)
    metadata = {
        "model_id": codec.model_id,
        "input": input_kind,
        "wire_format": str(WIRE_FORMAT_VERSION),
        "bytes_per_row": str(codec.bytes_per_row),
        "n_bits": json.dumps([int(b) for b in widths]),
        "feature_names": json.dumps(state.feature_names()),
    }
    return g, source, outputs, metadata


def full_precision_graph(estimator, input_kind: str):
    """The graph of a fitted FullPrecisionMLP on float32 readings."""
    if input_kind != "readings":
        raise ValueError(
            f"a {type(estimator).__name__} takes float32 readings; it has no codes "
            f"or packed bytes, so use input='readings', not {input_kind!r}."
        )
    proto, helper = _onnx().TensorProto, _onnx().helper
    n_features = int(estimator.n_features_in_)
    g = GraphBuilder()
    source = helper.make_tensor_value_info("readings", proto.FLOAT, ["N", n_features])
    as_double = g.op("Cast", "readings", to=proto.DOUBLE)
    centred = g.op(
        "Sub", as_double, g.const(np.asarray(estimator.feature_mean_, np.float64))
    )
    scaled = g.op(
        "Div", centred, g.const(np.asarray(estimator.feature_scale_, np.float64))
    )
    standardized = g.op("Cast", scaled, to=proto.FLOAT)
    module = estimator.net_.module_
    layers = list(module.mlp)
    heads = head_columns(layers[0].out_features, heads_of(module))
    first = linear_by_head(g, standardized, layers[0], heads)
    target = estimator.target_
    out, is_probability = mlp_after_first(g, first, layers[1:], target.classification)
    outputs = target_outputs(g, out, target, is_probability)
    return g, source, outputs, {"input": input_kind}


def estimator_graph(estimator, input_kind: str):
    """``(builder, input, outputs, metadata)`` of a fitted estimator's graph."""
    from ._full_precision import _BaseFullPrecisionMLP

    if input_kind not in INPUT_KINDS:
        raise ValueError(
            f"input must be one of {', '.join(map(repr, INPUT_KINDS))}, got "
            f"{input_kind!r}."
        )
    if isinstance(estimator, _BaseFullPrecisionMLP):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        return full_precision_graph(estimator, input_kind)
    return quantizer_graph(estimator, input_kind)


def onnx_model(estimator, input_kind: str):
    """An ``onnx.ModelProto`` of a fitted estimator on ``input_kind`` rows."""
    onnx = _onnx()
    g, source, outputs, metadata = estimator_graph(estimator, input_kind)
    graph = onnx.helper.make_graph(
        g.nodes, "sklearn_bsq", [source], outputs, initializer=g.initializers
    )
    model = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="sklearn_bsq",
        producer_version=__version__,
        doc_string=f"{type(estimator).__name__} on {input_kind} rows",
    )
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime >= 1.14
    onnx.helper.set_model_props(
        model, {"estimator": type(estimator).__name__, **metadata}
    )
    onnx.checker.check_model(model)
    return model
