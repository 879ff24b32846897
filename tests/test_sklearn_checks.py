"""scikit-learn's own estimator checks, with fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgebm import GEBMEstimator

from .conftest import FAST

# Each entry: check name -> why it is expected to fail. Keep this list shrinking.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [GEBMEstimator(random_state=0, **FAST)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
