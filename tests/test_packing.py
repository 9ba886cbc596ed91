"""Wire format v1: packing against numpy.packbits, round trips, and bad bytes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_bsq import pack, unpack
from sklearn_bsq._packing import bytes_per_row, check_bit_widths, code_dtype


def packbits_reference(codes, widths):
    """The wire format as method.md defines it: MSB-first bits, then np.packbits."""
    columns = [
        (codes[:, j].astype(np.int64) >> shift) & 1
        for j, width in enumerate(widths)
        for shift in range(width - 1, -1, -1)
    ]
    bits = np.stack(columns, axis=1) if columns else np.zeros((len(codes), 0))
    return np.packbits(bits.astype(np.uint8), axis=1, bitorder="big")


def random_codes(rng, widths, n):
    return np.stack([rng.integers(0, 2**w, n) for w in widths], axis=1)


def test_hand_computed_example():
    # codes 1 (2 bits) and 2 (3 bits): bits 01 010 + 3 padding zeros = 0b01010000
    assert pack(np.array([[1, 2]]), [2, 3]).tolist() == [[0b01010000]]
    # 16-bit code 0xABCD then 4-bit 0xE: bytes AB CD E0
    assert pack(np.array([[0xABCD, 0xE]]), [16, 4]).tolist() == [[0xAB, 0xCD, 0xE0]]


@pytest.mark.parametrize("width", range(1, 17))
@pytest.mark.parametrize("n_features", [1, 3, 8, 13])
def test_uniform_widths_match_packbits(width, n_features):
    rng = np.random.default_rng(width * 100 + n_features)
    widths = [width] * n_features
    codes = random_codes(rng, widths, 64)
    packed = pack(codes, widths)
    assert packed.dtype == np.uint8 and packed.flags.c_contiguous
    assert packed.shape == (64, bytes_per_row(widths))
    np.testing.assert_array_equal(packed, packbits_reference(codes, widths))
    np.testing.assert_array_equal(unpack(packed, widths), codes)


def test_mixed_widths_across_word_boundaries_match_packbits():
    rng = np.random.default_rng(0)
    for _ in range(300):
        widths = rng.integers(0, 17, rng.integers(1, 24))
        codes = random_codes(rng, widths, 16)
        packed = pack(codes, widths)
        np.testing.assert_array_equal(packed, packbits_reference(codes, widths))
        np.testing.assert_array_equal(unpack(packed, widths), codes)


@settings(max_examples=200, deadline=None)
@given(
    widths=st.lists(st.integers(0, 16), min_size=1, max_size=20),
    n_rows=st.integers(0, 5),
    data=st.data(),
)
def test_round_trip_property(widths, n_rows, data):
    columns = [
        data.draw(arrays(np.int64, n_rows, elements=st.integers(0, 2**w - 1)))
        for w in widths
    ]
    codes = np.stack(columns, axis=1).reshape(n_rows, len(widths))
    packed = pack(codes, widths)
    assert packed.shape == (n_rows, bytes_per_row(widths))
    np.testing.assert_array_equal(packed, packbits_reference(codes, widths))
    decoded = unpack(packed, widths)
    assert decoded.dtype == code_dtype(widths)
    np.testing.assert_array_equal(decoded, codes)


def test_code_dtype_is_smallest_unsigned():
    assert code_dtype([1, 8]) == np.uint8
    assert code_dtype([9, 2]) == np.uint16


def test_zero_width_features_take_no_bits():
    codes = np.array([[0, 5, 0]])
    packed = pack(codes, [0, 3, 0])
    assert packed.tolist() == [[0b10100000]]
    np.testing.assert_array_equal(unpack(packed, [0, 3, 0]), codes)


@pytest.mark.parametrize(
    "codes, match",
    [
        (np.array([[4, 0]]), "code out of range for feature 0"),
        (np.array([[0, -1]]), "code out of range for feature 1"),
        (np.array([[0, 0, 0]]), r"codes must have shape \(n_samples, 2\)"),
    ],
)
def test_pack_rejects_bad_codes(codes, match):
    with pytest.raises(ValueError, match=match):
        pack(codes, [2, 3])


def test_pack_rejects_float_codes():
    with pytest.raises(TypeError, match="codes must be integers"):
        pack(np.array([[1.0, 2.0]]), [2, 3])


def test_unpack_rejects_nonzero_padding():
    with pytest.raises(ValueError, match="non-zero padding bits in row 1"):
        unpack(np.array([[0b01010000], [0b01010001]], dtype=np.uint8), [2, 3])


def test_unpack_rejects_wrong_row_length():
    with pytest.raises(ValueError, match=r"shape \(n_samples, 1\)"):
        unpack(np.zeros((2, 2), dtype=np.uint8), [2, 3])


def test_unpack_rejects_wrong_dtype():
    with pytest.raises(TypeError, match="dtype uint8"):
        unpack(np.zeros((2, 1), dtype=np.int64), [2, 3])


@pytest.mark.parametrize(
    "widths, error, match",
    [
        ([17], ValueError, "must be in 0..16"),
        ([-1], ValueError, "must be in 0..16"),
        ([2.5], TypeError, "must be integers"),
        (["4"], TypeError, "must be integers"),
        ([[1, 2]], ValueError, "1-D"),
    ],
)
def test_bit_width_validation(widths, error, match):
    with pytest.raises(error, match=match):
        check_bit_widths(widths)


def test_zero_width_can_be_forbidden():
    with pytest.raises(ValueError, match="must be in 1..16"):
        check_bit_widths([0, 3], allow_zero=False)
