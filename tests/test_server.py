"""The server side: bytes to codes to predictions (``_server``), for widths
1..10 bits in every representation."""

import numpy as np


def test_predict_from_bytes_equals_predict(fitted, cancer):
    X_test = cancer[1]
    packed = fitted.transform(X_test)
    np.testing.assert_array_equal(fitted.predict_packed(packed), fitted.predict(X_test))
    np.testing.assert_array_equal(
        fitted.predict_proba_packed(packed), fitted.predict_proba(X_test)
    )


def test_decode_inverts_transform(fitted, cancer):
    X_test = cancer[1]
    np.testing.assert_array_equal(
        fitted.decode(fitted.transform(X_test)), fitted.encode(X_test)
    )


def test_the_direct_path_gives_skorchs_outputs_bit_for_bit(fitted, cancer):
    codes = fitted.encode(cancer[1])
    through_skorch = fitted.net_.forward({"codes": codes.astype(np.int64)}).numpy()
    np.testing.assert_array_equal(fitted._outputs_from_codes(codes), through_skorch)


def test_predict_packed_holds_one_batch_of_int64_codes_at_a_time(cancer):
    """Codes are widened to int64 one batch at a time, not all at once."""
    import tracemalloc

    from sklearn_bsq import SoftQuantizerClassifier

    from conftest import FAST

    X_train, _, y_train, _ = cancer
    sq = SoftQuantizerClassifier(4, random_state=0, **{**FAST, "max_epochs": 1})
    sq.fit(X_train, y_train)
    rows = np.random.default_rng(0).normal(size=(100_000, 30)) * X_train.std(0)
    packed = sq.transform(rows + X_train.mean(0))
    tracemalloc.start()
    sq.predict_proba_packed(packed)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    all_codes_as_int64 = 100_000 * 30 * 8
    assert peak < all_codes_as_int64 / 2
