"""Visual diagnostics in scikit-learn's Display style (needs matplotlib).

- :class:`ThresholdDisplay`: each feature's histogram with the learned thresholds
  over it, and the initial thresholds for comparison.
- :class:`RateAccuracyDisplay`: score versus bits per sample (or compression ratio),
  from a ``GridSearchCV`` over ``n_bits`` or from a plain table.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._init import initial_thresholds
from ._packing import bytes_per_row


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

    Create it with :meth:`from_estimator`.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One per plotted feature.
    figure_ : matplotlib Figure
    learned_lines_, initial_lines_ : list of list of Line2D
        Per feature, the vertical lines drawn at the thresholds.
    """

    def __init__(self, features, values, learned, initial, names, widths):
        self.features = features
        self.values = values
        self.learned = learned
        self.initial = initial
        self.names = names
        self.widths = widths

    @classmethod
    def from_estimator(cls, estimator, X, features=None, *, ax=None, bins=50):
        """Plot the chosen features of ``X`` with ``estimator``'s thresholds.

        Parameters
        ----------
        estimator : fitted SoftQuantizer
        X : array-like of shape (n_samples, n_features)
            Readings to histogram, usually the training data. The initial
            thresholds are computed from it as at the start of ``fit``.
        features : list of int or str, optional
            Indices or names of the features to plot (default: up to the first 6).
        ax : matplotlib Axes or array of Axes, optional
            One Axes per feature; a new figure when omitted.
        bins : int, default=50

        Returns
        -------
        display : ThresholdDisplay
        """
        check_is_fitted(estimator, "thresholds_")
        X_checked = estimator._validate_readings(X, reset=False)
        if hasattr(estimator, "feature_names_in_"):
            names = [str(n) for n in estimator.feature_names_in_]
        else:
            names = [f"x{j}" for j in range(estimator.n_features_in_)]
        if features is None:
            features = list(range(min(6, len(names))))
        indices = [names.index(f) if isinstance(f, str) else int(f) for f in features]
        learned, initial, values = [], [], []
        for j in indices:
            column = X_checked[:, j].astype(np.float64)
            k = 2 ** int(estimator.n_bits_[j]) - 1
            values.append(column)
            learned.append(estimator.thresholds_[j])
            initial.append(initial_thresholds(column, k, estimator.threshold_init))
        display = cls(
            indices,
            values,
            learned,
            initial,
            [names[j] for j in indices],
            [int(estimator.n_bits_[j]) for j in indices],
        )
        return display.plot(ax=ax, bins=bins)

    def plot(self, *, ax=None, bins=50):
        """Draw the histograms; returns ``self``."""
        plt = _pyplot()
        n = len(self.features)
        if ax is None:
            cols = min(3, n)
            rows = -(-n // cols)
            fig, ax = plt.subplots(
                rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False
            )
            for extra in ax.ravel()[n:]:
                extra.set_visible(False)
        axes = np.asarray(ax, dtype=object).ravel()[:n]
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
            a.set_title(f"{name} ({width} bit{': not sent' if width == 0 else ''})")
        # The legend goes on the first panel with lines (width-0 panels have none).
        for a, learned, initial in zip(
            axes, self.learned_lines_, self.initial_lines_, strict=True
        ):
            if learned:
                a.legend([learned[0], initial[0]], ["learned", "initial"], fontsize=8)
                break
        self.axes_ = axes
        self.figure_ = axes[0].figure
        if ax is None:
            self.figure_.tight_layout()  # after the titles, so that none overlap
        return self


class RateAccuracyDisplay:
    """Score versus rate: bits per sample or compression ratio.

    Create it with :meth:`from_cv_results` or :meth:`from_results`.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : ErrorbarContainer
    reference_line_ : Line2D or None
    """

    def __init__(self, rates, scores, errors=None, *, x="bits_per_sample", label=None):
        order = np.argsort(rates)
        self.rates = np.asarray(rates, dtype=float)[order]
        self.scores = np.asarray(scores, dtype=float)[order]
        self.errors = None if errors is None else np.asarray(errors, dtype=float)[order]
        self.x = x
        self.label = label

    @classmethod
    def from_cv_results(
        cls, search, *, reference_score=None, x="bits_per_sample", ax=None, label=None
    ):
        """From a fitted ``GridSearchCV`` (or similar) whose grid varies ``n_bits``.

        Parameters
        ----------
        search : fitted search object with ``cv_results_`` and ``n_features_in_``
            The parameter may be ``n_bits`` or ``<step>__n_bits`` in a Pipeline.
        reference_score : float, optional
            Drawn as a horizontal line, e.g. the full-precision score.
        x : {"bits_per_sample", "compression_ratio"}
        """
        results = search.cv_results_
        keys = [k for k in results if k == "param_n_bits" or k.endswith("__n_bits")]
        if not keys:
            raise ValueError("the search's grid has no n_bits parameter to plot.")
        n_features = _searched_feature_count(search)
        widths = results[keys[0]]
        n_bytes = np.array(
            [
                bytes_per_row(np.broadcast_to(np.asarray(w), (n_features,)))
                for w in widths
            ]
        )
        display = cls.from_results(
            8 * n_bytes,
            results["mean_test_score"],
            results["std_test_score"],
            n_features=n_features,
            reference_score=reference_score,
            x=x,
            ax=ax,
            label=label,
        )
        return display

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

        ``x="compression_ratio"`` needs ``n_features`` (the float32 size is
        ``32 * n_features`` bits).
        """
        if x not in ("bits_per_sample", "compression_ratio"):
            raise ValueError(
                f"x must be 'bits_per_sample' or 'compression_ratio', got {x!r}."
            )
        rates = np.asarray(bits_per_sample, dtype=float)
        if x == "compression_ratio":
            if n_features is None:
                raise ValueError("x='compression_ratio' needs n_features.")
            rates = 32 * n_features / rates
        display = cls(rates, scores, errors, x=x, label=label)
        return display.plot(ax=ax, reference_score=reference_score)

    def plot(self, *, ax=None, reference_score=None):
        """Draw score versus rate; returns ``self``."""
        plt = _pyplot()
        if ax is None:
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
        return self


def _searched_feature_count(search) -> int:
    estimator = search.best_estimator_
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    return int(final.n_features_in_)
