"""The fitted-state contract (``_fitted_state``) that persistence, export and
plotting use: a state taken from one estimator makes another one the same model,
and a state that contradicts the parameters is refused."""

import dataclasses

import numpy as np
import pytest

from sklearn_bsq import FullPrecisionMLP, SoftQuantizerClassifier, export_c
from sklearn_bsq._fitted_state import InMemoryTensors

from conftest import FAST


@pytest.fixture(scope="module")
def model(cancer):
    sq = SoftQuantizerClassifier([2, 3] * 15, random_state=0, **FAST)
    return sq.fit(cancer[0], cancer[2])


def test_a_state_makes_a_fresh_estimator_the_same_model(model, cancer):
    copy = SoftQuantizerClassifier(**model.get_params())
    copy._set_fitted_state(model._get_fitted_state())
    np.testing.assert_array_equal(copy.transform(cancer[1]), model.transform(cancer[1]))
    np.testing.assert_array_equal(
        copy.predict_proba(cancer[1]), model.predict_proba(cancer[1])
    )
    assert copy.bytes_per_row_ == 10 and copy.compression_ratio_ == 12.0


def test_a_state_that_contradicts_the_parameters_is_refused(model):
    state = model._get_fitted_state()
    with pytest.raises(ValueError, match="contradicts the stored widths"):
        SoftQuantizerClassifier(4)._set_fitted_state(state)
    moved = dataclasses.replace(state, thresholds=[t + 1 for t in state.thresholds])
    copy = SoftQuantizerClassifier(**model.get_params())
    with pytest.raises(ValueError, match="thresholds do not match the network"):
        copy._set_fitted_state(moved)
    traced = dataclasses.replace(state, allocation_trace={"feature": np.array([-1])})
    with pytest.raises(ValueError, match="allocation trace goes with n_bits='auto'"):
        copy._set_fitted_state(traced)


class _NoReading(InMemoryTensors):
    def read(self, key):
        raise AssertionError(f"{key} was read before its shape was checked")


def test_tensor_shapes_are_checked_before_any_is_read(model):
    state = model._get_fitted_state()
    arrays = dict(state.module_state.arrays)
    arrays["mlp.0.weight"] = np.zeros((1, 1), np.float32)
    bad = dataclasses.replace(state, module_state=_NoReading(arrays))
    with pytest.raises(ValueError, match="size mismatch for module tensor"):
        SoftQuantizerClassifier(**model.get_params())._set_fitted_state(bad)


def test_export_and_plotting_name_what_they_take(cancer):
    mlp = FullPrecisionMLP(**{**FAST, "max_epochs": 1}).fit(cancer[0], cancer[2])
    with pytest.raises(TypeError, match="export_c takes a fitted SoftQuantizer"):
        export_c(mlp)
