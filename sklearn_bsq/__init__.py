"""Trainable bitwise soft quantization of input features for scikit-learn.

The public names load on first use, so that ``sklearn_bsq.codec`` (the fitted
codec, numpy only) and the command line's ``--help`` do not import torch.
"""

from importlib import import_module

from ._version import __version__

# public name -> the module that defines it
_PUBLIC = {
    "SoftQuantizer": "._estimator",
    "SoftQuantizerClassifier": "._estimator",
    "SoftQuantizerRegressor": "._estimator",
    "FullPrecisionMLP": "._full_precision",
    "FullPrecisionMLPClassifier": "._full_precision",
    "FullPrecisionMLPRegressor": "._full_precision",
    "distill": "._distill",
    "Codec": ".codec",
    "WIRE_FORMAT_VERSION": "._packing",
    "pack": "._packing",
    "unpack": "._packing",
    "export_c": ".export",
    "export_onnx": ".export",
    "export_python": ".export",
    "register_skl2onnx": ".export",
    "load": ".persistence",
    "save": ".persistence",
    "RateAccuracyDisplay": ".plotting",
    "ThresholdDisplay": ".plotting",
    "bits_per_sample": ".scoring",
    "compression_ratio": ".scoring",
    "message_bits_per_sample": ".scoring",
    "rate_scoring": ".scoring",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'sklearn_bsq' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
