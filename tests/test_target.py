"""The task and the training target (``_target``)."""

import numpy as np
import pytest

from sklearn_bsq._target import encode_target, resolve_task


def test_the_task_is_read_from_the_target():
    assert resolve_task("auto", [0, 1, 1]) == "classification"
    assert resolve_task("auto", ["a", "b"]) == "classification"
    assert resolve_task("auto", [0.5, 1.25]) == "regression"
    assert resolve_task("regression", [0, 1, 1]) == "regression"
    with pytest.raises(ValueError, match="multi-output targets are not supported"):
        resolve_task("auto", np.zeros((3, 2)) + [[0.5, 1.5]])


def test_classes_become_indices_in_sorted_order():
    target = encode_target("classification", ["b", "a", "b", "c"])
    assert target.classes.tolist() == ["a", "b", "c"]
    assert target.y.tolist() == [1, 0, 1, 2] and target.y.dtype == np.int64


def test_a_regression_target_is_standardized_and_restorable():
    y = np.array([10.0, 20.0, 30.0, 40.0])
    target = encode_target("regression", y)
    assert target.y.dtype == np.float32
    np.testing.assert_allclose(target.y.mean(), 0.0, atol=1e-7)
    np.testing.assert_allclose(target.y.std(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(target.y * target.scale + target.mean, y, rtol=1e-6)
