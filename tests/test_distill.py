"""distill: a fitted model's network retrained with fewer heads on its own outputs."""

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
    distill,
    load,
    save,
)
from sklearn_bsq._distill import _moved
from sklearn_bsq._estimator import fitted_state


@pytest.fixture(scope="module")
def regression():
    X, y = load_diabetes(return_X_y=True)
    teacher = SoftQuantizerRegressor(
        [4, 3, 4, 4, 2, 4, 4, 3, 4, 0], n_heads=3, max_epochs=30, random_state=0
    ).fit(X, y)
    return X, y, teacher


def test_the_student_has_its_heads_and_the_teachers_codec(regression):
    X, _, teacher = regression
    before = fitted_state(teacher).digest()
    student = distill(teacher, X, max_epochs=20, random_state=0)
    assert fitted_state(teacher).digest() == before  # the teacher is untouched
    assert student.n_heads == 1 and teacher.n_heads == 3
    assert student.get_params() == {**teacher.get_params(), "n_heads": 1}
    assert student.model_id_ == teacher.model_id_
    np.testing.assert_array_equal(student.transform(X), teacher.transform(X))
    for ours, theirs in zip(student.thresholds_, teacher.thresholds_, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    heads = [m for m in student.net_.module_.mlp if hasattr(m, "n_heads")]
    assert heads == []  # one head: plain linear layers, no head axis


def test_the_student_predicts_what_the_teacher_predicts(regression):
    X, y, teacher = regression
    student = distill(teacher, X, max_epochs=40, random_state=0)
    wanted, got = teacher.predict(X), student.predict(X)
    # far closer to the teacher than the teacher is to the data
    assert np.mean((got - wanted) ** 2) < 0.05 * np.mean((y - wanted) ** 2)
    # and from the bytes alone, as a server gets them
    np.testing.assert_allclose(
        student.predict_packed(student.transform(X)), got, rtol=1e-5
    )


def test_the_student_trains_with_the_parameters_the_model_was_fitted_with(regression):
    X, _, teacher = regression
    changed = copy.deepcopy(teacher).set_params(lr=1e6, batch_size=1)
    student = distill(changed, X, max_epochs=20, random_state=0)
    assert student.get_params()["lr"] == teacher.lr
    assert np.corrcoef(student.predict(X), teacher.predict(X))[0, 1] > 0.95


def test_a_student_of_several_heads_trains_each(regression):
    X, _, teacher = regression
    student = distill(teacher, X, n_heads=2, max_epochs=20, random_state=0)
    assert student.n_heads == 2
    first, second = student.net_.module_.mlp[-2].weight  # the heads' output layers
    assert not torch.equal(first, second)
    assert np.corrcoef(student.predict(X), teacher.predict(X))[0, 1] > 0.95


def test_classifier_student_agrees_with_the_teacher():
    X, y = load_breast_cancer(return_X_y=True)
    teacher = SoftQuantizerClassifier(2, max_epochs=20, random_state=0).fit(X, y)
    student = distill(teacher, X, max_epochs=20, random_state=0)
    assert np.mean(student.predict(X) == teacher.predict(X)) > 0.97
    probabilities = student.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)
    assert np.abs(probabilities - teacher.predict_proba(X)).mean() < 0.05
    np.testing.assert_array_equal(student.classes_, teacher.classes_)


def test_same_random_state_same_student(regression):
    X, _, teacher = regression
    a, b, c = (
        distill(teacher, X[:200], max_epochs=3, random_state=seed) for seed in (1, 1, 2)
    )
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_callers_torch_state_is_kept(regression):
    X, _, teacher = regression
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expected = torch.rand(3)
    torch.manual_seed(123)
    distill(teacher, X[:100], max_epochs=2, random_state=0)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_a_saved_student_loads_and_predicts_alike(regression, tmp_path):
    X, _, teacher = regression
    student = distill(teacher, X, max_epochs=5, random_state=0)
    path = tmp_path / "student.bsq"
    save(student, path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.predict(X), student.predict(X))
    assert loaded.n_heads == 1 and loaded.model_id_ == teacher.model_id_


def test_moves_stay_within_each_features_codes():
    generator = torch.Generator().manual_seed(0)
    top = torch.tensor([0, 1, 15])
    codes = torch.tensor([[0, 0, 0], [0, 1, 15], [0, 1, 7]]).repeat(200, 1)
    moved = _moved(codes, top, 0.5, generator)
    assert moved.min() >= 0 and bool((moved <= top).all())
    assert bool((moved[:, 0] == 0).all())  # a feature of one code never moves
    # every chosen entry of a feature with two codes or more moves
    share = (moved != codes).float().mean(0)
    assert 0.4 < float(share[1]) < 0.6 and 0.4 < float(share[2]) < 0.6
    assert bool(((moved - codes).abs() <= 1).all())
    assert torch.equal(_moved(codes, top, 0.0, generator), codes)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(n_heads=0), "n_heads must be an int >= 1"),
        (dict(n_heads=1.5), "n_heads must be an int >= 1"),
        (dict(max_epochs=0), "max_epochs must be 'auto' or an int >= 1"),
        (dict(max_epochs="many"), "max_epochs must be 'auto' or an int >= 1"),
        (dict(perturbation=1.0), r"perturbation must be a number in \[0, 1\)"),
        (dict(perturbation=-0.1), r"perturbation must be a number in \[0, 1\)"),
    ],
)
def test_bad_options_are_refused(regression, options, message):
    X, _, teacher = regression
    with pytest.raises(ValueError, match=message):
        distill(teacher, X, **options)


def test_bad_models_and_rows_are_refused(regression):
    X, y, teacher = regression
    with pytest.raises(NotFittedError):
        distill(SoftQuantizerRegressor(4), X)
    with pytest.raises(TypeError, match="distill takes a fitted SoftQuantizer"):
        distill(LinearRegression().fit(X, y), X)
    with pytest.raises(ValueError, match="features"):
        distill(teacher, X[:, :5])
    with pytest.raises(ValueError):
        distill(teacher, X[:0])


def test_a_pipeline_distills_into_a_pipeline_with_copies_of_its_steps(regression):
    X, y, _ = regression
    teacher = make_pipeline(
        StandardScaler(), SoftQuantizerRegressor(3, max_epochs=5, random_state=0)
    ).fit(X, y)
    student = distill(teacher, X, max_epochs=3, random_state=0)
    alone = distill(teacher[-1], teacher[0].transform(X), max_epochs=3, random_state=0)
    assert isinstance(student, Pipeline) and student[-1].n_heads == 1
    assert teacher[-1].n_heads == 3  # the teacher's steps are its own still
    assert student[0] is not teacher[0]
    np.testing.assert_array_equal(student[0].mean_, teacher[0].mean_)
    np.testing.assert_array_equal(
        student.predict(X), alone.predict(teacher[0].transform(X))
    )
    np.testing.assert_array_equal(student.transform(X), teacher.transform(X))
