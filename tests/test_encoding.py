"""The fast bucket encoder gives exactly the codes of the plain binary search."""

import numpy as np
import pytest

from sklearn_bsq._encoding import BucketEncoder, encode_codes


def adversarial_rows(thresholds, rng, n_random=20000):
    specials = np.array(
        [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38, 1.0, -1.0],
        dtype=np.float32,
    )
    columns = []
    for t in thresholds:
        near = np.concatenate(
            [
                t,
                np.nextafter(t, np.float32(np.inf)),
                np.nextafter(t, np.float32(-np.inf)),
            ]
        )
        values = np.concatenate(
            [near, specials, rng.normal(scale=3, size=n_random).astype(np.float32)]
        )
        columns.append(values)
    n = max(len(c) for c in columns)
    return np.stack([np.resize(c, n) for c in columns], axis=1).astype(np.float32)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 6, 8, 10, 12])
def test_matches_binary_search(width):
    rng = np.random.default_rng(width)
    thresholds = [
        np.sort(rng.normal(scale=s, size=2**width - 1)).astype(np.float32)
        for s in (1e-3, 1.0, 1e3, 1e30)
    ]
    thresholds[1][:3] = [-1.0, 0.0, 0.0][: thresholds[1][:3].size]  # ties, zero
    thresholds[1] = np.sort(thresholds[1])
    widths = [width] * 4
    X = adversarial_rows(thresholds, rng)
    encoder = BucketEncoder(thresholds, widths)
    np.testing.assert_array_equal(encoder(X), encode_codes(X, thresholds, widths))


NAN_BIT_PATTERNS = [
    0x7FC00000,  # the quiet NaN numpy makes
    0xFFC00000,  # with the sign bit
    0x7F800001,  # payload in the low 16 bits: the bucket of +inf
    0xFF800001,  # the bucket of -inf
    0x7FFFFFFF,
]


@pytest.mark.parametrize("search", [False, True], ids=["table", "search"])
def test_nan_gets_code_0_as_on_the_node(search, monkeypatch):
    """NaN compares false with every threshold, so the exported encoders give
    it code 0; numpy's search sorts it above every threshold (the top code)."""
    if search:
        monkeypatch.setattr(BucketEncoder, "TABLE_BUDGET_BYTES", 0)
    widths = [1, 4, 8, 10]
    thresholds = [np.linspace(-1, 1, 2**b - 1, dtype=np.float32) for b in widths]
    bits = np.array(NAN_BIT_PATTERNS + [0x7F800000, 0xFF800000], dtype=np.uint32)
    X = np.repeat(bits.view(np.float32)[:, None], 4, axis=1)
    top = [2**b - 1 for b in widths]
    expected = [[0] * 4] * len(NAN_BIT_PATTERNS) + [top, [0] * 4]  # then +-inf
    encoder = BucketEncoder(thresholds, widths)
    assert bool(encoder.use_table) is not search
    np.testing.assert_array_equal(encoder(X), expected)
    np.testing.assert_array_equal(encode_codes(X, thresholds, widths), expected)


def test_mixed_widths_and_chunk_boundaries():
    rng = np.random.default_rng(0)
    widths = [1, 5, 9, 16]
    thresholds = [np.sort(rng.normal(size=2**b - 1)).astype(np.float32) for b in widths]
    X = rng.normal(size=(BucketEncoder._CHUNK_ROWS * 2 + 7, 4)).astype(np.float32)
    codes = BucketEncoder(thresholds, widths)(X)
    assert codes.dtype == np.uint16
    np.testing.assert_array_equal(codes, encode_codes(X, thresholds, widths))


@pytest.mark.slow
def test_a_5000_feature_model_fits_and_transforms_in_under_1_gb():
    """The lookup table costs about 0.7 MB per feature; above its budget the
    encoder searches the thresholds, whose memory is all that grows."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from sklearn_bsq import SoftQuantizer\n"
        "X = np.random.default_rng(0).normal(size=(400, 5000)).astype(np.float32)\n"
        "y = (X[:, 0] > 0).astype(int)\n"
        "sq = SoftQuantizer(4, max_epochs=1, hidden_layer_sizes=(16,))\n"
        "packed = sq.fit(X, y).transform(X)\n"
        "assert (sq.decode(packed) == sq.encode(X)).all()\n"
        "assert not sq.codec_._encoder.use_table  # binary search: no 0.7 MB tables\n"
        # VmHWM: this process's peak (ru_maxrss keeps the forking parent's peak
        # across exec, which is pytest's own)
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert float(out.stdout.split()[-1]) < 1024  # MB


def test_table_and_search_give_the_same_codes(monkeypatch):
    rng = np.random.default_rng(3)
    widths = np.array([1, 4, 7, 2])
    thresholds = [np.sort(rng.normal(size=2**b - 1)).astype(np.float32) for b in widths]
    X = rng.normal(size=(5000, 4)).astype(np.float32) * 1.5
    table = BucketEncoder(thresholds, widths)
    monkeypatch.setattr(BucketEncoder, "TABLE_BUDGET_BYTES", 0)
    search = BucketEncoder(thresholds, widths)
    assert table.use_table and not search.use_table
    np.testing.assert_array_equal(table(X), search(X))
    np.testing.assert_array_equal(search(X), encode_codes(X, thresholds, widths))
