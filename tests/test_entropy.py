"""Message format v2: code frequencies, the range coder, and the estimator API."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_bsq import SoftQuantizerClassifier, SoftQuantizerRegressor, load, save
from sklearn_bsq._entropy import (
    MAX_TABLE_ENTRIES,
    CodeTables,
    RangeCoder,
    code_frequencies,
    cross_entropy_bits,
    frequency_rows,
    held_out_message_bits,
    precision_bits,
)
from sklearn_bsq._packing import bytes_per_row, pack
from sklearn_bsq.codec import Codec

FIXTURE = Path(__file__).parent / "fixtures" / "diabetes-format1.bsq.npz"


def coder_for(codes, widths):
    widths = np.asarray(widths, dtype=np.int64)
    return RangeCoder(widths, CodeTables.learn(codes, widths))


def tables_without_context(frequencies, widths):
    return CodeTables.checked(frequencies, None, widths)


def skewed_codes(rng, n, widths):
    """Geometric codes: most rows take the low codes, as real features do."""
    columns = [
        np.minimum(rng.geometric(0.35, n) - 1, (1 << b) - 1) if b else np.zeros(n)
        for b in widths
    ]
    dtype = np.uint16 if max(widths, default=0) > 8 else np.uint8
    return np.stack(columns, axis=1).astype(dtype).reshape(n, len(widths))


# ------------------------------------------------------------ frequencies
@pytest.mark.parametrize("width", [1, 2, 4, 8, 12, 16])
def test_frequencies_are_positive_and_sum_to_a_power_of_two(width):
    codes = np.random.default_rng(0).integers(0, 2, 500)  # most codes unseen
    f = code_frequencies(codes, width)
    assert f.shape == (1 << width,) and f.dtype == np.uint32
    assert f.min() >= 1
    assert int(f.sum()) == 1 << precision_bits(width)


def test_frequencies_follow_the_counts_with_half_a_count_added():
    # weights 2n+1: 7 and 3 of 10; 4094 spare: 1 + 2865 and 1 + 1228, and the
    # one left goes to the larger remainder (28658 % 10 = 8 against 2)
    assert code_frequencies([0, 0, 0, 1], 1).tolist() == [2867, 1229]
    assert code_frequencies([], 1).tolist() == [2048, 2048]


def test_a_code_out_of_range_is_refused():
    with pytest.raises(ValueError, match="out of range"):
        code_frequencies([0, 2], 1)


def test_rows_of_counts_are_smoothed_like_one():
    counts = np.random.default_rng(0).integers(0, 50, size=(9, 16))
    rows = frequency_rows(counts, 4)
    for row, c in zip(rows, counts, strict=True):
        assert row.tolist() == code_frequencies(np.repeat(np.arange(16), c), 4).tolist()


@pytest.mark.parametrize(
    ("frequencies", "contexts", "match"),
    [
        ([[2048, 2047], []], None, "sum to 4096"),
        ([[4096], []], None, "must hold 1 x 2 integers"),
        ([[4096, 0], []], None, "positive"),
        ([[2048, 2048], []], [-1, 0], "context of feature 0"),  # not sent
        ([[2048, 2048], []], [1, -1], "context of feature 1"),
    ],
)
def test_damaged_tables_are_refused(frequencies, contexts, match):
    with pytest.raises(ValueError, match=match):
        CodeTables.checked(frequencies, contexts, [1, 0])


# ----------------------------------------------------------- the coder
def test_hand_computed_messages():
    # Two 8-bit features, training codes all 0: code 0 has 3841 of 4096. The
    # row (0, 0) leaves low = 0 and range > 2**24, so one zero byte finishes
    # it; (255, 255) would take longer than v1 and is sent as v1.
    widths = np.array([8, 8])
    coder = coder_for(np.zeros((10, 2), np.uint8), widths)
    codes = np.array([[0, 0], [255, 255]], np.uint8)
    assert coder.compress(codes) == [b"\x00", b"\xff\xff"]
    assert coder.decompress([b"\x00", b"\xff\xff"]).tolist() == codes.tolist()


@settings(max_examples=60, deadline=None)
@given(
    widths=st.lists(st.integers(0, 16), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
)
def test_round_trip_for_every_width_mix(widths, seed, n):
    rng = np.random.default_rng(seed)
    codes = skewed_codes(rng, n, widths)
    coder = coder_for(codes[: max(1, n // 2)], widths)  # unseen codes too
    messages = coder.compress(codes)
    assert all(len(m) <= bytes_per_row(widths) for m in messages)
    np.testing.assert_array_equal(coder.decompress(messages), codes)
    v1 = pack(codes, widths)
    for message, row in zip(messages, v1, strict=True):
        if len(message) == bytes_per_row(widths):
            assert message == row.tobytes()  # the fallback is the v1 row


def test_skewed_codes_take_fewer_bits_than_v1_and_near_their_cross_entropy():
    rng = np.random.default_rng(1)
    widths = [4] * 12
    train, test = skewed_codes(rng, 5000, widths), skewed_codes(rng, 5000, widths)
    coder = coder_for(train, widths)
    bits = coder.message_bits(test)
    entropy = cross_entropy_bits(test, coder.tables)
    assert bits.mean() < 0.8 * 8 * bytes_per_row(widths)  # about 2.7 bits of 4
    # finishing costs at most 2 bits, whole bytes at most 7 more
    assert bits.mean() <= entropy.mean() + 9
    held_out = held_out_message_bits(train, np.array(widths), coder.tables.contexts)
    assert abs(held_out - bits.mean()) < 1.0


def test_the_rate_estimate_holds_on_few_rows_of_wide_codes():
    # 300 rows of 6-bit codes in context pairs: here tables counted from half
    # the rows make the estimate 3 bits too high
    rng = np.random.default_rng(0)
    widths = np.array([6] * 12)
    train, new = skewed_codes(rng, 300, widths), skewed_codes(rng, 5000, widths)
    train[:, 1::2], new[:, 1::2] = train[:, 0::2], new[:, 0::2]
    coder = coder_for(train, widths)
    assert coder.tables.contexts[1] == 0  # the copy is coded in its context
    estimate = held_out_message_bits(train, widths, coder.tables.contexts)
    assert abs(estimate - coder.message_bits(new).mean()) < 1.0


@pytest.mark.parametrize("n", [0, 1, 2, 3, 11])
def test_the_rate_estimate_takes_any_number_of_rows(n):
    widths = np.array([4, 0, 3])
    codes = skewed_codes(np.random.default_rng(n), n, widths)
    estimate = held_out_message_bits(codes, widths, (-1, -1, 0))
    assert 0 < estimate <= 8 * bytes_per_row(widths)


def test_a_feature_predicted_by_an_earlier_one_is_coded_in_its_context():
    rng = np.random.default_rng(4)
    first = rng.integers(0, 16, 4000)
    copy = (first + (rng.random(4000) < 0.1)) % 16  # the first, mostly
    noise = rng.integers(0, 4, 4000)
    codes = np.stack([first, noise, copy], axis=1).astype(np.uint8)
    widths = np.array([4, 2, 4])
    tables = CodeTables.learn(codes[:2000], widths)
    assert tables.contexts == (-1, -1, 0)
    assert tables.frequencies[2].shape == (16, 16)
    coder = RangeCoder(widths, tables)
    test = codes[2000:]
    np.testing.assert_array_equal(coder.decompress(coder.compress(test)), test)
    plain = RangeCoder(
        widths,
        tables_without_context(
            [code_frequencies(codes[:2000, j], b) for j, b in enumerate(widths)], widths
        ),
    )
    # 4 + 2 bits and about half a bit for the copy, against 10 bits
    assert coder.message_bits(test).mean() < plain.message_bits(test).mean() - 2


def test_context_tables_stay_small():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, size=(500, 3)).astype(np.uint16)
    codes[:, 2] = codes[:, 0]  # a perfect predictor, but 256 x 4096 entries
    widths = np.array([8, 4, 12])
    codes[:, 1] %= 16
    tables = CodeTables.learn(codes, widths)
    assert all(f.size <= max(MAX_TABLE_ENTRIES, 1 << 12) for f in tables.frequencies)
    assert tables.contexts[2] == -1


def test_a_message_cut_short_is_refused():
    rng = np.random.default_rng(2)
    widths = [4, 3, 8, 1, 6]
    codes = skewed_codes(rng, 400, widths)
    coder = coder_for(codes, widths)
    cut = [m[:-1] for m in coder.compress(codes) if 0 < len(m) < coder.bytes_per_row]
    assert len(cut) > 100
    for message in cut:
        with pytest.raises(ValueError, match="damaged|does not decode"):
            coder.decompress([message])


def test_messages_longer_than_v1_or_not_canonical_are_refused():
    widths = [8, 8]
    coder = coder_for(np.zeros((10, 2), np.uint8), widths)
    with pytest.raises(ValueError, match="at most 2"):
        coder.decompress([b"\x00\x00\x00"])
    with pytest.raises(ValueError, match="not what this model sends"):
        coder.decompress([b"\x00\x00"])  # the v1 row of (0, 0): sent as b"\x00"
    with pytest.raises(ValueError, match="message 1 "):
        coder.decompress([b"\x00", b"\x00\x00"])


def test_most_bit_flips_are_caught():
    rng = np.random.default_rng(3)
    widths = [4] * 10
    codes = skewed_codes(rng, 2000, widths)
    coder = coder_for(codes, widths)
    caught = tried = 0
    for message in coder.compress(codes):
        if not message:
            continue
        damaged = bytearray(message)
        bit = int(rng.integers(8 * len(damaged)))
        damaged[bit // 8] ^= 1 << (bit % 8)
        tried += 1
        try:
            coder.decompress([bytes(damaged)])
        except ValueError:
            caught += 1
    assert caught > tried / 2  # no checksum: some flips give another row


# ------------------------------------------------------- the estimators
@pytest.fixture(scope="module")
def skewed_data():
    rng = np.random.default_rng(0)
    X = rng.exponential(size=(600, 6)) ** 2
    X[:, 0] = rng.integers(0, 2, 600)  # a binary feature
    y = (np.log1p(X).sum(axis=1) > 3.5).astype(int)
    return X, y


@pytest.mark.parametrize(
    "params",
    [
        dict(n_bits=4),
        dict(n_bits=[0, 1, 3, 8, 12, 16], representation="levels"),
        dict(n_bits=2, representation="thermometer", n_heads=2),
        dict(n_bits=6, representation="embedding"),
        dict(n_bits=3, representation="bits", quantizer="lsq"),
        dict(n_bits=3, quantizer="fixed"),
    ],
)
def test_predictions_from_messages_equal_predictions_from_readings(skewed_data, params):
    X, y = skewed_data
    clf = SoftQuantizerClassifier(max_epochs=2, random_state=0, **params).fit(X, y)
    messages = clf.compress(X)
    assert len(messages) == len(X)
    assert all(len(m) <= clf.bytes_per_row_ for m in messages)
    np.testing.assert_array_equal(clf.decompress(messages), clf.encode(X))
    np.testing.assert_array_equal(clf.predict_compressed(messages), clf.predict(X))
    np.testing.assert_array_equal(
        clf.predict_proba_compressed(messages), clf.predict_proba(X)
    )


def test_the_estimate_at_fit_is_near_the_rate_on_new_rows(skewed_data):
    X, y = skewed_data
    clf = SoftQuantizerClassifier(4, max_epochs=2, random_state=0).fit(X[:400], y[:400])
    bits = 8 * np.mean([len(m) for m in clf.compress(X[400:])])
    assert bits < 8 * clf.bytes_per_row_
    assert abs(clf.mean_message_bits_ - bits) < 2.0


def test_same_seed_same_messages(skewed_data):
    X, y = skewed_data
    a = SoftQuantizerClassifier(3, max_epochs=2, random_state=5).fit(X, y)
    b = SoftQuantizerClassifier(3, max_epochs=2, random_state=5).fit(X, y)
    assert a.model_id_ == b.model_id_
    assert a.compress(X) == b.compress(X)


def test_the_frequencies_are_part_of_the_model_id(skewed_data):
    X, y = skewed_data
    clf = SoftQuantizerClassifier(3, max_epochs=2, random_state=0).fit(X, y)
    codec = clf.codec_
    without = Codec(codec.n_bits, codec.thresholds, codec.bin_values)
    tables = codec.code_tables
    other = CodeTables([f[:, ::-1].copy() for f in tables.frequencies], tables.contexts)
    changed = Codec(codec.n_bits, codec.thresholds, codec.bin_values, None, other)
    assert len({clf.model_id_, without.model_id, changed.model_id}) == 3


def test_saved_models_keep_their_frequencies(skewed_data, tmp_path):
    X, y = skewed_data
    reg = SoftQuantizerRegressor([2, 4, 0, 8, 1, 3], max_epochs=2, random_state=0)
    reg.fit(X, X[:, 1])
    save(reg, tmp_path / "m.bsq.npz")
    loaded = load(tmp_path / "m.bsq.npz")
    assert loaded.model_id_ == reg.model_id_
    assert loaded.mean_message_bits_ == reg.mean_message_bits_
    assert loaded.compress(X) == reg.compress(X)
    np.testing.assert_array_equal(
        loaded.predict_compressed(reg.compress(X)), reg.predict(X)
    )


def test_saved_models_keep_their_contexts(tmp_path):
    rng = np.random.default_rng(6)
    X = np.cumsum(rng.normal(size=(800, 5)), axis=1)  # each follows the last
    reg = SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, X[:, -1])
    assert max(reg.codec_.code_tables.contexts) >= 0
    save(reg, tmp_path / "m.bsq.npz")
    loaded = load(tmp_path / "m.bsq.npz")
    assert loaded.codec_.code_tables.contexts == reg.codec_.code_tables.contexts
    assert loaded.model_id_ == reg.model_id_
    assert loaded.compress(X) == reg.compress(X)


def test_a_model_saved_before_v2_says_how_to_get_it(diabetes):
    model, X = load(FIXTURE), diabetes[0]
    assert model.transform(X).shape[0] == len(X)  # v1 still works
    with pytest.raises(ValueError, match="no code tables.*Refit"):
        model.compress(X)
    with pytest.raises(AttributeError, match="refit"):
        model.mean_message_bits_  # noqa: B018


def test_a_codec_built_without_code_tables_names_from_readings():
    codec = Codec([2], [[-1.0, 0.0, 1.0]], [[-2.0, -0.5, 0.5, 2.0]])
    with pytest.raises(ValueError, match="built without code_tables.*from_readings"):
        codec.compress(np.zeros((1, 1)))


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        (b"\x00", TypeError, "sequence of bytes"),
        ("ab", TypeError, "sequence of bytes"),
        ([b"\x00", "x"], TypeError, "message 1 is a str"),
        (np.zeros((2, 3), np.uint8), TypeError, "message 0 is a ndarray"),
    ],
)
def test_messages_of_the_wrong_type_are_refused(skewed_data, messages, error, match):
    X, y = skewed_data
    clf = SoftQuantizerClassifier(2, max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(error, match=match):
        clf.decompress(messages)
