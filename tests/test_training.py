"""Training plumbing: the fast batch iterator replays skorch's default loader."""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

from sklearn_bsq._training import ArrayBatches


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
