"""What the estimators share (``_mlp_estimator``): parameters declared once and
seen by scikit-learn, standardization, the task."""

import inspect

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_bsq import (
    FullPrecisionMLP,
    SoftQuantizer,
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
)
from sklearn_bsq._mlp_estimator import BaseMLPEstimator
from sklearn_bsq._standardization import fit_standardization, standardize

NETWORK = [
    name
    for name in inspect.signature(BaseMLPEstimator.__init__).parameters
    if name != "self"
]
QUANTIZER = [
    "n_bits",
    "bit_budget",
    "allocation",
    "representation",
    "quantizer",
    "threshold_init",
    "threshold_lr",
    "steepness",
]


@pytest.mark.parametrize(
    "cls, own",
    [
        (FullPrecisionMLP, ["task"]),
        (SoftQuantizer, QUANTIZER + ["task"]),
        (SoftQuantizerClassifier, QUANTIZER),
        (SoftQuantizerRegressor, QUANTIZER),
    ],
)
def test_every_parameter_is_seen_by_get_params(cls, own):
    assert sorted(cls().get_params()) == sorted(own + NETWORK)
    # the signature scikit-learn reads has no **kwargs, and n_bits stays positional
    parameters = inspect.signature(cls.__init__).parameters
    assert all(p.kind is not p.VAR_KEYWORD for p in parameters.values())
    if "n_bits" in own:
        assert cls(3).n_bits == 3


def test_the_quantizers_and_the_reference_share_the_network_defaults():
    reference = FullPrecisionMLP().get_params()
    quantizer = SoftQuantizerRegressor().get_params()
    assert {k: quantizer[k] for k in NETWORK} == {k: reference[k] for k in NETWORK}


def test_set_params_and_clone_reach_inherited_parameters():
    sq = SoftQuantizer(2, task="regression", dropout=0.3).set_params(max_epochs=7)
    copy = clone(sq)
    assert (copy.n_bits, copy.task, copy.dropout, copy.max_epochs) == (
        2,
        "regression",
        0.3,
        7,
    )
    with pytest.raises(TypeError, match="unexpected keyword argument 'bits'"):
        SoftQuantizer(bits=2)


def test_standardization_keeps_constant_features_finite():
    X = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
    mean, scale = fit_standardization(X)
    X_std = standardize(X, mean, scale)
    assert mean.tolist() == [2.0, 5.0]
    assert scale.tolist() == [1.0, 1.0]  # the constant: scale 1
    assert X_std.tolist() == [[-1.0, 0.0], [1.0, 0.0]] and X_std.dtype == np.float32
