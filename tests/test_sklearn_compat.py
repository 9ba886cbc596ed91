"""The scikit-learn estimator check suite, plus the meta-estimator uses we promise."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_bsq import SoftQuantizer, SoftQuantizerClassifier, SoftQuantizerRegressor

# Small networks and few epochs keep the suite fast; the check datasets are tiny.
_FAST = dict(n_bits=3, hidden_layer_sizes=(32,), max_epochs=60, batch_size=32, lr=1e-2)


@parametrize_with_checks(
    [
        SoftQuantizer(**_FAST),
        SoftQuantizerClassifier(**_FAST),
        SoftQuantizerRegressor(**_FAST),
    ]
)
def test_sklearn_check_suite(estimator, check):
    check(estimator)
