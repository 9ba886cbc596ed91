"""Displays: rendered with Agg, checked through the artists they draw."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    RateAccuracyDisplay,
    SoftQuantizer,
    ThresholdDisplay,
    rate_scoring,
)

from conftest import FAST

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted(cancer):
    X_train, _, y_train, _ = cancer
    columns = [f"f{i}" for i in range(30)]
    sq = SoftQuantizer([2] * 10 + [3] * 20, random_state=0, **FAST)
    return sq.fit(pd.DataFrame(X_train, columns=columns), y_train), columns


def test_threshold_display_draws_learned_and_initial_lines(fitted, cancer):
    sq, columns = fitted
    X = pd.DataFrame(cancer[0], columns=columns)
    display = ThresholdDisplay.from_estimator(sq, X, features=[0, "f12"])
    assert len(display.axes_) == 2
    assert [len(lines) for lines in display.learned_lines_] == [3, 7]
    assert [len(lines) for lines in display.initial_lines_] == [3, 7]
    drawn = [line.get_xdata()[0] for line in display.learned_lines_[1]]
    np.testing.assert_allclose(drawn, sq.thresholds_[12])
    assert display.axes_[1].get_title() == "f12 (3 bits)"
    assert len(display.axes_[0].patches) == 50  # histogram bars


def test_threshold_display_on_given_axes(fitted, cancer):
    sq, columns = fitted
    fig, axes = plt.subplots(1, 3)
    display = ThresholdDisplay.from_estimator(
        sq, pd.DataFrame(cancer[0], columns=columns), features=[1, 2, 3], ax=axes
    )
    assert display.figure_ is fig and list(display.axes_) == list(axes)


def test_rate_accuracy_display_from_search(cancer):
    X_train, _, y_train, _ = cancer
    pipe = make_pipeline(
        StandardScaler(), SoftQuantizer(random_state=0, **{**FAST, "max_epochs": 3})
    )
    search = GridSearchCV(pipe, {"softquantizer__n_bits": [1, 2, 4]}, cv=2)
    search.fit(X_train, y_train)
    display = RateAccuracyDisplay.from_cv_results(search, reference_score=0.97)
    x, y = display.line_.lines[0].get_data()
    # 30 features: 1 bit -> 4 bytes, 2 bits -> 8 bytes, 4 bits -> 15 bytes
    assert x.tolist() == [32.0, 64.0, 120.0]
    order = np.argsort([1, 2, 4])
    np.testing.assert_allclose(y, search.cv_results_["mean_test_score"][order])
    assert display.reference_line_.get_ydata()[0] == 0.97
    assert display.ax_.get_xlabel() == "bits per sample"


def test_rate_accuracy_display_from_table_as_compression():
    display = RateAccuracyDisplay.from_results(
        [16, 32, 64], [0.8, 0.9, 0.95], n_features=8, x="compression_ratio"
    )
    x, y = display.line_.lines[0].get_data()
    # 8 float32 features = 256 bits; the line runs left to right
    assert x.tolist() == [4.0, 8.0, 16.0] and y.tolist() == [0.95, 0.9, 0.8]
    assert display.reference_line_ is None


def test_rate_accuracy_display_sorts_unordered_results_with_their_errors():
    display = RateAccuracyDisplay.from_results(
        [32, 8, 16], [0.9, 0.6, 0.8], errors=[0.01, 0.03, 0.02]
    )
    x, y = display.line_.lines[0].get_data()
    assert x.tolist() == [8.0, 16.0, 32.0] and y.tolist() == [0.6, 0.8, 0.9]
    assert display.errors.tolist() == [0.03, 0.02, 0.01]


def test_rate_accuracy_display_errors():
    with pytest.raises(ValueError, match="needs n_features"):
        RateAccuracyDisplay.from_results([8], [0.5], x="compression_ratio")
    with pytest.raises(ValueError, match="x must be"):
        RateAccuracyDisplay.from_results([8], [0.5], x="speed")
    with pytest.raises(ValueError, match="rates: 3, scores: 2"):
        RateAccuracyDisplay.from_results([8, 16, 24], [0.5, 0.6])
    display = RateAccuracyDisplay.from_results([8, 16], [0.5, 0.6])
    with pytest.raises(ValueError, match="message_bits: 2, scores: 2, errors: 1"):
        display.plot_messages([6, 12], [0.5, 0.6], [0.1])
    with pytest.raises(NotFittedError):
        RateAccuracyDisplay.from_cv_results(GridSearchCV(SoftQuantizer(), {}))


def test_a_search_over_auto_widths_needs_rate_scoring(cancer):
    X_train, _, y_train, _ = cancer
    grid = [{"n_bits": [1]}, {"n_bits": ["auto"], "bit_budget": [20]}]
    sq = SoftQuantizer(random_state=0, **{**FAST, "max_epochs": 1})
    search = GridSearchCV(sq, grid, cv=2).fit(X_train, y_train)
    with pytest.raises(ValueError, match="n_bits='auto'.*rate_scoring"):
        RateAccuracyDisplay.from_cv_results(search)
    scored = GridSearchCV(sq, grid, cv=2, scoring=rate_scoring(), refit="score")
    display = RateAccuracyDisplay.from_cv_results(scored.fit(X_train, y_train))
    assert display.line_.lines[0].get_xdata().tolist() == [24.0, 32.0]


@pytest.mark.parametrize(
    ("features", "error", "match"),
    [
        ([30], ValueError, "index 30 is out of range for 30 features"),
        (["nope"], ValueError, "no feature is named 'nope'; the names are f0, f1"),
        ([1.5], TypeError, r"indices \(int\) or names \(str\), got 1.5"),
        ([], ValueError, "features is empty"),
    ],
)
def test_threshold_display_names_a_bad_feature(fitted, cancer, features, error, match):
    sq, columns = fitted
    X = pd.DataFrame(cancer[0], columns=columns)
    with pytest.raises(error, match=match):
        ThresholdDisplay.from_estimator(sq, X, features)


def test_threshold_display_takes_one_feature_a_pipeline_and_checks_its_axes(cancer):
    X_train, _, y_train, _ = cancer
    pipe = make_pipeline(StandardScaler(), SoftQuantizer(2, random_state=0, **FAST))
    pipe.fit(X_train, y_train)
    display = ThresholdDisplay.from_estimator(pipe, X_train, -1)
    assert display.features == [29]
    drawn = display.axes_[0].patches
    assert sum(bar.get_height() for bar in drawn) == len(X_train)
    scaled = pipe[0].transform(X_train)[:, 29]
    assert min(bar.get_x() for bar in drawn) == pytest.approx(scaled.min(), rel=1e-5)
    with pytest.raises(ValueError, match="ax holds 2 Axes for 3 features"):
        ThresholdDisplay.from_estimator(pipe, X_train, [0, 1, 2], ax=plt.subplots(2)[1])
    with pytest.raises(ValueError, match="max_features must be an int >= 1"):
        ThresholdDisplay.from_estimator(pipe, X_train, max_features=0)


def assert_laid_out(figure):
    """Everything each panel draws (tick labels, axis labels, title) lies on the
    canvas, and no title runs into another panel."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    canvas = figure.bbox
    axes = [a for a in figure.axes if a.get_visible()]
    drawn = [a.get_tightbbox(renderer) for a in axes]
    for box in drawn:
        assert canvas.x0 - 1 <= box.x0 and box.x1 <= canvas.x1 + 1, box
        assert canvas.y0 - 1 <= box.y0 and box.y1 <= canvas.y1 + 1, box
    for i, a in enumerate(axes):
        title = a.title.get_window_extent(renderer)
        for j, other in enumerate(drawn):
            if i != j and title.overlaps(other):
                raise AssertionError(f"the title of panel {i} runs into panel {j}")


def test_threshold_display_lays_out_its_text(fitted, cancer):
    import matplotlib.pyplot as plt

    sq, columns = fitted
    X = pd.DataFrame(cancer[0], columns=columns)
    display = ThresholdDisplay.from_estimator(sq, X, max_features=9)
    assert len(display.axes_) == 9
    assert_laid_out(display.figure_)
    plt.close(display.figure_)


def test_threshold_display_symlog_and_bad_scale(fitted, cancer):
    import matplotlib.pyplot as plt

    sq, columns = fitted
    X = pd.DataFrame(cancer[0], columns=columns)
    display = ThresholdDisplay.from_estimator(sq, X, [3], xscale="symlog")
    assert display.axes_[0].get_xscale() == "symlog"
    plt.close(display.figure_)
    with pytest.raises(ValueError, match="xscale must be 'linear' or 'symlog'"):
        ThresholdDisplay.from_estimator(sq, X, [3], xscale="log2")


def test_rate_accuracy_display_keeps_its_labels_on_the_canvas():
    import matplotlib.pyplot as plt

    display = RateAccuracyDisplay.from_results(
        [8, 16, 32], [0.9, 0.95, 0.97], n_features=8, x="compression_ratio"
    )
    assert_laid_out(display.figure_)
    plt.close(display.figure_)
