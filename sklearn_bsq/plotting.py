"""Visual diagnostics in scikit-learn's Display style (needs matplotlib).

- :class:`ThresholdDisplay`: each feature's histogram with the learned thresholds
  over it, and the initial thresholds for comparison.
- :class:`RateAccuracyDisplay`: score versus bits per sample (or compression ratio),
  from a ``GridSearchCV`` over ``n_bits`` or from a plain table.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._estimator import fitted_state
from ._packing import bytes_per_row, float32_ratio
from ._threshold_init import raw_initial_thresholds
from ._validation import check_readings, final_step

__all__ = ["ThresholdDisplay", "RateAccuracyDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: pip install 'sklearn-bsq[plot]'"
        ) from exc
    return plt


class ThresholdDisplay:
    """Histograms of features with their learned and initial thresholds.

    Create it with :meth:`from_estimator`; the constructor takes what it plots.

    Parameters
    ----------
    features : list of int
        Indices of the plotted features.
    values : list of ndarray
        Readings of each plotted feature.
    learned, initial : list of ndarray
        Learned and initial thresholds of each plotted feature.
    names : list of str
        Feature names, for the titles.
    widths : list of int
        Bits of each plotted feature.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One per plotted feature.
    figure_ : matplotlib Figure
    learned_lines_, initial_lines_ : list of list of Line2D
        Per feature, the vertical lines drawn at the thresholds.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizer, ThresholdDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> sq = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    >>> display = ThresholdDisplay.from_estimator(sq, X, features=[0, 2])
    >>> [len(lines) for lines in display.learned_lines_]  # 3 thresholds at 2 bits
    [3, 3]
    >>> plt.close(display.figure_)
    """

    def __init__(self, features, values, learned, initial, names, widths):
        self.features = features
        self.values = values
        self.learned = learned
        self.initial = initial
        self.names = names
        self.widths = widths

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        features=None,
        *,
        max_features=6,
        ax=None,
        bins=50,
        xscale="linear",
    ):
        """Plot the chosen features of ``X`` with ``estimator``'s thresholds.

        Parameters
        ----------
        estimator : fitted SoftQuantizer, or a Pipeline ending in one
            The steps before the quantizer transform ``X`` first.
        X : array-like of shape (n_samples, n_features)
            Readings to histogram, usually the training data. The initial
            thresholds are computed from it by ``fit``'s own rule and the
            model's standardization: on the (unweighted) training data they
            are exactly where ``fit`` started.
        features : int, str or list of them, optional
            Indices or names of the features to plot (default: the first
            ``max_features``); names are the quantizer's input features.
        max_features : int, default=6
            How many features to plot when ``features`` is not given.
        ax : matplotlib Axes or array of Axes, optional
            One Axes per feature; a new figure when omitted.
        bins : int, default=50
        xscale : {"linear", "symlog"}, default="linear"
            See :meth:`plot`.

        Returns
        -------
        display : ThresholdDisplay
            The display, drawn.

        Examples
        --------
        Two features of iris by name, with a 4-bit model:

        >>> import matplotlib.pyplot as plt
        >>> import pandas as pd
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_bsq import SoftQuantizerClassifier, ThresholdDisplay
        >>> iris = load_iris(as_frame=True)
        >>> clf = SoftQuantizerClassifier(4, max_epochs=2, random_state=0)
        >>> clf.fit(iris.data, iris.target)
        SoftQuantizerClassifier(max_epochs=2, random_state=0)
        >>> features = ["petal length (cm)", "sepal width (cm)"]
        >>> display = ThresholdDisplay.from_estimator(clf, iris.data, features)
        >>> [axis.get_title() for axis in display.axes_]
        ['petal length (cm) (4 bits)', 'sepal width (cm) (4 bits)']
        >>> plt.close(display.figure_)
        """
        estimator, X = final_step(estimator, X)
        state = fitted_state(estimator, "ThresholdDisplay.from_estimator")
        X_checked = check_readings(estimator, X, reset=False)
        names = state.feature_names()
        indices = _feature_indices(features, names, max_features)
        codec = state.codec
        # where fit started, by fit's own rule and standardization
        started = raw_initial_thresholds(
            X_checked,
            codec.n_bits,
            state.params["threshold_init"],
            state.feature_mean,
            state.feature_scale,
        )
        values = [X_checked[:, j].astype(np.float64) for j in indices]
        learned = [codec.thresholds[j] for j in indices]
        initial = [started[j] for j in indices]
        display = cls(
            indices,
            values,
            learned,
            initial,
            [names[j] for j in indices],
            [int(codec.n_bits[j]) for j in indices],
        )
        return display.plot(ax=ax, bins=bins, xscale=xscale)

    def plot(self, *, ax=None, bins=50, xscale="linear"):
        """Draw the histograms.

        Parameters
        ----------
        ax : matplotlib Axes or array of Axes, optional
            One Axes per feature; a new figure (three panels a row) when omitted.
        bins : int, default=50
            Histogram bins per feature.
        xscale : {"linear", "symlog"}, default="linear"
            "symlog" spreads out thresholds that crowd near zero on heavy-tailed
            features.

        Returns
        -------
        self : ThresholdDisplay
        """
        if xscale not in ("linear", "symlog"):
            raise ValueError(f"xscale must be 'linear' or 'symlog', got {xscale!r}.")
        plt = _pyplot()
        n = len(self.features)
        new_figure = ax is None
        if new_figure:
            cols = min(3, n)
            rows = -(-n // cols)
            fig, ax = plt.subplots(
                rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False
            )
            for extra in ax.ravel()[n:]:
                extra.set_visible(False)
        axes = np.asarray(ax, dtype=object).ravel()
        if axes.size < n:
            raise ValueError(
                f"ax holds {axes.size} Axes for {n} features: pass one per "
                "feature, or none for a new figure."
            )
        axes = axes[:n]
        self.learned_lines_, self.initial_lines_ = [], []
        for a, values, learned, initial, name, width in zip(
            axes,
            self.values,
            self.learned,
            self.initial,
            self.names,
            self.widths,
            strict=True,
        ):
            a.hist(values, bins=bins, color="0.75")
            self.initial_lines_.append(
                [a.axvline(t, color="tab:blue", ls="--", lw=0.8) for t in initial]
            )
            self.learned_lines_.append(
                [a.axvline(t, color="tab:red", lw=1.2) for t in learned]
            )
            bits = "1 bit" if width == 1 else f"{width} bits"
            a.set_title(f"{name} ({bits}{': not sent' if width == 0 else ''})")
        # The legend goes on the first panel with lines (width-0 panels have none).
        for a, learned, initial in zip(
            axes, self.learned_lines_, self.initial_lines_, strict=True
        ):
            if learned:
                a.legend([learned[0], initial[0]], ["learned", "initial"], fontsize=8)
                break
        if xscale != "linear":
            for a in axes:
                a.set_xscale(xscale)
        self.axes_ = axes
        self.figure_ = axes[0].figure
        if new_figure:
            self.figure_.tight_layout()  # after the titles, so that none overlap
        return self


class RateAccuracyDisplay:
    """Score versus rate: bits per sample or compression ratio.

    Create it with :meth:`from_cv_results` or :meth:`from_results`.

    Parameters
    ----------
    rates : array-like of float
        Bits per sample, or compression ratios (``x="compression_ratio"``).
    scores : array-like of float
        One score per rate; the points are drawn in order of rate.
    errors : array-like of float, optional
        Error bars (e.g. the standard deviation over folds).
    x : {"bits_per_sample", "compression_ratio"}, default="bits_per_sample"
        What ``rates`` are; it labels the x axis.
    label : str, optional
        Legend entry of the line (default "quantized").

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : ErrorbarContainer
    message_line_ : ErrorbarContainer or None
        The format v2 (range-coded) curve, drawn by :meth:`from_cv_results`
        when the search recorded ``message_bits_per_sample``.
    reference_line_ : Line2D or None

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_bsq import RateAccuracyDisplay
    >>> display = RateAccuracyDisplay([16, 8, 32], [0.93, 0.90, 0.95]).plot()
    >>> display.line_.lines[0].get_xdata().tolist()
    [8.0, 16.0, 32.0]
    >>> plt.close(display.figure_)
    """

    def __init__(self, rates, scores, errors=None, *, x="bits_per_sample", label=None):
        _check_same_lengths(rates=rates, scores=scores, errors=errors)
        order = np.argsort(rates)
        self.rates = np.asarray(rates, dtype=float)[order]
        self.scores = np.asarray(scores, dtype=float)[order]
        self.errors = None if errors is None else np.asarray(errors, dtype=float)[order]
        self.x = x
        self.label = label
        self.n_features = None  # for compression ratios of a second curve

    @classmethod
    def from_cv_results(
        cls, search, *, reference_score=None, x="bits_per_sample", ax=None, label=None
    ):
        """From a fitted ``GridSearchCV`` (or similar) whose grid varies ``n_bits``.

        Parameters
        ----------
        search : fitted search object with ``cv_results_`` and ``n_features_in_``
            Searched with ``scoring=rate_scoring()`` (any grid; the format v2
            message bits of the test folds are drawn as a second curve beside
            the fixed-width one), or over ``n_bits`` (``<step>__n_bits`` in a
            Pipeline).
        reference_score : float, optional
            Drawn as a horizontal line, e.g. the full-precision score.
        x : {"bits_per_sample", "compression_ratio"}, default="bits_per_sample"
        ax : matplotlib Axes, optional
        label : str, optional
            Legend entry of the line.

        Returns
        -------
        display : RateAccuracyDisplay
            The display, drawn.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.model_selection import GridSearchCV
        >>> from sklearn_bsq import RateAccuracyDisplay, SoftQuantizerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> grid = {"n_bits": [1, 2, 4]}
        >>> clf = SoftQuantizerClassifier(max_epochs=2, random_state=0)
        >>> search = GridSearchCV(clf, grid, cv=2).fit(X, y)
        >>> display = RateAccuracyDisplay.from_cv_results(search, reference_score=0.97)
        >>> display.line_.lines[0].get_xdata().tolist()  # 4 features: 1, 1, 2 bytes
        [8.0, 8.0, 16.0]
        >>> plt.close(display.figure_)
        """
        check_is_fitted(search, "cv_results_")
        results = search.cv_results_
        n_features = _searched_feature_count(search)
        if "mean_test_bits_per_sample" in results:  # scoring=rate_scoring()
            bits = np.asarray(results["mean_test_bits_per_sample"])
        else:
            keys = [k for k in results if k == "param_n_bits" or k.endswith("__n_bits")]
            if not keys:
                raise ValueError(
                    "the search's grid has no n_bits parameter to plot; search with "
                    "scoring=rate_scoring() to plot any grid."
                )
            if any(isinstance(w, str) for w in results[keys[0]]):
                raise ValueError(
                    "the search's grid has n_bits='auto', whose widths each fit "
                    "learns; search with scoring=rate_scoring() to record the bits "
                    "per sample of every candidate."
                )
            bits = 8 * np.array(
                [
                    bytes_per_row(np.broadcast_to(np.asarray(w), (n_features,)))
                    for w in results[keys[0]]
                ]
            )
        messages = results.get("mean_test_message_bits_per_sample")
        display = cls.from_results(
            bits,
            results["mean_test_score"],
            results["std_test_score"],
            n_features=n_features,
            reference_score=reference_score,
            x=x,
            ax=ax,
            label=label or (None if messages is None else "fixed width (v1)"),
        )
        if messages is not None:
            display.plot_messages(
                messages, results["mean_test_score"], results["std_test_score"]
            )
        return display

    def plot_messages(self, message_bits, scores, errors=None, *, label=None):
        """Add the format v2 curve: the same models at their mean message bits.

        Parameters
        ----------
        message_bits : array-like of float
            Mean bits of a format v2 message per result (converted to a
            compression ratio when the display shows ratios).
        scores : array-like of float
        errors : array-like of float, optional
        label : str, optional
            Legend entry (default "range-coded (v2)").

        Returns
        -------
        self : RateAccuracyDisplay

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn_bsq import RateAccuracyDisplay
        >>> display = RateAccuracyDisplay([16, 32], [0.90, 0.95]).plot()
        >>> display = display.plot_messages([11.5, 25.0], [0.90, 0.95])
        >>> display.message_line_.lines[0].get_xdata().tolist()
        [11.5, 25.0]
        >>> plt.close(display.figure_)
        """
        _check_same_lengths(message_bits=message_bits, scores=scores, errors=errors)
        rates = np.asarray(message_bits, dtype=float)
        if self.x == "compression_ratio":
            rates = float32_ratio(self.n_features, rates)
        order = np.argsort(rates)
        scores = np.asarray(scores, dtype=float)[order]
        yerr = None if errors is None else np.asarray(errors, dtype=float)[order]
        self.message_line_ = self.ax_.errorbar(
            rates[order],
            scores,
            yerr=yerr,
            fmt="--s",
            capsize=3,
            label=label or "range-coded (v2)",
        )
        self.ax_.legend(fontsize=8)
        return self

    @classmethod
    def from_results(
        cls,
        bits_per_sample,
        scores,
        errors=None,
        *,
        n_features=None,
        reference_score=None,
        x="bits_per_sample",
        ax=None,
        label=None,
    ):
        """From a plain table: bits per sample and scores (and their spread).

        Parameters
        ----------
        bits_per_sample : array-like of float
            Bits of one packed sample (``8 * bytes_per_row_``) per result.
        scores : array-like of float
        errors : array-like of float, optional
        n_features : int, optional
            Needed for ``x="compression_ratio"``: the float32 size of a sample
            is ``32 * n_features`` bits.
        reference_score : float, optional
            Drawn as a horizontal line, e.g. the full-precision score.
        x : {"bits_per_sample", "compression_ratio"}, default="bits_per_sample"
        ax : matplotlib Axes, optional
            A new figure when omitted.
        label : str, optional
            Legend entry of the line (default "quantized").

        Returns
        -------
        display : RateAccuracyDisplay

        Examples
        --------
        Eight features, as compression ratios against float32:

        >>> import matplotlib.pyplot as plt
        >>> from sklearn_bsq import RateAccuracyDisplay
        >>> display = RateAccuracyDisplay.from_results(
        ...     [16, 32, 64], [0.80, 0.90, 0.95], n_features=8, x="compression_ratio"
        ... )
        >>> display.line_.lines[0].get_xdata().tolist()
        [4.0, 8.0, 16.0]
        >>> plt.close(display.figure_)
        """
        if x not in ("bits_per_sample", "compression_ratio"):
            raise ValueError(
                f"x must be 'bits_per_sample' or 'compression_ratio', got {x!r}."
            )
        rates = np.asarray(bits_per_sample, dtype=float)
        if x == "compression_ratio":
            if n_features is None:
                raise ValueError("x='compression_ratio' needs n_features.")
            rates = float32_ratio(n_features, rates)
        display = cls(rates, scores, errors, x=x, label=label)
        display.n_features = n_features
        return display.plot(ax=ax, reference_score=reference_score)

    def plot(self, *, ax=None, reference_score=None):
        """Draw score versus rate.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            A new figure when omitted.
        reference_score : float, optional
            Drawn as a dashed horizontal line, labelled "full precision".

        Returns
        -------
        self : RateAccuracyDisplay
        """
        plt = _pyplot()
        new_figure = ax is None
        if new_figure:
            _, ax = plt.subplots(figsize=(5, 3.5))
        self.line_ = ax.errorbar(
            self.rates,
            self.scores,
            yerr=self.errors,
            fmt="-o",
            capsize=3,
            label=self.label or "quantized",
        )
        self.reference_line_ = None
        self.message_line_ = None
        if reference_score is not None:
            self.reference_line_ = ax.axhline(
                reference_score, color="black", lw=1, ls="--", label="full precision"
            )
        ax.set_xlabel(
            "bits per sample"
            if self.x == "bits_per_sample"
            else "compression ratio vs float32"
        )
        ax.set_ylabel("score")
        ax.legend(fontsize=8)
        self.ax_ = ax
        self.figure_ = ax.figure
        if new_figure:
            self.figure_.tight_layout()  # keeps the axis labels inside the canvas
        return self


def _feature_indices(features, names, max_features) -> list[int]:
    """Indices in ``names`` of ``features`` (indices or names, or one of them);
    the first ``max_features`` when None."""
    n = len(names)
    if features is None:
        if not isinstance(max_features, numbers.Integral) or max_features < 1:
            raise ValueError(f"max_features must be an int >= 1, got {max_features!r}.")
        return list(range(min(int(max_features), n)))
    if isinstance(features, (str, numbers.Integral)):
        features = [features]
    indices = []
    for f in features:
        if isinstance(f, str):
            if f not in names:
                shown = ", ".join(names[:8]) + (", ..." if n > 8 else "")
                raise ValueError(f"no feature is named {f!r}; the names are {shown}.")
            indices.append(names.index(f))
        elif isinstance(f, numbers.Integral) and not isinstance(f, bool):
            if not -n <= f < n:
                raise ValueError(f"feature index {f} is out of range for {n} features.")
            indices.append(int(f) % n)
        else:
            raise TypeError(f"features are indices (int) or names (str), got {f!r}.")
    if not indices:
        raise ValueError(
            "features is empty: give indices or names, or None for the first "
            "max_features."
        )
    return indices


def _check_same_lengths(**arrays) -> None:
    """One value per result in every array given (None: not given)."""
    lengths = {k: len(np.atleast_1d(v)) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise ValueError(f"one value per result is needed in each array, got {shown}.")


def _searched_feature_count(search) -> int:
    final, _ = final_step(search.best_estimator_)
    return int(final.n_features_in_)
