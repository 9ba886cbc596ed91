"""ONNX graphs of fitted estimators: a server runs them without Python or torch.

One graph per input kind, built node by node (no tracing, so the graph depends
on the fitted state alone and not on the torch version):

- ``"packed"``: uint8 rows of wire format v1, unpacked inside the graph;
- ``"codes"``: int64 codes, one column per feature (as ``encode`` returns them);
- ``"readings"``: float32 readings, coded inside the graph by counting the
  float32 thresholds strictly below each reading (the node's hard steps).

From the codes on the graph mirrors the torch server path (``_server``): the
first layer as per-feature lookup tables (``_first_layer``) when they are small,
the heads as batched products in a ``(heads, rows, units)`` layout, and the
target's mapping to labels or raw units at the end.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from ._first_layer import first_layer_tables, inputs_per_code
from ._network import CombineHeads, HeadLinear
from ._packing import WIRE_FORMAT_VERSION
from ._version import __version__

# ai.onnx opset of the graphs: onnxruntime has run it since 1.14.
OPSET = 17
INPUT_KINDS = ("packed", "codes", "readings")
# Input tables (one row of network inputs per code) above this many values make
# a graph too large to be worth writing (thermometer steps at 16 bits).
MAX_INPUT_TABLE_VALUES = 1 << 26
# Up to this many multi-hot columns (features x codes of the widest) the first
# layer's tables run as one product: in onnxruntime it beat a gather per feature
# at 3 to 6 bits of 8 features (512 columns), see CHANGELOG.md.
MULTI_HOT_MAX_COLUMNS = 512
# Up to this many thresholds in the widest feature, all features are compared
# in one padded block; above it (the padding would grow with 2**16), each alone.
PADDED_COMPARISON_MAX = 255


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

    def __init__(self, opset: int = OPSET) -> None:
        self.onnx = _onnx()
        self.opset = opset
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

    def mean_over_heads(self, x: str) -> str:
        """The mean over axis 0, dropped (its axes became an input in opset 18)."""
        if self.opset >= 18:
            axes = self.const(np.array([0], np.int64))
            return self.op("ReduceMean", x, axes, keepdims=0)
        return self.op("ReduceMean", x, axes=[0], keepdims=0)

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attrs) -> str:
        out = output or self._name(op_type.lower())
        node = self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs)
        self.nodes.append(node)
        return out


# ----------------------------------------------------------------- to codes
def codes_from_packed(g: GraphBuilder, packed: str, widths: np.ndarray) -> str:
    """int64 codes ``(n, active)`` from uint8 rows of wire format v1: every byte
    looked up as its 8 bits (most significant first; a gather is cheaper than
    integer division and remainder), then each feature's bits weighted by powers
    of two (one product; codes below 2**16 are exact in float32)."""
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
    codes = g.op("MatMul", flat, g.const(weights, "bit_weights"))
    return g.op("Cast", codes, to=g.onnx.TensorProto.INT64)


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


def multi_hot_first_layer(g: GraphBuilder, codes: str, tables, widths) -> str:
    """The tables' sum as one product: each row's codes as a multi-hot vector
    (one block of ``2**widest`` columns per feature) times the stacked tables,
    zero rows where a narrower feature has no code."""
    widest = 1 << max(widths)
    table = _array(tables.table)
    stacked = np.zeros((len(widths) * widest, table.shape[1]), np.float32)
    start = 0
    for j, b in enumerate(widths):
        stacked[j * widest : j * widest + (1 << b)] = table[start : start + (1 << b)]
        start += 1 << b
    column = g.op("Unsqueeze", codes, g.const(np.array([2], np.int64)))
    every_code = g.const(np.arange(widest, dtype=np.int64)[None, None, :])
    hot = g.op("Cast", g.op("Equal", column, every_code), to=g.onnx.TensorProto.FLOAT)
    flat = g.op("Reshape", hot, g.const(np.array([0, -1], np.int64)))
    hidden = g.op("MatMul", flat, g.const(stacked, "first_layer_table"))
    return g.op("Add", hidden, g.const(_array(tables.bias), "first_layer_bias"))


def first_layer_from_codes(g: GraphBuilder, codes: str, module: nn.Module) -> str:
    """The first linear layer's output ``(n, units)`` from active codes.

    As lookup tables (one row per code and feature, summed) when the torch
    server uses them (``first_layer_tables``); otherwise the network's inputs
    per code as tables, then the layer's product.
    """
    quantizer, first = module.quantizer, module.mlp[0]
    widths = [int(b) for b in quantizer.n_bits]
    tables = first_layer_tables(module)
    if tables is not None:
        if len(widths) << max(widths) <= MULTI_HOT_MAX_COLUMNS:
            return multi_hot_first_layer(g, codes, tables, widths)
        indices = g.op("Add", codes, g.const(tables.offsets.cpu().numpy()))
        table = g.const(_array(tables.table), "first_layer_table")
        hidden = None
        for j in range(len(widths)):
            index = g.op("Gather", indices, g.const(np.array(j)), axis=1)
            rows = g.op("Gather", table, index, axis=0)
            hidden = rows if hidden is None else g.op("Add", hidden, rows)
        return g.op("Add", hidden, g.const(_array(tables.bias), "first_layer_bias"))
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
    return linear(g, network_input, first)


def linear(g: GraphBuilder, x: str, layer: nn.Linear) -> str:
    product = g.op("MatMul", x, g.const(_array(layer.weight).T.copy(), "weight"))
    return g.op("Add", product, g.const(_array(layer.bias), "bias"))


def mlp_after_first(
    g: GraphBuilder, hidden: str, layers, classification: bool
) -> tuple[str, bool]:
    """The layers after the first on its output; returns the network's output
    and whether it is already class probabilities (heads averaged)."""
    by_head = False
    for layer in layers:
        if isinstance(layer, nn.ReLU):
            hidden = g.op("Relu", hidden)
        elif isinstance(layer, nn.Dropout):
            continue  # identity at inference
        elif isinstance(layer, nn.Linear):
            hidden = linear(g, hidden, layer)
        elif isinstance(layer, HeadLinear):
            if not by_head:  # (n, heads * units) -> (heads, n, units)
                shape = g.const(np.array([0, layer.n_heads, -1], np.int64))
                split = g.op("Reshape", hidden, shape)
                hidden = g.op("Transpose", split, perm=[1, 0, 2])
                by_head = True
            product = g.op("MatMul", hidden, g.const(_array(layer.weight), "weight"))
            hidden = g.op("Add", product, g.const(_array(layer.bias), "bias"))
        elif isinstance(layer, CombineHeads):
            if classification:  # the mean of the heads' probabilities
                probabilities = g.op("Softmax", hidden, axis=2)
                return g.mean_over_heads(probabilities), True
            return g.mean_over_heads(hidden), False
        else:
            raise TypeError(f"export_onnx cannot write a {type(layer).__name__} layer.")
    return hidden, False


# ----------------------------------------------------------------- outputs
def label_tensor(classes: np.ndarray) -> tuple[np.ndarray, int]:
    """``classes`` as an ONNX constant and its element type."""
    proto = _onnx().TensorProto
    if classes.dtype.kind in "iub":
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
def quantizer_graph(estimator, input_kind: str, opset: int = OPSET):
    """The graph of a fitted SoftQuantizer on ``input_kind`` rows."""
    from ._estimator import fitted_state

    state = fitted_state(estimator, "export_onnx")
    codec, module = state.codec, estimator.net_.module_
    proto, helper = _onnx().TensorProto, _onnx().helper
    widths = np.asarray(codec.n_bits)
    g = GraphBuilder(opset)
    if input_kind == "packed":
        source = helper.make_tensor_value_info(
            "packed", proto.UINT8, ["N", codec.bytes_per_row]
        )
        codes = codes_from_packed(g, "packed", widths)
    elif input_kind == "codes":
        source = helper.make_tensor_value_info(
            "codes", proto.INT64, ["N", state.n_features_in]
        )
        active = np.flatnonzero(widths > 0)
        codes = g.op("Gather", "codes", g.const(active), axis=1)
    else:
        source = helper.make_tensor_value_info(
            "readings", proto.FLOAT, ["N", state.n_features_in]
        )
        codes = codes_from_readings(g, "readings", codec)
    hidden = first_layer_from_codes(g, codes, module)
    classification = state.target.classification
    out, is_probability = mlp_after_first(
        g, hidden, list(module.mlp)[1:], classification
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


def full_precision_graph(estimator, input_kind: str, opset: int = OPSET):
    """The graph of a fitted FullPrecisionMLP on float32 readings."""
    if input_kind != "readings":
        raise ValueError(
            f"a {type(estimator).__name__} takes float32 readings; it has no codes "
            f"or packed bytes, so use input='readings', not {input_kind!r}."
        )
    proto, helper = _onnx().TensorProto, _onnx().helper
    n_features = int(estimator.n_features_in_)
    g = GraphBuilder(opset)
    source = helper.make_tensor_value_info("readings", proto.FLOAT, ["N", n_features])
    as_double = g.op("Cast", "readings", to=proto.DOUBLE)
    centred = g.op(
        "Sub", as_double, g.const(np.asarray(estimator.feature_mean_, np.float64))
    )
    scaled = g.op(
        "Div", centred, g.const(np.asarray(estimator.feature_scale_, np.float64))
    )
    standardized = g.op("Cast", scaled, to=proto.FLOAT)
    layers = list(estimator.net_.module_.mlp)
    hidden = linear(g, standardized, layers[0])
    target = estimator.target_
    out, is_probability = mlp_after_first(g, hidden, layers[1:], target.classification)
    outputs = target_outputs(g, out, target, is_probability)
    return g, source, outputs, {"input": input_kind}


def estimator_graph(estimator, input_kind: str, opset: int = OPSET):
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
        return full_precision_graph(estimator, input_kind, opset)
    return quantizer_graph(estimator, input_kind, opset)


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
