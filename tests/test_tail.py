"""The heavy-tailed component mixed into the density (tail_weight)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.covariance import ledoit_wolf
from sklearn.datasets import make_moons

from .conftest import FAST
from skgebm import GEBMEstimator, GEBMOutlierDetector
from skgebm._tail import fit_tail, sample_tail, tail_log_density


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.standard_t(3, size=(300, 2)) @ [[2.0, 1.0], [0.0, 0.5]] + [10.0, -5.0]
    return X


@pytest.fixture(scope="module")
def fitted(data):
    return GEBMEstimator(random_state=0, **FAST).fit(data)


def _cauchy(estimator):
    location, tril = estimator._tail_location, estimator._tail_scale_tril
    return stats.multivariate_t(location, tril @ tril.T, df=1)


def test_the_tail_is_a_cauchy_at_the_rows_mean_with_their_shrunk_covariance(data):
    location, tril = fit_tail(data)
    np.testing.assert_allclose(location, data.mean(0))
    covariance = tril @ tril.T
    shrunk = ledoit_wolf(data)[0]
    ridge = 1e-3 * np.trace(shrunk) / 2
    np.testing.assert_allclose(covariance, shrunk + ridge * np.eye(2), rtol=1e-12)
    points = np.array([[0.0, 0.0], [10.0, -5.0], [1e4, 3e3]])
    expected = stats.multivariate_t(location, covariance, df=1).logpdf(points)
    np.testing.assert_allclose(tail_log_density(points, location, tril), expected, rtol=1e-10)


def test_the_tail_has_a_scale_with_constant_features_and_fewer_rows_than_features():
    rng = np.random.RandomState(0)
    some_constant = np.c_[rng.normal(size=(50, 3)), np.full(50, 7.0)]
    all_constant = np.full((10, 3), 2.0)
    wide = rng.normal(size=(5, 20))
    for X in (some_constant, all_constant, wide):
        location, tril = fit_tail(X)
        assert np.all(np.diag(tril) > 0)
        assert np.all(np.isfinite(tail_log_density(X, location, tril)))
    np.testing.assert_array_equal(fit_tail(all_constant)[1], np.eye(3))


def test_tail_draws_follow_the_cauchy():
    location, tril = np.array([1.0, -2.0]), np.array([[2.0, 0.0], [1.0, 0.5]])
    generator = torch.Generator().manual_seed(0)
    X = sample_tail(20000, location, tril, generator)
    standard = np.linalg.solve(tril, (X - location).T).T
    # each standardized coordinate is a standard Cauchy: quartiles at -1 and 1
    for column in standard.T:
        assert stats.kstest(column, stats.cauchy.cdf).pvalue > 0.01
    again = sample_tail(20000, location, tril, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(X, again)


def test_auto_weight_is_one_over_the_rows_plus_one(fitted, data):
    assert fitted.tail_weight_ == 1 / (len(data) + 1)
    estimator = GEBMEstimator(tail_weight=0.25, random_state=0, **FAST).fit(data)
    assert estimator.tail_weight_ == 0.25


@pytest.mark.parametrize("weight", ["auto", 0.3])
def test_scores_are_the_log_density_of_the_mixture_with_the_tail(fitted, data, weight):
    estimator = fitted.set_params(tail_weight=0)
    gebm = estimator.score_samples(data)
    estimator.set_params(tail_weight=weight)
    w = estimator.tail_weight_
    jacobian = np.log(estimator.scale_).sum()
    tail = _cauchy(estimator).logpdf((data - estimator.location_) / estimator.scale_) - jacobian
    expected = np.log((1 - w) * np.exp(gebm) + w * np.exp(tail))
    np.testing.assert_allclose(estimator.score_samples(data), expected, rtol=1e-10)
    fitted.set_params(tail_weight="auto")


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (8, 2), elements=st.floats(-1e6, 1e6)))
def test_the_tail_costs_at_most_log_one_minus_its_weight(fitted, points):
    fitted.set_params(tail_weight=0)
    gebm = fitted.score_samples(points)
    fitted.set_params(tail_weight=0.01)
    mixture = fitted.score_samples(points)
    fitted.set_params(tail_weight="auto")
    assert np.all(mixture >= gebm + np.log1p(-0.01) - 1e-9)
    assert np.all(np.isfinite(mixture))


def test_far_points_lose_a_logarithm_not_a_square(fitted, data):
    direction = np.array([0.6, 0.8])
    center = data.mean(0)
    scores = fitted.score_samples(center + np.outer([1e3, 1e6], direction))
    # a two-dimensional Cauchy decays as r^-3: 3 log(1000) nats per factor 1,000
    assert scores[0] - scores[1] == pytest.approx(3 * np.log(1e3), rel=1e-3)
    without = fitted.set_params(tail_weight=0).score_samples([center + 1e3 * direction])
    fitted.set_params(tail_weight="auto")
    assert without[0] < scores[0] - 1e3


def test_samples_come_from_the_mixture(fitted):
    fitted.set_params(tail_weight=0)
    gebm = fitted.sample(2000, random_state=0)
    fitted.set_params(tail_weight=0.5)
    mixture = fitted.sample(2000, random_state=0)
    fitted.set_params(tail_weight="auto")
    kept = np.all(mixture == gebm, axis=1)
    # the chains run the same; half of their samples are replaced by the tail's
    assert abs(kept.mean() - 0.5) < 4 * np.sqrt(0.25 / 2000)
    replaced = mixture[~kept]
    standardized = (replaced - fitted.location_) / fitted.scale_
    tril = fitted._tail_scale_tril
    squared = np.square(np.linalg.solve(tril, (standardized - fitted._tail_location).T)).sum(0)
    # a bivariate Cauchy's squared distance over 2 is F(2, 1)-distributed
    assert stats.kstest(squared / 2, stats.f(2, 1).cdf).pvalue > 0.01


def test_a_generator_base_has_no_tail():
    X, _ = make_moons(200, noise=0.1, random_state=0)
    estimator = GEBMEstimator(base="generator", random_state=0, **FAST).fit(X)
    assert estimator.tail_weight_ == 0
    ratio = estimator.score_samples(X)
    np.testing.assert_array_equal(estimator.set_params(tail_weight=0.5).score_samples(X), ratio)


@pytest.mark.parametrize("weight", [1.0, -0.1, "heavy"])
def test_bad_tail_weights_are_refused_at_fit_and_at_inference(fitted, data, weight):
    with pytest.raises(ValueError, match="tail_weight"):
        GEBMEstimator(tail_weight=weight, **FAST).fit(data)
    fitted.set_params(tail_weight=weight)
    try:
        with pytest.raises(ValueError, match="tail_weight"):
            fitted.score_samples(data)
        with pytest.raises(ValueError, match="tail_weight"):
            fitted.sample(3)
    finally:
        fitted.set_params(tail_weight="auto")


def test_the_detector_ranks_without_the_tail_unless_asked(data):
    detector = GEBMOutlierDetector(n_estimators=2, random_state=0, **FAST).fit(data)
    assert detector.tail_weight_ == 0
    assert all(member.tail_weight_ == 0 for member in detector.estimators_)
    plain = detector.score_samples(data)
    detector.set_params(tail_weight="auto")
    assert detector.tail_weight_ == 1 / (detector.support_.sum() + 1)  # rows trained on
    members = np.array([member.score_samples(data) for member in detector._members()])
    mixed = detector.score_samples(data)
    np.testing.assert_allclose(mixed, np.log(np.exp(members).mean(0)), rtol=1e-12)
    assert np.all(mixed >= plain + np.log1p(-detector.tail_weight_) - 1e-9)
