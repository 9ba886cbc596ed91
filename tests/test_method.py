"""The method works: thresholds move to where the task needs them."""

import numpy as np
import pytest

from sklearn_bsq import SoftQuantizerClassifier

TRUE_THRESHOLD = 0.8  # far from the median (0.5) of a uniform feature


@pytest.fixture(scope="module")
def threshold_task():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, size=(3000, 3)).astype(np.float32)
    y = (X[:, 0] > TRUE_THRESHOLD).astype(int)  # features 1 and 2 are noise
    return X[:2000], X[2000:], y[:2000], y[2000:]


def best_accuracy_from_codes(codes, y):
    """The highest accuracy any classifier can reach seeing only these codes."""
    keys = np.unique(codes, axis=0, return_inverse=True)[1].ravel()
    correct = 0
    for key in np.unique(keys):
        correct += np.bincount(y[keys == key]).max()
    return correct / len(y)


@pytest.mark.parametrize("seed", [0, 1])
def test_one_bit_threshold_is_learned(threshold_task, seed):
    X_train, X_test, y_train, y_test = threshold_task
    # one width for all: the paper's setting, one threshold on feature 0
    clf = SoftQuantizerClassifier(
        1, allocation="uniform", max_epochs=40, random_state=seed
    )
    clf.fit(X_train, y_train)

    learned = float(clf.thresholds_[0][0])
    assert abs(learned - TRUE_THRESHOLD) < 0.03

    accuracy = clf.score(X_test, y_test)
    # Frozen quantile thresholds (the initialisation) cut every feature at its
    # median; no network on those codes can beat this bound (about 0.8).
    medians = np.median(X_train, axis=0)
    frozen_bound = best_accuracy_from_codes(X_test > medians, y_test)
    assert accuracy > 0.97
    assert accuracy > frozen_bound + 0.1
