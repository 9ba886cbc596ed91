"""``partial_fit`` (``_incremental``): training on chunks."""

import numpy as np
import pytest
import torch

from sklearn_bsq import SoftQuantizerClassifier, SoftQuantizerRegressor, load, save

from conftest import FAST

STREAM = {**FAST, "lr_schedule": "constant"}


def chunks(X, y, size):
    for start in range(0, len(X), size):
        yield X[start : start + size], y[start : start + size]


def stream_fit(estimator, X, y, size=100, passes=4, **first):
    for _ in range(passes):
        for X_chunk, y_chunk in chunks(X, y, size):
            estimator.partial_fit(X_chunk, y_chunk, **first)
    return estimator


def test_chunks_train_a_classifier_that_serves_from_bytes(cancer, tmp_path):
    X_train, X_test, y_train, y_test = cancer
    clf = SoftQuantizerClassifier(3, random_state=0, **STREAM)
    stream_fit(clf, X_train, y_train, classes=[0, 1])
    assert len(clf.net_.history) == 4 * 4  # one epoch per call
    assert clf.score(X_test, y_test) > 0.9
    packed = clf.transform(X_test)
    np.testing.assert_array_equal(clf.predict_packed(packed), clf.predict(X_test))
    save(clf, tmp_path / "m.npz")
    np.testing.assert_array_equal(load(tmp_path / "m.npz").transform(X_test), packed)


def test_the_first_chunk_fixes_classes_and_standardization(cancer):
    X_train, _, y_train, _ = cancer
    only_zeros = X_train[y_train == 0][:50]
    clf = SoftQuantizerClassifier(2, random_state=0, **STREAM)
    clf.partial_fit(only_zeros, np.zeros(50, int), classes=[1, 0])
    assert clf.classes_.tolist() == [0, 1]
    np.testing.assert_allclose(clf.feature_mean_, only_zeros.mean(axis=0))
    clf.partial_fit(X_train[:100], y_train[:100])  # later calls keep them
    np.testing.assert_allclose(clf.feature_mean_, only_zeros.mean(axis=0))
    with pytest.raises(ValueError, match=r"not among the classes \[0, 1\]: \[7\]"):
        clf.partial_fit(X_train[:3], [0, 7, 1])


def test_regression_keeps_the_first_chunks_target_scale(diabetes):
    X_train, X_test, y_train, y_test = diabetes
    reg = SoftQuantizerRegressor(3, random_state=0, **STREAM)
    stream_fit(reg, X_train, y_train, size=80, passes=6)
    assert reg.target_mean_ == pytest.approx(y_train[:80].mean())
    assert reg.score(X_test, y_test) > 0.2


def test_same_seed_and_chunks_same_bytes(cancer):
    X_train, X_test, y_train, _ = cancer

    def run():
        clf = SoftQuantizerClassifier(2, random_state=5, **STREAM)
        return stream_fit(clf, X_train, y_train, passes=2, classes=[0, 1])

    np.testing.assert_array_equal(run().transform(X_test), run().transform(X_test))


def test_interleaved_streams_keep_their_own_random_state(cancer):
    """Dropout draws from torch's global generator: each estimator keeps its
    own state between calls, so other torch work in between (here a second
    stream, then an unrelated draw) changes nothing, and the caller's global
    state is left as it was."""
    X_train, X_test, y_train, _ = cancer
    params = dict(random_state=5, dropout=0.3, **STREAM)
    alone = stream_fit(SoftQuantizerClassifier(2, **params), X_train, y_train)
    a = SoftQuantizerClassifier(2, **params)
    b = SoftQuantizerClassifier(3, **params)
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    for X_chunk, y_chunk in list(chunks(X_train, y_train, 100)) * 4:
        a.partial_fit(X_chunk, y_chunk, classes=[0, 1])
        b.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    np.testing.assert_array_equal(torch.rand(3), expected_draw)
    np.testing.assert_array_equal(a.transform(X_test), alone.transform(X_test))


def test_a_loaded_model_streams_on_reproducibly(cancer, tmp_path):
    X_train, X_test, y_train, _ = cancer
    clf = SoftQuantizerClassifier(2, random_state=5, dropout=0.3, **STREAM)
    clf.partial_fit(X_train[:200], y_train[:200], classes=[0, 1])
    save(clf, tmp_path / "m.npz")

    def go_on():
        loaded = load(tmp_path / "m.npz")
        torch.rand(5)  # other torch work before the call
        return loaded.partial_fit(X_train[200:], y_train[200:]).transform(X_test)

    np.testing.assert_array_equal(go_on(), go_on())


def test_what_partial_fit_cannot_do(cancer):
    X_train, _, y_train, _ = cancer
    clf = SoftQuantizerClassifier(2, random_state=0, **FAST)
    with pytest.raises(ValueError, match="holds one class; give every label"):
        clf.partial_fit(X_train[:50], np.ones(50, int))
    clf.partial_fit(X_train[:50], y_train[:50])  # the classes of the first chunk
    with pytest.raises(ValueError, match=r"not among the classes \[0, 1\]: \[2\]"):
        clf.partial_fit(X_train[:3], [0, 2, 1])
    auto = SoftQuantizerClassifier("auto", bit_budget=30, **FAST)
    assert not hasattr(auto, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as err:
        auto.partial_fit(X_train, y_train, classes=[0, 1])
    assert "not available with n_bits='auto'" in str(err.value.__cause__)
    clf = SoftQuantizerClassifier(2, random_state=0, **FAST)
    clf.partial_fit(X_train[:50], y_train[:50], classes=[0, 1])
    with pytest.raises(ValueError, match="30 features"):
        clf.partial_fit(X_train[:50, :5], y_train[:50])


@pytest.mark.parametrize(
    "change",
    [
        {"n_bits": 3},  # the file would not load: widths contradict n_bits
        {"hidden_layer_sizes": (16,)},  # nor this: the tensors' shapes
        {"n_heads": 2},
        {"quantizer": "lsq"},
        {"lr": 1e-6},  # would not take effect: the optimizer is built
        {"random_state": 1},
    ],
)
def test_a_later_call_refuses_changed_parameters_and_keeps_the_model(
    cancer, tmp_path, change
):
    X_train, X_test, y_train, _ = cancer
    clf = SoftQuantizerClassifier(2, random_state=0, **STREAM)
    clf.partial_fit(X_train[:100], y_train[:100], classes=[0, 1])
    packed = clf.transform(X_test)
    ((name, value),) = change.items()
    before = clf.get_params()[name]
    clf.set_params(**change)
    with pytest.raises(ValueError, match=rf"built with {name}=.*set_params\({name}="):
        clf.partial_fit(X_train[100:], y_train[100:])
    np.testing.assert_array_equal(clf.transform(X_test), packed)  # not trained on
    save(clf, tmp_path / "m.npz")  # what was fitted, not the changed parameter
    assert load(tmp_path / "m.npz").get_params()[name] == before
    clf.set_params(**{name: before})
    clf.partial_fit(X_train[100:], y_train[100:])
    save(clf, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.transform(X_test), clf.transform(X_test))


def test_threads_may_change_between_calls_and_a_random_state_is_drawn_from(cancer):
    X_train, _, y_train, _ = cancer
    seeds = np.random.RandomState(0)
    clf = SoftQuantizerClassifier(2, random_state=seeds, n_threads=1, **STREAM)
    clf.partial_fit(X_train[:100], y_train[:100], classes=[0, 1])
    clf.set_params(n_threads=2, hidden_layer_sizes=[32])  # the same layers as (32,)
    clf.partial_fit(X_train[100:], y_train[100:])
    assert len(clf.net_.history) == 2


def test_classes_are_for_classification_and_fixed_by_the_first_call(cancer, diabetes):
    X_train, _, y_train, _ = cancer
    clf = SoftQuantizerClassifier(2, random_state=0, **STREAM)
    clf.partial_fit(X_train[:50], y_train[:50], classes=[0, 1])
    clf.partial_fit(X_train[50:100], y_train[50:100], classes=[1, 0])  # the same
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] is not what the first"):
        clf.partial_fit(X_train[:50], y_train[:50], classes=[0, 1, 2])
    X, _, y, _ = diabetes
    with pytest.raises(ValueError, match="classes is for classification"):
        SoftQuantizerRegressor(2, **STREAM).partial_fit(X, y, classes=[0, 1])
    reg = SoftQuantizerRegressor(2, random_state=0, **STREAM).partial_fit(X, y)
    with pytest.raises(ValueError, match="classes is for classification"):
        reg.partial_fit(X, y, classes=[0, 1])
