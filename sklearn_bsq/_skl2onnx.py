"""skl2onnx converters for the package's estimators (``register_skl2onnx``).

A SoftQuantizer or FullPrecisionMLP inside a Pipeline receives the float
features of the steps before it: its converter writes the ``"readings"`` graph of
``_onnx`` into the pipeline's graph, with the pipeline's names. Outputs follow
skl2onnx's names: ``label`` and ``probabilities`` for a classifier (no ZipMap),
``variable`` for a regressor.
"""

from __future__ import annotations

import numpy as np

from ._onnx import MIN_OPSET, estimator_graph, label_tensor


def _classification(model) -> bool:
    return bool(model.target_.classification)


def _alias(cls) -> str:
    return f"SklearnBsq{cls.__name__}"


def parse(scope, model, inputs, custom_parsers=None):
    """Declare the operator and its outputs (label and probabilities, or
    variable), so that skl2onnx adds no ZipMap of its own."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    operator = scope.declare_local_operator(_alias(type(model)), model)
    operator.inputs = inputs
    if _classification(model):
        _, label_type = label_tensor(np.asarray(model.target_.classes))
        types = {
            TensorProto.BOOL: BooleanTensorType,
            TensorProto.INT64: Int64TensorType,
            TensorProto.DOUBLE: DoubleTensorType,
            TensorProto.STRING: StringTensorType,
        }
        label = scope.declare_local_variable("label", types[label_type]())
        probabilities = scope.declare_local_variable("probabilities", FloatTensorType())
        operator.outputs.extend([label, probabilities])
    else:
        operator.outputs.append(
            scope.declare_local_variable("variable", DoubleTensorType())
        )
    return list(operator.outputs)


def shape(operator) -> None:
    """Rows of labels (or values) and, for a classifier, of probabilities."""
    n = operator.inputs[0].get_first_dimension()
    model = operator.raw_operator
    operator.outputs[0].type.shape = [n]
    if _classification(model):
        operator.outputs[1].type.shape = [n, len(model.target_.classes)]


def convert(scope, operator, container) -> None:
    """The estimator's readings graph with the pipeline's names."""
    from onnx import TensorProto, helper

    model = operator.raw_operator
    if container.target_opset < MIN_OPSET:
        raise ValueError(
            f"sklearn_bsq's converters write ai.onnx opset {MIN_OPSET} or later, "
            f"got target_opset={container.target_opset}; convert with "
            f"target_opset={MIN_OPSET} or more."
        )
    g, _, outputs, _ = estimator_graph(model, "readings")
    names = {
        out.name: var.full_name
        for out, var in zip(outputs, operator.outputs, strict=True)
    }
    source = operator.inputs[0]
    if source.type.to_onnx_type().tensor_type.elem_type == TensorProto.FLOAT:
        names["readings"] = source.full_name
    else:  # the steps before gave doubles: the node compares float32
        names["readings"] = scope.get_unique_variable_name("readings")
        container.add_node(
            "Cast",
            [source.full_name],
            [names["readings"]],
            name=scope.get_unique_operator_name("Cast"),
            to=TensorProto.FLOAT,
        )

    def renamed(name: str) -> str:
        if name not in names:
            names[name] = scope.get_unique_variable_name(name)
        return names[name]

    for tensor in g.initializers:
        copy = type(tensor)()
        copy.CopyFrom(tensor)
        copy.name = renamed(tensor.name)
        container.initializers.append(copy)
    for node in g.nodes:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            [renamed(name) for name in node.input],
            [renamed(name) for name in node.output],
            name=scope.get_unique_operator_name(node.op_type),
            **attributes,
        )


def register() -> None:
    """Register the converters for every estimator class of the package."""
    from skl2onnx import update_registered_converter

    from ._estimator import (
        SoftQuantizer,
        SoftQuantizerClassifier,
        SoftQuantizerRegressor,
    )
    from ._full_precision import (
        FullPrecisionMLP,
        FullPrecisionMLPClassifier,
        FullPrecisionMLPRegressor,
    )

    for cls in (
        SoftQuantizer,
        SoftQuantizerClassifier,
        SoftQuantizerRegressor,
        FullPrecisionMLP,
        FullPrecisionMLPClassifier,
        FullPrecisionMLPRegressor,
    ):
        # The graphs have no ZipMap: accept the option that asks for none, which
        # conversion scripts often pass for every classifier.
        update_registered_converter(
            cls, _alias(cls), shape, convert, parser=parse, options={"zipmap": [False]}
        )
