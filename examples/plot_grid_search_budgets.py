"""
Grid search over bit budgets, and the rate-accuracy plot
========================================================

With ``n_bits="auto"`` the estimator spends a total ``bit_budget`` where it helps
most. A :class:`~sklearn.model_selection.GridSearchCV` over budgets with
:func:`~sklearn_bsq.rate_scoring` records the bits per sample beside the score, and
:class:`~sklearn_bsq.RateAccuracyDisplay` plots one against the other, next to the
float32 network.
"""

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklearn_bsq import (
    FullPrecisionMLPClassifier,
    RateAccuracyDisplay,
    SoftQuantizerClassifier,
    rate_scoring,
)

X, y = load_breast_cancer(return_X_y=True)  # 30 features
search = GridSearchCV(
    SoftQuantizerClassifier(n_bits="auto", max_epochs=20, random_state=0),
    {"bit_budget": [8, 16, 32, 64]},
    scoring=rate_scoring(),
    refit="score",
    cv=3,
).fit(X, y)
float32 = cross_val_score(
    FullPrecisionMLPClassifier(max_epochs=20, random_state=0), X, y, cv=3
).mean()

for budget, bits, score in zip(
    search.cv_results_["param_bit_budget"],
    search.cv_results_["mean_test_bits_per_sample"],
    search.cv_results_["mean_test_score"],
    strict=True,
):
    print(
        f"budget {budget:3d} bits -> {bits:3.0f} bits per sample, accuracy {score:.3f}"
    )
print(f"float32 ({32 * X.shape[1]} bits per sample): accuracy {float32:.3f}")
print("chosen:", search.best_params_, "widths:", search.best_estimator_.n_bits_)

display = RateAccuracyDisplay.from_cv_results(
    search, reference_score=float32, label="learned widths"
)
display.ax_.set_title("breast cancer, 3-fold CV")
display.ax_.figure.tight_layout()
