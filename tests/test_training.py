"""Training plumbing: the fast batch iterator replays skorch's default loader."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

from sklearn_bsq import FullPrecisionMLP, SoftQuantizerRegressor
from sklearn_bsq._training import ArrayBatches, resolve_epochs


def batches(iterator_class, dataset, seed, epochs=3, **kwargs):
    generator = torch.Generator().manual_seed(seed)
    loader = iterator_class(dataset, generator=generator, **kwargs)
    return [(X.clone(), y.clone()) for _ in range(epochs) for X, y in loader]


@pytest.mark.parametrize("subset", [False, True])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n, batch_size", [(100, 32), (96, 32), (10, 128)])
def test_same_batches_as_the_default_loader(subset, shuffle, n, batch_size):
    rng = np.random.default_rng(0)
    dataset = Dataset(rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 3, n))
    if subset:
        dataset = Subset(dataset, rng.permutation(n)[: n - 7])
    ours = batches(ArrayBatches, dataset, 5, batch_size=batch_size, shuffle=shuffle)
    theirs = batches(DataLoader, dataset, 5, batch_size=batch_size, shuffle=shuffle)
    assert len(ours) == len(theirs)
    assert len(ArrayBatches(dataset, batch_size=batch_size)) * 3 == len(ours)
    for (X_a, y_a), (X_b, y_b) in zip(ours, theirs, strict=True):
        assert X_a.dtype == X_b.dtype and y_a.dtype == y_b.dtype
        torch.testing.assert_close(X_a, X_b, rtol=0, atol=0)
        torch.testing.assert_close(y_a, y_b, rtol=0, atol=0)


def test_cosine_schedule_decays_the_learning_rate_epoch_by_epoch():
    from sklearn_bsq import SoftQuantizerRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=64)
    est = SoftQuantizerRegressor(
        2, max_epochs=4, lr=0.01, lr_schedule="cosine", random_state=0
    ).fit(X, y)
    rates = est.net_.history[:, "lr"]
    np.testing.assert_allclose(
        rates,
        [
            0.01,
            0.01 * (1 + np.cos(np.pi / 4)) / 2,
            0.005,
            0.01 * (1 + np.cos(3 * np.pi / 4)) / 2,
        ],
    )
    assert est.net_.optimizer_.param_groups[0]["lr"] == rates[-1]


def test_dropout_is_active_in_training_only():
    from sklearn_bsq import SoftQuantizerRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = X[:, 0]
    est = SoftQuantizerRegressor(2, max_epochs=2, dropout=0.5, random_state=0)
    est.fit(X, y)
    drops = [m for m in est.net_.module_.mlp if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == len(est.hidden_layer_sizes) and drops[0].p == 0.5
    first = est.predict(X)
    np.testing.assert_array_equal(first, est.predict(X))  # eval mode: deterministic
    est.net_.module_.train()
    x = torch.as_tensor(
        ((X - est.feature_mean_) / est.feature_scale_), dtype=torch.float32
    )
    assert not torch.equal(est.net_.module_(x), est.net_.module_(x))


def test_thresholds_train_at_their_own_learning_rate():
    from sklearn_bsq import SoftQuantizerRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = X[:, 0]
    est = SoftQuantizerRegressor(
        2,
        representation="levels",
        max_epochs=2,
        lr=1e-3,
        threshold_lr=0.02,
        lr_schedule="constant",
    ).fit(X, y)
    quantizer = est.net_.module_.quantizer
    rates = {
        id(p): group["lr"]
        for group in est.net_.optimizer_.param_groups
        for p in group["params"]
    }
    assert rates[id(quantizer.first)] == rates[id(quantizer.raw_gaps)] == 0.02
    assert rates[id(quantizer.level_steps)] == 1e-3  # level values: the network's
    assert all(rates[id(p)] == 1e-3 for p in est.net_.module_.mlp.parameters())


@pytest.mark.parametrize(
    "n_bits, rate",
    [(1, 1e-2), (2, 1e-2), (3, 2e-2), (4, 2e-2), (5, 1e-2), ([2, 4], 2e-2)],
)
def test_auto_threshold_rate_follows_the_widest_feature(n_bits, rate):
    from sklearn_bsq import SoftQuantizerRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    est = SoftQuantizerRegressor(n_bits, max_epochs=1).fit(X, X[:, 0])
    assert est.threshold_lr == "auto"
    quantizer = est.net_.module_.quantizer
    rates = {
        id(p): group["lr"]
        for group in est.net_.optimizer_.param_groups
        for p in group["params"]
    }
    # relative to the network's rate, which starts at lr: the learning-rate
    # schedule scales both alike
    ratio = rates[id(quantizer.first)] / rates[id(est.net_.module_.mlp[0].weight)]
    assert ratio == pytest.approx(rate / est.lr)


@pytest.mark.parametrize("weighted", [False, True])
def test_heads_train_on_the_mean_of_their_weighted_losses(weighted):
    from sklearn_bsq import SoftQuantizerRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = X[:, 0]
    est = SoftQuantizerRegressor(2, n_heads=3, max_epochs=2, random_state=0)
    net = est.fit(X, y).net_
    y_pred, y_true = torch.randn(8, 3), torch.randn(8)
    weights = torch.rand(8) if weighted else torch.ones(8)
    inputs = {"X": torch.zeros(8, 2), "sample_weight": weights} if weighted else None
    loss = net.get_loss(y_pred, y_true, X=inputs, training=True)
    expected = (weights * ((y_pred - y_true[:, None]) ** 2).mean(1)).mean()
    torch.testing.assert_close(loss, expected)
    # one prediction per row outside training: the heads' mean
    assert est.predict(X).shape == (64,)


def test_heads_with_the_same_seed_give_the_same_bytes_and_predictions():
    from sklearn.datasets import load_iris

    from sklearn_bsq import SoftQuantizerClassifier

    X, y = load_iris(return_X_y=True)
    a, b = (
        SoftQuantizerClassifier(2, n_heads=2, max_epochs=3, random_state=5).fit(X, y)
        for _ in range(2)
    )
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize(
    "n_rows, batch_size, epochs",
    [
        (18_576, 256, 40),  # full california: 73 steps per epoch, 2,900 steps
        (7_372, 256, 100),  # full cpu_act
        (5_847, 256, 127),  # full wine_quality
        (2_000, 256, 58),  # 464 steps: fewer rows, fewer steps
        (1_000, 256, 40),  # 116 steps ask for 29 epochs: the floor
        (100_000, 256, 40),  # 391 steps per epoch: the floor
        (5_000, 4096, 200),  # 2 steps per epoch would ask for 1,450: the cap
        (None, 256, 40),  # partial_fit: the rows are not known
    ],
)
def test_auto_epochs_follow_the_rows(n_rows, batch_size, epochs):
    assert resolve_epochs("auto", n_rows, batch_size) == epochs
    assert resolve_epochs(17, n_rows, batch_size) == 17


@pytest.mark.parametrize("make", [SoftQuantizerRegressor, FullPrecisionMLP])
def test_auto_epochs_count_the_rows_without_early_stopping(make):
    # One batch per epoch: 1000 rows ask for 116 steps. With early stopping
    # "auto" means 40: the schedules run over max_epochs, and longer ones let
    # early stopping end fits while the steps were still soft.
    X, y = make_regression(n_samples=1000, n_features=3, random_state=0)
    for early_stopping, epochs in [(False, 116), (True, 40)]:
        model = make(
            max_epochs="auto",
            batch_size=1024,
            early_stopping=early_stopping,
            validation_fraction=0.25,
            n_iter_no_change=1000,
            hidden_layer_sizes=(4,),
            n_heads=1,
            random_state=0,
        )
        if make is FullPrecisionMLP:
            model.set_params(task="regression")
        model.fit(X, y)
        assert len(model.net_.history) == epochs
