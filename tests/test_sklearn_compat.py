"""The scikit-learn estimator check suite, plus the meta-estimator uses we promise."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_bsq import SoftQuantizer, SoftQuantizerClassifier, SoftQuantizerRegressor

# Small networks and few epochs keep the suite fast; the check datasets are tiny.
_FAST = dict(n_bits=3, hidden_layer_sizes=(32,), max_epochs=60, batch_size=32, lr=1e-2)
# Learned widths: a wide pass, the bit allocation and the final fit in every check.
_AUTO = {**_FAST, "n_bits": "auto", "bit_budget": 6}


@parametrize_with_checks(
    [
        SoftQuantizer(**_FAST),
        SoftQuantizerClassifier(**_FAST),
        SoftQuantizerRegressor(**_FAST),
        SoftQuantizerClassifier(**_AUTO),
        SoftQuantizerRegressor(**_AUTO),
    ]
)
def test_sklearn_check_suite(estimator, check):
    check(estimator)
