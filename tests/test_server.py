"""The server side: bytes to codes to predictions (``_server``), for widths
1..10 bits in every representation."""

import numpy as np
import torch

from sklearn_bsq._server import NetworkServer


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


def serve(fitted):
    return NetworkServer(fitted.net_.module_, fitted.target_, fitted.batch_size)


def test_the_direct_path_gives_skorchs_outputs_bit_for_bit(fitted, cancer):
    codes = fitted.encode(cancer[1])
    through_skorch = fitted.net_.forward({"codes": codes.astype(np.int64)}).numpy()
    np.testing.assert_array_equal(serve(fitted).outputs(codes), through_skorch)


def _matrix_product_path(module, codes):
    """The network on codes without tables: its input, then the whole MLP."""
    if module.active is not None:
        codes = codes.index_select(1, module.active)
    with torch.inference_mode():
        out = module.mlp(module.quantizer(codes=codes))
    return out.squeeze(1) if out.shape[1] == 1 else out


def test_tables_give_the_matrix_products_outputs_up_to_rounding(fitted, cancer):
    codes = torch.as_tensor(fitted.encode(cancer[1]).astype(np.int64))
    module = fitted.net_.module_
    with torch.inference_mode():
        from_tables = module(codes=codes).numpy()
    expected = _matrix_product_path(module, codes).numpy()
    # float32 sums in another order: a few units in the last place
    np.testing.assert_allclose(from_tables, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(from_tables.argmax(1), expected.argmax(1))


def test_tables_are_built_once_and_again_after_training(cancer):
    from sklearn_bsq import SoftQuantizerClassifier
    from sklearn_bsq._first_layer import FirstLayerTables, first_layer_tables

    from conftest import FAST

    X_train, X_test, y_train, _ = cancer
    clf = SoftQuantizerClassifier(3, lr_schedule="constant", random_state=0, **FAST)
    clf.partial_fit(X_train, y_train, classes=[0, 1])
    module = clf.net_.module_
    clf.predict(X_test)
    tables = first_layer_tables(module)
    assert isinstance(tables, FirstLayerTables)
    assert first_layer_tables(module) is tables
    before = clf.predict_proba(X_test)
    clf.partial_fit(X_train, y_train)  # an epoch changes the weights in place
    after = clf.predict_proba(X_test)
    assert first_layer_tables(module) is not tables
    assert not np.array_equal(before, after)
    codes = torch.as_tensor(clf.encode(X_test).astype(np.int64))
    logits = _matrix_product_path(module, codes)
    expected = torch.softmax(logits, dim=1).double().numpy()
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)


def test_tables_are_rebuilt_from_the_first_layer_and_later_layers_read_live(
    fitted, cancer
):
    """The tables' cache key holds the tensors they are made of (quantizer and
    first layer): a later layer changed in place keeps the tables and changes
    the outputs as the plain product does; a first layer changed in place
    rebuilds them."""
    import copy

    from sklearn_bsq._first_layer import first_layer_tables

    module = copy.deepcopy(fitted.net_.module_)  # the fixture is shared
    codes = torch.as_tensor(fitted.encode(cancer[1]).astype(np.int64))

    def outputs():
        with torch.inference_mode():
            return module(codes=codes).numpy()

    outputs()
    tables = first_layer_tables(module)
    later = [layer for layer in module.mlp[1:] if hasattr(layer, "weight")][-1]
    with torch.no_grad():
        later.weight.mul_(-2.0)
    changed = outputs()
    assert first_layer_tables(module) is tables
    expected = _matrix_product_path(module, codes).numpy()
    np.testing.assert_allclose(changed, expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        module.mlp[0].weight.mul_(0.5)
    np.testing.assert_allclose(
        outputs(), _matrix_product_path(module, codes).numpy(), rtol=1e-5, atol=1e-5
    )
    assert first_layer_tables(module) is not tables


def test_wide_codes_keep_the_matrix_product(fitted, cancer, monkeypatch):
    from sklearn_bsq import _first_layer

    monkeypatch.setattr(_first_layer, "MAX_TABLE_VALUES", 0)
    codes = fitted.encode(cancer[1])
    expected = _matrix_product_path(
        fitted.net_.module_, torch.as_tensor(codes.astype(np.int64))
    ).numpy()
    np.testing.assert_array_equal(serve(fitted).outputs(codes), expected)


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


def test_tables_skip_features_that_are_not_sent(diabetes):
    """Width-0 features have no table rows; the tables read the others only."""
    from sklearn_bsq import SoftQuantizerRegressor

    from conftest import FAST

    X_train, X_test, y_train, _ = diabetes
    widths = [0, 1, 2, 3, 4, 5, 6, 7, 0, 12]
    reg = SoftQuantizerRegressor(widths, random_state=0, **FAST).fit(X_train, y_train)
    module = reg.net_.module_
    assert module.active is not None
    codes = torch.as_tensor(reg.encode(X_test).astype(np.int64))
    with torch.inference_mode():
        from_tables = module(codes=codes).numpy()
    expected = _matrix_product_path(module, codes).numpy()
    np.testing.assert_allclose(from_tables, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(
        reg.predict_packed(reg.transform(X_test)), reg.predict(X_test)
    )


def test_heads_predict_the_same_from_bytes_tables_and_matrix_products(cancer):
    from sklearn_bsq import SoftQuantizerClassifier

    from conftest import FAST

    X_train, X_test, y_train, _ = cancer
    clf = SoftQuantizerClassifier(3, n_heads=3, random_state=0, **FAST)
    clf.fit(X_train, y_train)
    packed = clf.transform(X_test)
    np.testing.assert_array_equal(
        clf.predict_proba_packed(packed), clf.predict_proba(X_test)
    )
    codes = torch.as_tensor(clf.encode(X_test).astype(np.int64))
    module = clf.net_.module_
    with torch.inference_mode():
        from_tables = module(codes=codes).numpy()
    np.testing.assert_allclose(
        from_tables, _matrix_product_path(module, codes).numpy(), rtol=1e-5, atol=1e-5
    )
    # the probabilities are the mean of the heads' probabilities
    heads = torch.nn.Sequential(*list(module.mlp)[:-1])
    with torch.inference_mode():
        per_head = heads(module.quantizer(codes=codes)).reshape(len(codes), 3, 2)
    np.testing.assert_allclose(
        clf.predict_proba(X_test),
        torch.softmax(per_head.double(), 2).mean(1).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_windows_of_features_give_the_tables_of_single_features(
    fitted, cancer, monkeypatch
):
    """Consecutive features share a table row per combination of their codes;
    with combined tables not allowed, a table per feature: the same outputs."""
    from sklearn_bsq import _first_layer

    codes = torch.as_tensor(fitted.encode(cancer[1]).astype(np.int64))
    module = fitted.net_.module_
    windowed = _first_layer.first_layer_tables(module)
    assert len(windowed.windows) < codes.shape[1]  # widths 1..10 combine
    with torch.inference_mode():
        from_windows = module(codes=codes).numpy()
    monkeypatch.setattr(_first_layer, "COMBINED_TABLE_MAX_VALUES", 0)
    _first_layer._CACHE.pop(module)
    try:
        single = _first_layer.first_layer_tables(module)
        assert single.windows == [[j] for j in range(codes.shape[1])]
        with torch.inference_mode():
            from_features = module(codes=codes).numpy()
    finally:
        _first_layer._CACHE.pop(module)  # the session's fixture keeps its windows
    np.testing.assert_allclose(from_windows, from_features, rtol=1e-5, atol=1e-5)
