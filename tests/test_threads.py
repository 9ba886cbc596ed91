"""``n_threads``: how many torch threads a fit and a prediction use, and that the
caller's setting comes back."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from skorch import NeuralNet

from sklearn_bsq import FullPrecisionMLP, SoftQuantizer, load, save

X, y = load_iris(return_X_y=True)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def record_threads(monkeypatch, cls, name):
    """Replace ``cls.name`` by a wrapper that records torch's thread count."""
    seen = []
    original = getattr(cls, name)

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, recording)
    return seen


def test_auto_fits_on_one_thread_and_predicts_on_the_callers(two_threads, monkeypatch):
    fits = record_threads(monkeypatch, NeuralNet, "partial_fit")  # fit calls it
    model = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    assert fits == [1] and torch.get_num_threads() == 2
    predictions = record_threads(monkeypatch, type(model.net_.module_), "forward")
    model.predict(X)
    assert predictions == [2] and torch.get_num_threads() == 2


def test_a_given_count_applies_to_fit_and_predictions(two_threads, monkeypatch):
    torch.set_num_threads(1)
    fits = record_threads(monkeypatch, NeuralNet, "partial_fit")
    model = SoftQuantizer(2, max_epochs=2, n_threads=2, random_state=0).fit(X, y)
    predictions = record_threads(monkeypatch, type(model.net_.module_), "forward")
    model.predict_packed(model.transform(X))
    assert fits == [2] and predictions == [2]
    assert torch.get_num_threads() == 1  # the caller's setting is back


def test_full_precision_and_partial_fit_use_it_too(two_threads, monkeypatch):
    fits = record_threads(monkeypatch, NeuralNet, "partial_fit")
    mlp = FullPrecisionMLP(max_epochs=2, n_threads=2, random_state=0)
    torch.set_num_threads(1)
    mlp.fit(X, y)
    predictions = record_threads(monkeypatch, type(mlp.net_.module_), "forward")
    mlp.predict(X)
    streamed = SoftQuantizer(2, max_epochs=2, random_state=0).partial_fit(X, y)
    streamed.partial_fit(X, y)
    assert fits == [2, 1, 1] and predictions == [2]
    assert torch.get_num_threads() == 1


def test_a_failing_fit_restores_the_callers_setting(two_threads):
    with pytest.raises(ValueError, match="NaN"):
        SoftQuantizer(2, max_epochs=2).fit(np.full_like(X, np.nan), y)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many", True])
def test_bad_thread_counts_are_refused_with_the_fix(bad):
    with pytest.raises(ValueError, match="n_threads"):
        SoftQuantizer(2, max_epochs=1, n_threads=bad).fit(X, y)
    model = SoftQuantizer(2, max_epochs=1, random_state=0).fit(X, y)
    model.n_threads = bad  # set after fit: refused at prediction, not inside torch
    with pytest.raises(ValueError, match="n_threads must be 'auto' or an int >= 1"):
        model.predict(X)


def test_one_or_two_threads_train_the_same_network(tmp_path):
    one = SoftQuantizer(3, max_epochs=3, n_threads=1, random_state=0).fit(X, y)
    two = SoftQuantizer(3, max_epochs=3, n_threads=2, random_state=0).fit(X, y)
    assert one.model_id_ == two.model_id_  # the same thresholds, so the same bytes
    np.testing.assert_allclose(
        one.predict_proba(X), two.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    save(two, tmp_path / "m.bsq.npz")
    assert load(tmp_path / "m.bsq.npz").n_threads == 2
