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
