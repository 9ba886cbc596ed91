"""The node side: readings to codes to bytes (``_node``), for widths 1..10 bits
in every representation."""

import numpy as np

from conftest import MIXED


def test_codes_count_thresholds_below_the_float32_reading(fitted, cancer):
    X32 = cancer[1].astype(np.float32)
    codes = fitted.encode(X32)
    for j, t in enumerate(fitted.thresholds_):
        expected = (X32[:, j, None] > t[None, :]).sum(axis=1)
        np.testing.assert_array_equal(codes[:, j], expected)


def test_reading_on_a_threshold_goes_to_the_lower_code(fitted, cancer):
    X = np.tile(cancer[1][:1], (3, 1)).astype(np.float32)
    t = fitted.thresholds_[3]  # 4-bit feature
    X[:, 3] = [t[0], t[5], np.nextafter(t[5], np.float32(np.inf))]
    assert np.all(np.diff(t[:7]) > 0)
    # no threshold lies strictly below t[0]; five lie below t[5], six above it
    assert fitted.encode(X)[:, 3].tolist() == [0, 5, 6]


def test_out_of_range_readings_get_the_end_codes(fitted, cancer):
    X = np.vstack([cancer[1][:1] * 0 - 1e30, cancer[1][:1] * 0 + 1e30])
    codes = fitted.encode(X)
    assert codes[0].tolist() == [0] * 30
    assert codes[1].tolist() == [2**b - 1 for b in MIXED]
