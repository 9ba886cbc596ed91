"""Parameter and reading checks (``_validation``): each names the problem and
the fix. (Their use through the estimators: test_bad_input.py.)"""

import numpy as np
import pandas as pd
import pytest

from sklearn_bsq import SoftQuantizer
from sklearn_bsq._validation import (
    check_bit_budget,
    check_device,
    check_n_bits,
    check_readings,
    check_steepness,
    learned_bit_budget,
    learns_widths,
)


def test_n_bits_from_an_int_or_one_width_per_feature():
    assert check_n_bits(3, 4).tolist() == [3, 3, 3, 3]
    assert check_n_bits([0, 2, 16], 3).tolist() == [0, 2, 16]
    assert check_n_bits(np.array([1.0, 2.0]), 2).tolist() == [1, 2]


@pytest.mark.parametrize(
    "n_bits, error, match",
    [
        ([1, 2], ValueError, "n_bits has 2 entries but X has 3 features"),
        ([0, 0, 0], ValueError, "at least one feature must be transmitted"),
        ([1, 17, 2], ValueError, r"each bit width must be in 0..16; got \[17\]"),
        ("four", TypeError, "n_bits must be an int or a sequence of ints"),
        (True, TypeError, "n_bits must be an int or a sequence of ints"),
    ],
)
def test_bad_n_bits(n_bits, error, match):
    with pytest.raises(error, match=match):
        check_n_bits(n_bits, 3)


def test_bit_budget_goes_with_learned_widths_only():
    assert learns_widths("auto") and not learns_widths(np.array([1, 2]))
    assert learns_widths(4, "learned") and not learns_widths(4, "uniform")
    assert learned_bit_budget("auto", 12, "uniform", n_features=5) == 12
    assert learned_bit_budget(3, None, "learned", n_features=5) == 15
    assert learned_bit_budget(4, None, "uniform", n_features=5) is None
    with pytest.raises(ValueError, match="spends an int n_bits"):
        check_bit_budget([4, 2], None, "learned")
    with pytest.raises(ValueError, match="give bit_budget"):
        check_bit_budget("auto", None)
    with pytest.raises(ValueError, match="Set n_bits='auto' or bit_budget=None"):
        check_bit_budget(4, 12)


def test_steepness_is_a_pair_of_positive_numbers():
    assert check_steepness([4, 256]) == (4.0, 256.0)
    for bad in [(4.0,), (0.0, 1.0), (1.0, np.inf), (True, 2.0)]:
        with pytest.raises(ValueError, match="pair \\(start, end\\) of positive"):
            check_steepness(bad)


def test_readings_become_float32_and_text_columns_are_named():
    sq = SoftQuantizer()
    X = check_readings(sq, np.array([[1, 2], [3, 4]], dtype=np.int64), reset=True)
    assert X.dtype == np.float32 and sq.n_features_in_ == 2
    frame = pd.DataFrame({"temp": [1.0, 2.0], "site": ["a", "b"]})
    with pytest.raises(TypeError, match="column 'site' has dtype .*needs numeric"):
        check_readings(sq, frame, reset=True)


def test_device_names_and_missing_cuda():
    import torch

    assert check_device("cpu") == "cpu"
    assert check_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda', 'cuda:N'"):
        check_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch finds no CUDA device"):
            check_device("cuda:0")
        with pytest.raises(ValueError, match="torch finds no CUDA device"):
            SoftQuantizer(2, device="cuda").fit([[0.0], [1.0]], [0, 1])
