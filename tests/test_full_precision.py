"""``FullPrecisionMLP``: the reference network on float32 features."""

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor

from sklearn_bsq import FullPrecisionMLP

from conftest import FAST


def test_classifies_with_probabilities(cancer):
    X_train, X_test, y_train, y_test = cancer
    mlp = FullPrecisionMLP(random_state=0, **FAST).fit(X_train, y_train)
    assert mlp.task_ == "classification" and mlp.classes_.tolist() == [0, 1]
    assert mlp.score(X_test, y_test) > 0.9
    proba = mlp.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(mlp.classes_[proba.argmax(1)], mlp.predict(X_test))


def test_regression_in_the_target_units(diabetes):
    X_train, X_test, y_train, y_test = diabetes
    mlp = FullPrecisionMLP(task="regression", random_state=0, **FAST)
    pred = mlp.fit(X_train, y_train).predict(X_test)
    # diabetes targets run from 25 to 346: predictions are in those units
    assert 50 < pred.mean() < 250 and mlp.score(X_test, y_test) > 0.2
    assert is_regressor(mlp) and not hasattr(mlp, "predict_proba")
    assert is_classifier(FullPrecisionMLP(task="classification"))


def test_same_seed_same_predictions(cancer):
    X_train, X_test, y_train, _ = cancer
    a = FullPrecisionMLP(random_state=3, **FAST).fit(X_train, y_train)
    b = FullPrecisionMLP(random_state=3, **FAST).fit(X_train, y_train)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


def test_wrong_feature_count(cancer):
    mlp = FullPrecisionMLP(random_state=0, **{**FAST, "max_epochs": 1})
    mlp.fit(cancer[0], cancer[2])
    with pytest.raises(ValueError, match="30 features"):
        mlp.predict(cancer[1][:, :5])


def test_the_fixed_task_forms_are_a_classifier_and_a_regressor():
    """cross_val_score stratifies for the classifier form: on the class-sorted
    wine data the plain folds of FullPrecisionMLP() (task "auto") hold classes
    the training folds never saw."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.datasets import load_wine
    from sklearn.model_selection import cross_val_score

    from sklearn_bsq import FullPrecisionMLPClassifier, FullPrecisionMLPRegressor

    assert is_classifier(FullPrecisionMLPClassifier())
    assert is_regressor(FullPrecisionMLPRegressor())
    assert "task" not in FullPrecisionMLPClassifier().get_params()
    X, y = load_wine(return_X_y=True)
    params = dict(hidden_layer_sizes=(32,), max_epochs=20, random_state=0)
    stratified = cross_val_score(FullPrecisionMLPClassifier(**params), X, y, cv=3)
    plain = cross_val_score(FullPrecisionMLP(**params), X, y, cv=3)
    assert stratified.min() > 0.8 and plain.min() < 0.5


def test_a_network_that_cannot_fit_in_memory_is_refused_before_training():
    X = np.random.default_rng(0).normal(size=(20, 3))
    mlp = FullPrecisionMLP(hidden_layer_sizes=(10**9,), max_epochs=1)
    with pytest.raises(MemoryError, match="use fewer or smaller hidden layers"):
        mlp.fit(X, X[:, 0] > 0)
