import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

# Small networks and few epochs: the tests check behaviour, not top accuracy.
FAST = dict(hidden_layer_sizes=(32,), max_epochs=15, batch_size=64, lr=1e-2)


MIXED = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] + [3] * 20  # 30 features, 1..10 bits


@pytest.fixture(scope="session")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def press_ctrl_c_in_epoch(monkeypatch, epoch):
    """Raise KeyboardInterrupt when training reaches ``epoch`` (as Ctrl-C would)."""
    from sklearn_bsq._training import SteepnessSchedule

    original = SteepnessSchedule.on_epoch_begin

    def interrupt(self, net, **kwargs):
        if len(net.history) == epoch:
            raise KeyboardInterrupt
        original(self, net, **kwargs)

    monkeypatch.setattr(SteepnessSchedule, "on_epoch_begin", interrupt)


@pytest.fixture(
    scope="session",
    params=[
        "thermometer",
        "bits",
        "levels",
        "embedding",
        "embedding-4",
        "levels+thermometer",
    ],
)
def fitted(request, cancer):
    """A classifier with widths 1..10 bits, in every representation."""
    from sklearn_bsq import SoftQuantizer

    X_train, _, y_train, _ = cancer
    sq = SoftQuantizer(MIXED, representation=request.param, random_state=0, **FAST)
    return sq.fit(X_train, y_train)
