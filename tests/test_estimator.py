"""SoftQuantizer as a scikit-learn estimator: fitted state, reproducibility,
tasks, training and everyday use (the node and server paths: test_node.py,
test_server.py)."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    FullPrecisionMLPClassifier,
    FullPrecisionMLPRegressor,
    SoftQuantizer,
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
)
from sklearn_bsq._network import log_probabilities, softmax_probabilities

from conftest import FAST, MIXED


class TestFittedState:
    def test_thresholds(self, fitted):
        assert len(fitted.thresholds_) == 30
        for t, b in zip(fitted.thresholds_, MIXED, strict=True):
            assert t.dtype == np.float32 and t.shape == (2**b - 1,)
            assert np.all(np.diff(t) >= 0)

    def test_sizes(self, fitted, cancer):
        assert fitted.n_bits_.tolist() == MIXED
        # 55 + 60 = 115 bits in 15 bytes; 30 float32 readings take 120 bytes
        assert fitted.bytes_per_row_ == 15
        assert fitted.compression_ratio_ == 8.0
        packed = fitted.transform(cancer[1])
        assert packed.dtype == np.uint8 and packed.flags.c_contiguous
        assert packed.shape == (len(cancer[1]), fitted.bytes_per_row_)
        assert fitted.encode(cancer[1]).dtype == np.uint16  # widths up to 10 bits

    def test_encode_dtype_uint8_up_to_8_bits(self, cancer):
        sq = SoftQuantizer(8, random_state=0, **{**FAST, "max_epochs": 1})
        assert sq.fit(cancer[0], cancer[2]).encode(cancer[1]).dtype == np.uint8

    def test_learns_the_task(self, fitted, cancer):
        assert fitted.score(cancer[1], cancer[3]) > 0.9

    def test_inverse_transform_lies_in_the_interval(self, fitted, cancer):
        packed = fitted.transform(cancer[1])
        values = fitted.inverse_transform(packed)
        assert values.shape == cancer[1].shape
        np.testing.assert_array_equal(fitted.encode(values), fitted.decode(packed))


class TestReproducibility:
    def fit(self, data, seed):
        X_train, _, y_train, _ = data
        return SoftQuantizer(3, random_state=seed, **FAST).fit(X_train, y_train)

    def test_same_seed_same_thresholds_and_bytes(self, cancer):
        a, b = self.fit(cancer, 7), self.fit(cancer, 7)
        for ta, tb in zip(a.thresholds_, b.thresholds_, strict=True):
            np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(a.transform(cancer[1]), b.transform(cancer[1]))
        np.testing.assert_array_equal(
            a.predict_proba(cancer[1]), b.predict_proba(cancer[1])
        )

    def test_same_seed_same_bytes_in_another_process(self, cancer, tmp_path):
        np.save(tmp_path / "X.npy", cancer[0])
        np.save(tmp_path / "y.npy", cancer[2])
        np.save(tmp_path / "T.npy", cancer[1])
        code = (
            "import sys, numpy as np\n"
            "from sklearn_bsq import SoftQuantizer\n"
            f"d = {str(tmp_path)!r}\n"
            "X, y, T = (np.load(f'{d}/{n}.npy') for n in 'XyT')\n"
            f"sq = SoftQuantizer(3, random_state=7, **{FAST!r}).fit(X, y)\n"
            "sys.stdout.buffer.write(sq.transform(T).tobytes())\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, check=True
        )
        here = self.fit(cancer, 7).transform(cancer[1])
        assert out.stdout == here.tobytes()

    def test_different_seed_different_model(self, cancer):
        a, b = self.fit(cancer, 1), self.fit(cancer, 2)
        assert any(
            not np.array_equal(ta, tb)
            for ta, tb in zip(a.thresholds_, b.thresholds_, strict=True)
        )


class TestTasks:
    def test_regression_predicts_in_target_units(self, diabetes):
        X_train, X_test, y_train, y_test = diabetes
        reg = SoftQuantizerRegressor(4, random_state=0, **FAST).fit(X_train, y_train)
        assert reg.task_ == "regression" and not hasattr(reg, "predict_proba")
        pred = reg.predict(X_test)
        assert pred.dtype == np.float64
        assert abs(pred.mean() - y_test.mean()) < 0.25 * y_test.std()
        assert reg.score(X_test, y_test) > 0.3
        np.testing.assert_array_equal(reg.predict_packed(reg.transform(X_test)), pred)

    def test_auto_task(self, cancer, diabetes):
        sq = SoftQuantizer(2, random_state=0, **{**FAST, "max_epochs": 1})
        assert sq.fit(cancer[0], cancer[2]).task_ == "classification"
        assert sq.fit(diabetes[0], diabetes[2] + 0.5).task_ == "regression"

    def test_auto_task_warns_on_whole_number_quantities(self, diabetes):
        # Whole numbers, 3.4 samples per value: too many for scikit-learn's own
        # warning (more values than half the samples) to fire.
        X, y = np.vstack([diabetes[0]] * 2), np.concatenate([diabetes[2]] * 2)
        sq = SoftQuantizer(2, random_state=0, **{**FAST, "max_epochs": 1})
        with pytest.warns(UserWarning, match="task='regression'"):
            assert sq.fit(X, y).task_ == "classification"
        assert sq.set_params(task="regression").fit(X, y).task_ == "regression"
        # Few whole-number values with many samples each are classes: no warning.
        grades = (y // 100).astype(int)  # 0 to 3
        assert sq.set_params(task="auto").fit(X, grades).task_ == "classification"

    def test_explicit_task_sets_the_estimator_type(self):
        assert is_classifier(SoftQuantizer(task="classification"))
        assert is_regressor(SoftQuantizer(task="regression"))
        assert is_classifier(SoftQuantizerClassifier())
        assert is_regressor(SoftQuantizerRegressor())
        assert not is_classifier(SoftQuantizer())

    def test_string_labels(self, cancer):
        X_train, X_test, y_train, _ = cancer
        labels = np.array(["benign", "malignant"])[y_train]
        clf = SoftQuantizerClassifier(2, random_state=0, **FAST).fit(X_train, labels)
        assert clf.classes_.tolist() == ["benign", "malignant"]
        assert set(clf.predict(X_test)) <= {"benign", "malignant"}
        assert clf.predict_proba(X_test).shape == (len(X_test), 2)


class TestTraining:
    def test_early_stopping_restores_the_best_epoch(self, cancer):
        X_train, _, y_train, _ = cancer
        sq = SoftQuantizer(
            2,
            early_stopping=True,
            n_iter_no_change=3,
            random_state=0,
            **{**FAST, "max_epochs": 60, "lr": 5e-2},
        ).fit(X_train, y_train)
        history = sq.net_.history
        losses = history[:, "valid_loss"]
        best = int(np.argmin(losses))
        assert len(history) < 60  # it stopped early
        assert len(history) == best + 1 + 3
        # the network now in place scores the best epoch's validation loss
        X_std = ((X_train - sq.feature_mean_) / sq.feature_scale_).astype(np.float32)
        _, valid = sq.net_.get_split_datasets(X_std, sq.classes_.searchsorted(y_train))
        y_valid = np.array([valid[i][1] for i in range(len(valid))])
        logits = sq.net_.forward(valid)
        loss = sq.net_.get_loss(logits, torch.as_tensor(y_valid))
        assert float(loss) == pytest.approx(losses[best], rel=1e-4)

    def test_verbose_prints_a_progress_table(self, cancer, capsys):
        X_train, _, y_train, _ = cancer
        SoftQuantizer(2, verbose=1, random_state=0, **{**FAST, "max_epochs": 2}).fit(
            X_train, y_train
        )
        out = capsys.readouterr().out
        assert "train_loss" in out and "steepness" in out
        assert "\x1b[" not in out  # not a terminal: no colour codes in logs
        SoftQuantizer(2, random_state=0, **{**FAST, "max_epochs": 2}).fit(
            X_train, y_train
        )
        assert capsys.readouterr().out == ""  # verbose=0 prints nothing
        SoftQuantizer(2, verbose=2, random_state=0, **{**FAST, "max_epochs": 1}).fit(
            X_train, y_train
        )
        progress = capsys.readouterr().err
        assert "0/7 [" in progress  # a bar over 398 rows in batches of 64: seven

    def test_steepness_grows_to_the_end_value(self, cancer):
        X_train, _, y_train, _ = cancer
        sq = SoftQuantizer(2, steepness=(2.0, 50.0), random_state=0, **FAST)
        steep = sq.fit(X_train, y_train).net_.history[:, "steepness"]
        assert steep[0] == pytest.approx(2.0) and steep[-1] == pytest.approx(50.0)
        assert np.all(np.diff(steep) > 0)


class TestEcosystem:
    def test_pandas_input_and_output(self, cancer):
        X_train, X_test, y_train, _ = cancer
        columns = [f"f{i}" for i in range(30)]
        df_train = pd.DataFrame(X_train, columns=columns)
        sq = SoftQuantizer(4, random_state=0, **FAST).fit(df_train, y_train)
        assert sq.feature_names_in_.tolist() == columns
        sq.set_output(transform="pandas")
        out = sq.transform(pd.DataFrame(X_test, columns=columns))
        assert isinstance(out, pd.DataFrame)
        assert out.shape == (len(X_test), 15)
        assert list(out.columns) == [f"softquantizer{i}" for i in range(15)]
        assert (out.dtypes == np.uint8).all()

    def test_pipeline_after_column_transformer(self, cancer):
        X_train, X_test, y_train, y_test = cancer
        columns = [f"f{i}" for i in range(30)]
        pre = ColumnTransformer([("scale", StandardScaler(), columns[:20])])
        pipe = make_pipeline(pre, SoftQuantizer(3, random_state=0, **FAST))
        pipe.fit(pd.DataFrame(X_train, columns=columns), y_train)
        df_test = pd.DataFrame(X_test, columns=columns)
        packed = pipe.transform(df_test)
        assert packed.shape == (len(X_test), 8)  # 20 features x 3 bits = 60 bits
        sq = pipe[-1]
        np.testing.assert_array_equal(sq.predict_packed(packed), pipe.predict(df_test))
        assert pipe.score(df_test, y_test) > 0.85

    def test_grid_search_over_bits_in_parallel(self, cancer):
        X_train, _, y_train, _ = cancer
        search = GridSearchCV(
            SoftQuantizerClassifier(random_state=0, **{**FAST, "max_epochs": 5}),
            {"n_bits": [1, 4]},
            cv=StratifiedKFold(3),
            n_jobs=2,
        ).fit(X_train, y_train)
        scores = search.cv_results_["mean_test_score"]
        assert np.all(np.isfinite(scores)) and scores[0] != scores[1]
        # the refitted winner is the better width, refitted at that width
        best = [1, 4][int(np.argmax(scores))]
        assert search.best_estimator_.n_bits_.tolist() == [best] * 30
        assert search.best_estimator_.bytes_per_row_ == {1: 4, 4: 15}[best]

    def test_clone_keeps_parameters_and_drops_fit(self, fitted):
        copy = clone(fitted)
        assert copy.get_params() == fitted.get_params()
        assert not hasattr(copy, "net_")

    def test_pickle_round_trip(self, fitted, cancer):
        restored = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(
            restored.transform(cancer[1]), fitted.transform(cancer[1])
        )
        np.testing.assert_array_equal(
            restored.predict_proba(cancer[1]), fitted.predict_proba(cancer[1])
        )

    def test_a_pickle_from_before_the_stream_moved_loads(self, fitted):
        # Pickles written before RandomStream moved to _generators name it in
        # _training (protocol 0 names classes as text, so the old name can be set)
        now = pickle.dumps(fitted, protocol=0)
        before = now.replace(b"sklearn_bsq._generators", b"sklearn_bsq._training")
        assert before != now
        restored = pickle.loads(before)
        assert type(restored._stream_) is type(fitted._stream_)


def test_widths_that_cannot_fit_in_memory_are_refused_before_training():
    """100 features at 16 bits on the thermometer: about 90 GiB of weights
    and steps; the estimate is refused before anything is allocated."""
    X = np.random.default_rng(0).normal(size=(50, 100))
    y = (X[:, 0] > 0).astype(int)
    sq = SoftQuantizerClassifier(16, representation="thermometer", max_epochs=1)
    with pytest.raises(MemoryError, match=r"needs about \d+\.\d GiB"):
        sq.fit(X, y)
    auto = SoftQuantizerClassifier("auto", bit_budget=1600, representation="bits")
    with pytest.raises(MemoryError, match="the bit allocation's wide pass"):
        auto.set_params(hidden_layer_sizes=(100_000, 100_000)).fit(X, y)


@pytest.mark.parametrize("cls", [SoftQuantizerClassifier, FullPrecisionMLPClassifier])
def test_log_probabilities_for_scikit_learns_tools(cls, cancer):
    X_train, X_test, y_train, _ = cancer
    clf = cls(random_state=0, **FAST).fit(X_train, y_train)
    log_proba = clf.predict_log_proba(X_test)
    np.testing.assert_allclose(np.exp(log_proba), clf.predict_proba(X_test), rtol=1e-12)
    folds = cross_val_predict(
        cls(random_state=0, **FAST), X_train, y_train, cv=2, method="predict_log_proba"
    )
    assert folds.shape == (len(X_train), 2) and np.all(folds <= 0)
    assert not hasattr(SoftQuantizerRegressor(), "predict_log_proba")
    assert not hasattr(FullPrecisionMLPRegressor(), "predict_log_proba")


def test_log_probabilities_stay_finite_where_probabilities_round_to_zero():
    logits = np.array([[0.0, -800.0], [50.0, 0.0]], np.float32)
    assert softmax_probabilities(logits)[0, 1] == 0.0
    np.testing.assert_allclose(log_probabilities(logits), [[0, -800], [0, -50]])
