"""The warnings of discrete and collinear features, on which a density's likelihood degenerates."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from .conftest import FAST
from skgebm import GEBMEstimator, GEBMOutlierDetector, _gebm
from skgebm._degenerate import (
    MIN_MEAN_REPEATS,
    dequantization_widths,
    dequantized,
    discrete_spacings,
    warn_collinear_features,
    warn_discrete_features,
)
from skgebm.exceptions import CollinearFeaturesWarning, DiscreteFeaturesWarning

FEW = {**FAST, "max_iter": 2}


def _reported(function, X, category=DiscreteFeaturesWarning):
    """The warnings of ``category`` that ``function(X)`` issues."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function(X)
    return [w for w in caught if w.category is category]


def _mixed(n=200, seed=0):
    """Two continuous features and a binary one."""
    rng = np.random.RandomState(seed)
    return np.c_[rng.normal(size=(n, 2)), rng.randint(0, 2, n)]


def _summed(n=200, seed=0):
    """Three continuous features and the sum of the first two."""
    X = np.random.RandomState(seed).normal(size=(n, 3))
    return np.c_[X, X[:, 0] + X[:, 1]]


def test_a_binary_feature_is_reported_by_index_or_name():
    X = _mixed()
    (warning,) = _reported(GEBMEstimator(random_state=0, **FEW).fit, X)
    message = str(warning.message)
    assert message.startswith("1 of the 3 features") and "2 (2 values)" in message
    assert "200 rows" in message and "uniform" in message
    assert warning.filename == __file__  # the user's line, not the library's
    frame = pd.DataFrame(X, columns=["height", "weight", "smoker"])
    (warning,) = _reported(GEBMEstimator(random_state=0, **FEW).fit, frame)
    assert "'smoker' (2 values)" in str(warning.message)


def test_the_rule_is_the_mean_number_of_repeats():
    # 100 rows of 10 values repeat 10 times each: discrete; of 11 values, not
    rng = np.random.RandomState(0)
    continuous = rng.normal(size=(100, 1))
    for n_values, warns in [(10, True), (11, False), (1, True)]:
        column = rng.permutation(np.arange(100) % n_values)[:, None].astype(float)
        assert len(_reported(warn_discrete_features, np.c_[continuous, column])) == warns
    assert MIN_MEAN_REPEATS == 10


@pytest.mark.parametrize("spacing, warns", [(0.25, True), (0.15, False), (0.05, False)])
def test_a_grid_finer_than_a_flow_resolves_is_not_reported(spacing, warns):
    # a standard normal rounded to this many standard deviations: 5,000 rows repeat
    # each value over 10 times, but a flow spikes from about 0.2 on (see MIN_GAP)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(5000, 2))
    X[:, 1] = np.round(X[:, 1] / spacing) * spacing
    assert len(_reported(warn_discrete_features, X)) == warns


def test_many_discrete_features_are_counted_and_a_few_named():
    X = datasets.load_digits().data[:500]
    with pytest.warns(DiscreteFeaturesWarning) as caught:
        warn_discrete_features(X)
    message = str(caught[0].message)
    # the pixels always 0 in these rows are discrete too (1 value); 23 others have
    # values less than 0.2 standard deviations apart (a gap of 1, a deviation over 5)
    assert message.startswith("41 of the 64 features") and "and 38 more" in message


@pytest.mark.parametrize("load", [datasets.load_iris, datasets.load_wine,
                                  datasets.load_breast_cancer])
def test_rounded_measurements_are_not_reported(load):
    assert not _reported(warn_discrete_features, load().data)


def test_dequantized_features_are_not_reported():
    X = _mixed()
    X[:, 2] += np.random.RandomState(1).uniform(size=len(X))
    assert not _reported(GEBMEstimator(random_state=0, **FEW).fit, X)


@pytest.mark.parametrize(
    "X, category",
    [(_mixed(), DiscreteFeaturesWarning), (_summed(), CollinearFeaturesWarning)],
)
def test_the_warning_comes_before_training(monkeypatch, X, category):
    # a long fit can be stopped when the warning shows
    def training(*args, **kwargs):
        raise RuntimeError("training started")

    monkeypatch.setattr(_gebm, "_train_network", training)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(RuntimeError):
        warnings.simplefilter("always")
        GEBMEstimator(random_state=0, **FEW).fit(X)
    assert [w.category for w in caught] == [category]


def test_no_density_or_a_ranking_is_not_reported():
    # a generator base has no density to degenerate; a detector's scores are a ranking
    X = np.c_[_summed(), _mixed()[:, 2]]  # a sum of features and a binary one
    generator = GEBMEstimator(base="generator", random_state=0, **FEW)
    detector = GEBMOutlierDetector(n_estimators=2, random_state=0, **FEW)
    for fit in (generator.fit, detector.fit):
        for category in (DiscreteFeaturesWarning, CollinearFeaturesWarning):
            assert not _reported(fit, X, category)


def test_a_sum_of_features_is_reported_with_the_features_it_involves():
    X = _summed()
    (warning,) = _reported(GEBMEstimator(random_state=0, **FEW).fit, X, CollinearFeaturesWarning)
    message = str(warning.message)
    assert message.startswith("The 200 training rows span 3 dimensions of the 4 varying")
    assert "features 0, 1, 3 is constant" in message  # not the independent feature 2
    assert warning.filename == __file__  # the user's line, not the library's
    frame = pd.DataFrame(X, columns=["rent", "food", "age", "total"])
    fit = GEBMEstimator(random_state=0, **FEW).fit
    (warning,) = _reported(fit, frame, CollinearFeaturesWarning)
    assert "features 'rent', 'food', 'total' is constant" in str(warning.message)


def test_a_full_one_hot_group_is_reported_and_one_dropped_is_not():
    rng = np.random.RandomState(0)
    one_hot = np.eye(3)[rng.randint(0, 3, 300)]
    X = np.c_[rng.normal(size=(300, 2)), one_hot]
    (warning,) = _reported(warn_collinear_features, X, CollinearFeaturesWarning)
    assert "features 2, 3, 4 is constant" in str(warning.message)
    assert not _reported(warn_collinear_features, X[:, :-1], CollinearFeaturesWarning)


def test_fewer_rows_than_features_are_reported():
    X = np.random.RandomState(0).normal(size=(12, 20))
    (warning,) = _reported(warn_collinear_features, X, CollinearFeaturesWarning)
    assert "span 11 dimensions of the 20" in str(warning.message)
    assert "there are 12 rows for 20 varying features" in str(warning.message)


def test_a_thin_but_full_span_and_a_constant_feature_are_not_reported():
    # a dependence up to noise still has a density; a constant feature is the
    # discrete warning's (one value), not a dependence among varying features
    X = _summed()
    X[:, 3] += 1e-6 * np.random.RandomState(1).normal(size=len(X))
    assert not _reported(warn_collinear_features, X, CollinearFeaturesWarning)
    X[:, 3] = 5.0
    assert not _reported(warn_collinear_features, X, CollinearFeaturesWarning)
    assert not _reported(warn_collinear_features, np.ones((10, 2)), CollinearFeaturesWarning)


@pytest.mark.parametrize("load", [datasets.load_iris, datasets.load_wine,
                                  datasets.load_breast_cancer, datasets.load_diabetes,
                                  datasets.load_digits])
def test_scikit_learns_data_sets_span_their_features(load):
    assert not _reported(warn_collinear_features, load().data, CollinearFeaturesWarning)


def test_on_a_subspace_the_score_measures_thinness_not_the_data():
    # the reason for the warning: on the plane of a sum the score is far above that
    # of the two free features (about -2.8 nats), and a step off the plane costs nats
    X = _summed(n=400, seed=1)
    with pytest.warns(CollinearFeaturesWarning):
        est = GEBMEstimator(random_state=0, **FEW).fit(X[:, [0, 1, 3]])
    X_test = _summed(n=200, seed=2)[:, [0, 1, 3]]
    assert est.score(X_test) > 0
    assert est.score(X_test + [0, 0, 0.01]) < est.score(X_test) - 5


@pytest.mark.slow
def test_the_likelihood_on_a_binary_feature_grows_past_that_of_continuous_data():
    # the reason for the warning: the flow spikes on the flag's two values
    X = _mixed(n=2000)
    with pytest.warns(DiscreteFeaturesWarning):
        est = GEBMEstimator(random_state=0, max_iter=1000).fit(X)
    continuous = GEBMEstimator(random_state=0, max_iter=1000).fit(X[:, :2])
    # the binary flag adds log 2 of information at most, yet the score rises by nats
    assert est.score(X) > continuous.score(X[:, :2]) + 2


def test_discrete_spacings_are_the_median_gaps_of_discrete_features():
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=500), 3 * rng.randint(0, 6, 500), np.full(500, 2.0)]
    spacings = discrete_spacings(X)
    assert np.isnan(spacings[0])  # continuous
    assert spacings[1] == 3.0
    assert spacings[2] == 0.0  # constant


def test_dequantized_spreads_grid_features_over_their_cells_only():
    rng = np.random.RandomState(0)
    n = 2000
    counts = rng.randint(0, 8, n).astype(float)  # a grid of spacing 1, std 2.3
    rare_flag = (rng.random_sample(n) < 0.01).astype(float)  # 1 is 10 std from 0
    continuous = rng.normal(size=n)
    constant = np.ones(n)
    X = np.c_[continuous, counts, rare_flag, constant]
    widths = dequantization_widths(X)
    assert np.array_equal(widths, [0.0, 1.0, 0.0, 0.0])
    Z, Z_other = dequantized(X, widths, [0, 1])
    assert np.array_equal(Z[:, [0, 2, 3]], X[:, [0, 2, 3]])
    noise = Z[:, 1] - X[:, 1]
    assert np.all(np.abs(noise) <= 0.5) and noise.std() == pytest.approx(12**-0.5, rel=0.05)
    assert np.array_equal(np.round(Z[:, 1]), X[:, 1])  # each value stays in its cell
    assert np.array_equal(dequantized(X, widths, [0])[0], Z)
    assert not np.array_equal(Z_other, Z)
    assert not np.any(dequantization_widths(X[:, [0, 2]]))
    assert dequantized(X, np.zeros(4), [0])[0] is X


def test_spacings_of_features_whose_variance_overflows_warn_nothing():
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=300) * 1e200, rng.randint(0, 3, 300) * 1e200]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(discrete_spacings(X)).all()  # not discrete at an infinite spread
        assert not np.any(dequantization_widths(X))
