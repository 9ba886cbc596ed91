"""Trainable bitwise soft quantization of input features for scikit-learn."""

from ._estimator import SoftQuantizer, SoftQuantizerClassifier, SoftQuantizerRegressor
from ._full_precision import FullPrecisionMLP
from ._packing import WIRE_FORMAT_VERSION, pack, unpack
from ._version import __version__
from .export import export_c, export_python
from .persistence import load, save
from .plotting import RateAccuracyDisplay, ThresholdDisplay
from .scoring import bits_per_sample, compression_ratio, rate_scoring

__all__ = [
    "FullPrecisionMLP",
    "RateAccuracyDisplay",
    "ThresholdDisplay",
    "SoftQuantizer",
    "SoftQuantizerClassifier",
    "SoftQuantizerRegressor",
    "WIRE_FORMAT_VERSION",
    "export_c",
    "export_python",
    "load",
    "save",
    "pack",
    "unpack",
    "bits_per_sample",
    "compression_ratio",
    "rate_scoring",
    "__version__",
]
