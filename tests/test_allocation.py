"""Per-feature widths: features with 0 bits, and widths learned under a budget."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV

from sklearn_bsq import SoftQuantizer, SoftQuantizerRegressor, load, save
from sklearn_bsq.plotting import ThresholdDisplay

from conftest import FAST, press_ctrl_c_in_epoch


def informative_data(n=600, noise_features=6, seed=0):
    """y depends on features 0 and 1 only; the others are noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2 + noise_features))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
    return X, y


@pytest.fixture(scope="module")
def auto_model():
    X, y = informative_data()
    sq = SoftQuantizerRegressor("auto", bit_budget=8, random_state=0, **FAST)
    return sq.fit(X, y), X, y


# ------------------------------------------------------------ width 0, given
@pytest.fixture(scope="module")
def skipping(cancer):
    X_train, X_test, y_train, _ = cancer
    widths = [3, 0, 2, 0, 1] * 6
    sq = SoftQuantizer(widths, random_state=0, **FAST).fit(X_train, y_train)
    return sq, X_train, X_test


def test_unsent_features_take_no_bits(skipping):
    sq, _, X_test = skipping
    assert sq.bytes_per_row_ == 5  # 6 x (3 + 2 + 1) = 36 bits
    packed = sq.transform(X_test)
    assert packed.shape == (len(X_test), 5)
    codes = sq.decode(packed)
    np.testing.assert_array_equal(codes, sq.encode(X_test))
    assert not codes[:, sq.n_bits_ == 0].any()
    assert all(sq.thresholds_[j].size == 0 for j in np.flatnonzero(sq.n_bits_ == 0))
    np.testing.assert_array_equal(sq.predict_packed(packed), sq.predict(X_test))


def test_unsent_features_do_not_matter(skipping):
    """Anything read for a feature that is not sent changes neither bytes nor
    predictions: the node need not measure it."""
    sq, _, X_test = skipping
    scrambled = X_test.copy()
    unsent = sq.n_bits_ == 0
    scrambled[:, unsent] = np.random.default_rng(0).normal(
        size=(len(X_test), unsent.sum())
    )
    np.testing.assert_array_equal(sq.transform(scrambled), sq.transform(X_test))
    np.testing.assert_array_equal(sq.predict_proba(scrambled), sq.predict_proba(X_test))


def test_unsent_features_decode_to_their_mean(skipping):
    sq, X_train, X_test = skipping
    approx = sq.inverse_transform(sq.transform(X_test))
    unsent = np.flatnonzero(sq.n_bits_ == 0)
    np.testing.assert_allclose(
        approx[:, unsent],
        np.broadcast_to(
            X_train[:, unsent].astype(np.float32).mean(axis=0),
            (len(X_test), unsent.size),
        ),
        rtol=1e-6,
    )


def test_codes_of_unsent_features_must_be_zero(skipping):
    sq, _, X_test = skipping
    codes = sq.encode(X_test[:3]).astype(np.int64)
    codes[0, 1] = 1  # feature 1 has 0 bits
    with pytest.raises(ValueError, match="code out of range for feature 1"):
        sq.predict_codes(codes)


# -------------------------------------------------------------- learned widths
def test_budget_is_spent_exactly(auto_model):
    sq, X, _ = auto_model
    assert sq.n_bits_.sum() == 8
    assert sq.n_bits_.dtype.kind == "i" and sq.n_bits_.min() >= 0
    assert sq.bytes_per_row_ == 1
    assert len(sq.thresholds_[0]) == 2 ** sq.n_bits_[0] - 1


def test_informative_features_get_the_bits(auto_model):
    sq, _, _ = auto_model
    assert sq.n_bits_[:2].min() > sq.n_bits_[2:].max(), sq.n_bits_
    assert sq.n_bits_[:2].sum() >= 5, sq.n_bits_


def test_learned_widths_beat_uniform_widths_here(auto_model):
    """Same 8 bits per sample: 1 bit for every feature loses the detail of the two
    features that matter."""
    sq, X, y = auto_model
    X_test, y_test = informative_data(seed=1)
    uniform = SoftQuantizerRegressor(
        1, allocation="uniform", random_state=0, **FAST
    ).fit(X, y)
    assert uniform.n_bits_.sum() == sq.n_bits_.sum()
    assert sq.score(X_test, y_test) > uniform.score(X_test, y_test) + 0.1


def test_trace_replays_to_the_widths(auto_model):
    sq, X, _ = auto_model
    trace = pd.DataFrame(sq.allocation_trace_)
    start = trace.iloc[0]
    assert start.feature == -1 and start.n_bits == 3  # ceil(8 / 8) + 2
    assert start.total_bits == 3 * X.shape[1]
    assert np.all(np.diff(trace.total_bits) == -1)
    assert trace.total_bits.iloc[-1] == sq.n_bits_.sum()
    assert np.all(np.isfinite(trace.validation_loss))
    widths = np.full(X.shape[1], 3)
    for row in trace.iloc[1:].itertuples():
        widths[row.feature] -= 1
        assert widths[row.feature] == row.n_bits
    np.testing.assert_array_equal(widths, sq.n_bits_)


def test_allocation_is_reproducible(auto_model):
    sq, X, y = auto_model
    again = SoftQuantizerRegressor("auto", bit_budget=8, random_state=0, **FAST)
    again.fit(X, y)
    np.testing.assert_array_equal(again.n_bits_, sq.n_bits_)
    for column, values in sq.allocation_trace_.items():
        np.testing.assert_array_equal(again.allocation_trace_[column], values)
    np.testing.assert_array_equal(again.transform(X), sq.transform(X))
    other = SoftQuantizerRegressor("auto", bit_budget=8, random_state=1, **FAST)
    other.fit(X, y)
    assert not np.array_equal(
        other.allocation_trace_["validation_loss"],
        sq.allocation_trace_["validation_loss"],
    )


def test_wide_pass_width_follows_the_budget():
    X, y = informative_data(n=200, noise_features=1)
    # 3 features, budget 7: ceil(7 / 3) + 2 = 5 bits each = 15 bits, 8 removed
    sq = SoftQuantizerRegressor("auto", bit_budget=7, random_state=0, **FAST).fit(X, y)
    assert sq.n_bits_.sum() == 7 and sq.allocation_trace_["n_bits"][0] == 5


def test_wide_pass_trains_one_head_and_the_final_fit_all(monkeypatch):
    """The wide pass only ranks bits: one head, whatever ``n_heads`` says."""
    from sklearn_bsq._first_layer import heads_of
    from sklearn_bsq._quantizer_training import QuantizerTraining

    built = []
    build = QuantizerTraining.build_module

    def recording(self, *args, **kwargs):
        module = build(self, *args, **kwargs)
        built.append((module.quantizer.n_bits.tolist(), heads_of(module)))
        return module

    monkeypatch.setattr(QuantizerTraining, "build_module", recording)
    X, y = informative_data(n=200, noise_features=1)
    sq = SoftQuantizerRegressor("auto", bit_budget=7, n_heads=3, **FAST).fit(X, y)
    wide, final = built[0], built[-1]
    assert wide == ([5, 5, 5], 1)
    assert final == (sq.n_bits_[sq.n_bits_ > 0].tolist(), 3)


def test_grid_search_over_the_budget():
    # 300 training rows per fold: with 150 the allocation spends bits on noise
    X, y = informative_data()
    search = GridSearchCV(
        SoftQuantizerRegressor("auto", bit_budget=4, random_state=0, **FAST),
        {"bit_budget": [4, 12]},
        cv=2,
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # three bits per feature on average describe the signal better than one
    assert scores[1] > scores[0] and search.best_params_["bit_budget"] == 12
    assert search.best_estimator_.n_bits_.sum() == 12


def test_refit_with_fixed_widths_forgets_the_trace(auto_model):
    _, X, y = auto_model
    sq = SoftQuantizerRegressor("auto", bit_budget=8, random_state=0, **FAST).fit(X, y)
    sq.set_params(n_bits=2, bit_budget=None, allocation="uniform").fit(X, y)
    assert not hasattr(sq, "allocation_trace_")
    assert sq.n_bits_.tolist() == [2] * X.shape[1]


def test_classification_and_early_stopping(cancer):
    X_train, X_test, y_train, y_test = cancer
    sq = SoftQuantizer(
        "auto", bit_budget=30, early_stopping=True, random_state=0, **FAST
    ).fit(X_train, y_train)
    assert sq.n_bits_.sum() == 30
    assert sq.score(X_test, y_test) > 0.85
    assert sq.allocation_trace_["validation_loss"].dtype == np.float64


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_bits="auto"), "give bit_budget.*allocation='learned'"),
        (
            dict(n_bits=[2] * 8, allocation="learned"),
            "allocation='learned' spends an int n_bits",
        ),
        (dict(n_bits=2, allocation="Learned"), "'allocation' parameter"),
        (
            dict(n_bits=2, bit_budget=8, allocation="learned"),
            "bit_budget=8 is used only with n_bits='auto'",
        ),
        (dict(n_bits=4, bit_budget=8), "bit_budget=8 is used only with n_bits='auto'"),
        (dict(n_bits="auto", bit_budget=0), "'bit_budget' parameter"),
        (dict(n_bits="auto", bit_budget=2.5), "'bit_budget' parameter"),
        (dict(n_bits="Auto", bit_budget=8), "'n_bits' parameter"),
        (
            dict(n_bits="auto", bit_budget=8, validation_fraction=0.001),
            "empty training or validation set.*allocation='uniform'",
        ),
    ],
)
def test_bad_budget_parameters(params, match):
    X, y = informative_data(n=100)
    with pytest.raises(ValueError, match=match):
        SoftQuantizerRegressor(**params, **FAST).fit(X, y)


def test_interrupted_allocation_leaves_nothing_fitted(monkeypatch):
    from sklearn.exceptions import NotFittedError

    press_ctrl_c_in_epoch(monkeypatch, 2)
    X, y = informative_data(n=100)
    sq = SoftQuantizerRegressor("auto", bit_budget=8, random_state=0, **FAST)
    with pytest.raises(KeyboardInterrupt, match="during the bit allocation"):
        sq.fit(X, y)
    with pytest.raises(NotFittedError):
        sq.transform(X)


def test_save_and_load_keep_widths_and_trace(auto_model, tmp_path):
    sq, X, _ = auto_model
    save(sq, tmp_path / "auto.npz")
    loaded = load(tmp_path / "auto.npz")
    np.testing.assert_array_equal(loaded.n_bits_, sq.n_bits_)
    for column, values in sq.allocation_trace_.items():
        np.testing.assert_array_equal(loaded.allocation_trace_[column], values)
    np.testing.assert_array_equal(loaded.transform(X), sq.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), sq.predict(X))


def test_load_refuses_a_broken_trace(auto_model, tmp_path):
    sq, _, _ = auto_model
    save(sq, tmp_path / "auto.npz")
    with np.load(tmp_path / "auto.npz") as archive:
        arrays = dict(archive)
    del arrays["allocation_trace.validation_loss"]
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(ValueError, match="needs the arrays"):
        load(tmp_path / "cut.npz")


def test_threshold_plot_shows_widths(auto_model):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    sq, X, _ = auto_model
    display = ThresholdDisplay.from_estimator(sq, X, features=list(range(X.shape[1])))
    titles = [a.get_title() for a in display.axes_]
    for j, (title, lines) in enumerate(
        zip(titles, display.learned_lines_, strict=True)
    ):
        b = int(sq.n_bits_[j])
        width = {0: "0 bits: not sent", 1: "1 bit"}.get(b, f"{b} bits")
        assert title.endswith(f" ({width})")
        assert len(lines) == 2**b - 1
    assert display.axes_[int(np.argmax(sq.n_bits_ > 0))].get_legend() is not None
    import matplotlib.pyplot as plt

    plt.close("all")


# ----------------------------------------------------------- the ranking rule
def test_ranking_follows_clear_differences_only():
    from sklearn_bsq._allocation import _guarded_ranking

    rng = np.random.default_rng(0)
    noise = rng.normal(size=400)
    widths = np.array([3, 3, 2, 2])
    per_row = np.stack(
        [
            1.0 + noise,  # widest, the reference
            1.1 + noise,  # widest, dearer
            0.5 + noise,  # narrower and clearly cheaper: first
            0.999 + rng.normal(size=400),  # narrower, cheaper only within noise
        ]
    )
    order = _guarded_ranking(per_row, widths)
    assert order[0] == 2 and order[1] == 0
    assert order.tolist().index(3) > order.tolist().index(0)
    # With the same rows the uniform lean disappears once the gap is clear.
    per_row[3] = 0.9 + noise
    assert _guarded_ranking(per_row, widths).tolist()[:2] == [2, 3]


# ------------------------------------------- allocation="learned": bits per feature
def test_learned_allocation_spends_n_bits_per_feature_on_average(auto_model):
    """allocation="learned" is n_bits="auto" with bit_budget n_bits * n_features:
    the same widths, bytes and predictions, and the row as long as one width's."""
    by_budget, X, y = auto_model  # "auto", bit_budget=8 on 8 features
    learned = SoftQuantizerRegressor(
        1, allocation="learned", random_state=0, **FAST
    ).fit(X, y)
    np.testing.assert_array_equal(learned.n_bits_, by_budget.n_bits_)
    np.testing.assert_array_equal(learned.transform(X), by_budget.transform(X))
    np.testing.assert_array_equal(learned.predict(X), by_budget.predict(X))
    assert set(learned.allocation_trace_) == set(by_budget.allocation_trace_)
    uniform = SoftQuantizerRegressor(
        1, allocation="uniform", random_state=0, **FAST
    ).fit(X, y)
    assert learned.bytes_per_row_ == uniform.bytes_per_row_ == 1
    assert learned.n_bits_.tolist() != uniform.n_bits_.tolist()


def test_grid_search_over_bits_per_feature_with_learned_widths():
    """A grid over n_bits needs no feature count once the widths are learned."""
    X, y = informative_data()
    search = GridSearchCV(
        SoftQuantizerRegressor(1, allocation="learned", random_state=0, **FAST),
        {"n_bits": [1, 3]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["n_bits"] == 3
    assert search.best_estimator_.n_bits_.sum() == 3 * X.shape[1]


def test_no_partial_fit_with_learned_allocation():
    sq = SoftQuantizerRegressor(2, allocation="learned")
    assert not hasattr(sq, "partial_fit")
    with pytest.raises(AttributeError) as raised:
        _ = sq.partial_fit
    assert "allocation='learned'" in str(raised.value.__cause__)
    assert hasattr(sq.set_params(allocation="uniform"), "partial_fit")


def test_load_checks_learned_widths_against_the_parameters(tmp_path):
    from test_persistence import rewrite

    X, y = informative_data(n=200)
    sq = SoftQuantizerRegressor(2, allocation="learned", random_state=0, **FAST)
    save(sq.fit(X, y), tmp_path / "learned.npz")
    loaded = load(tmp_path / "learned.npz")
    assert loaded.get_params() == sq.get_params()
    np.testing.assert_array_equal(loaded.transform(X), sq.transform(X))
    for change, match in [
        (dict(n_bits=1), "sum to 16 bits, over the parameters' budget of 8"),
        (dict(allocation="uniform"), "allocation trace goes with"),
    ]:
        rewrite(
            tmp_path / "learned.npz",
            tmp_path / "bad.npz",
            lambda a, m, change=change: m["params"].update(change),
        )
        with pytest.raises(ValueError, match=match):
            load(tmp_path / "bad.npz")


# ------------------------------------------------------- allocation="auto", the default
def test_auto_learns_the_widths_up_to_4_bits(auto_model):
    """The default at 1 bit per feature on 600 rows is allocation="learned":
    the same widths, bytes, predictions and trace."""
    _, X, y = auto_model
    default = SoftQuantizerRegressor(1, random_state=0, **FAST).fit(X, y)
    learned = SoftQuantizerRegressor(
        1, allocation="learned", random_state=0, **FAST
    ).fit(X, y)
    assert default.allocation == "auto"
    np.testing.assert_array_equal(default.n_bits_, learned.n_bits_)
    np.testing.assert_array_equal(default.transform(X), learned.transform(X))
    np.testing.assert_array_equal(default.predict(X), learned.predict(X))
    for column, values in learned.allocation_trace_.items():
        np.testing.assert_array_equal(default.allocation_trace_[column], values)


@pytest.mark.parametrize(
    "params, n_rows",
    [
        (dict(n_bits=5), 600),  # above 4 bits
        (dict(n_bits=2), 499),  # too few rows to rank bits on
        (dict(n_bits=2, quantizer="fixed"), 600),  # a baseline
        (dict(n_bits=[2, 1, 3, 0, 2, 2, 1, 1]), 600),  # widths given
    ],
)
def test_auto_keeps_the_given_widths(params, n_rows):
    X, y = informative_data(n=n_rows)
    default = SoftQuantizerRegressor(**params, random_state=0, **FAST).fit(X, y)
    uniform = SoftQuantizerRegressor(
        **params, allocation="uniform", random_state=0, **FAST
    ).fit(X, y)
    assert not hasattr(default, "allocation_trace_")
    expected = np.broadcast_to(params["n_bits"], X.shape[1])
    np.testing.assert_array_equal(default.n_bits_, expected)
    np.testing.assert_array_equal(default.transform(X), uniform.transform(X))
    np.testing.assert_array_equal(default.predict(X), uniform.predict(X))


def test_auto_streams_at_the_uniform_width_and_reloads(tmp_path):
    """partial_fit cannot learn widths from all the data: the default streams
    every feature at n_bits, and the file it saves loads (no trace, uniform
    widths, allocation="auto")."""
    X, y = informative_data()
    sq = SoftQuantizerRegressor(2, random_state=0, **FAST)
    for start in range(0, 600, 200):
        sq.partial_fit(X[start : start + 200], y[start : start + 200])
    assert sq.n_bits_.tolist() == [2] * X.shape[1]
    assert not hasattr(sq, "allocation_trace_")
    save(sq, tmp_path / "streamed.npz")
    loaded = load(tmp_path / "streamed.npz")
    assert loaded.allocation == "auto"
    np.testing.assert_array_equal(loaded.transform(X), sq.transform(X))
