"""Awkward data: generated arrays, odd shapes, scales and dtypes, and bounded memory."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import skgebm._gebm
from skgebm import GEBMEstimator

# generated and awkward arrays repeat values (constant columns, integers) or have more
# features than rows: fit says so (tests/test_degenerate.py), which these tests of
# finite results do not check
pytestmark = [
    pytest.mark.filterwarnings("ignore::skgebm.exceptions.DiscreteFeaturesWarning"),
    pytest.mark.filterwarnings("ignore::skgebm.exceptions.CollinearFeaturesWarning"),
]


#: Settings for many fits per test: a few steps of tiny networks.
TINY = dict(
    max_iter=5,
    batch_size=16,
    n_burst_steps=1,
    base_hidden_layer_sizes=(8,),
    energy_hidden_layer_sizes=(8,),
    n_flow_transforms=1,
    n_partition_samples=256,
    n_mcmc_steps=2,
    device="cpu",
    random_state=0,
)

finite_data = st.tuples(st.integers(2, 40), st.integers(1, 4)).flatmap(
    lambda shape: arrays(
        np.float64,
        shape,
        elements=st.floats(-1e12, 1e12, allow_nan=False, allow_subnormal=False),
    )
)


def _check_fitted_model(est, X):
    scores = est.score_samples(X)
    samples = est.sample(7, random_state=0)
    assert scores.shape == (len(X),) and np.all(np.isfinite(scores))
    assert samples.shape == (7, X.shape[1]) and np.all(np.isfinite(samples))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=finite_data, base=st.sampled_from(["flow", "gaussian", "generator"]))
def test_any_finite_array_fits_and_scores(X, base):
    _check_fitted_model(GEBMEstimator(base=base, **TINY).fit(X), X)


@pytest.mark.parametrize(
    "make_X",
    [
        pytest.param(lambda rng: np.c_[rng.normal(size=50), np.full(50, 3.0)], id="constant"),
        pytest.param(lambda rng: np.full((30, 3), -2.5), id="all-constant"),
        pytest.param(lambda rng: np.repeat(rng.normal(size=(5, 2)), 10, axis=0), id="dupes"),
        pytest.param(lambda rng: rng.normal(size=(60, 1)), id="one-feature"),
        pytest.param(lambda rng: rng.normal(size=(40, 500)), id="500-features"),
        pytest.param(lambda rng: 1e8 + rng.normal(size=(50, 2)), id="around-1e8"),
        pytest.param(lambda rng: 1e-8 * rng.normal(size=(50, 2)), id="around-1e-8"),
        pytest.param(lambda rng: rng.randint(0, 5, size=(50, 3)), id="integers"),
        pytest.param(lambda rng: rng.normal(size=(50, 2)).astype(np.float32), id="float32"),
    ],
)
def test_awkward_data_fits_and_scores(make_X):
    X = make_X(np.random.RandomState(0))
    _check_fitted_model(GEBMEstimator(**TINY).fit(X), X)


@pytest.mark.parametrize("scale", [1e-17, 1e-8, 1e8])  # 1e-17: below float64's eps
def test_change_of_units_shifts_scores_by_the_log_jacobian(scale):
    X = np.random.RandomState(0).normal(size=(80, 2))
    est = GEBMEstimator(**TINY).fit(X)
    scaled = GEBMEstimator(**TINY).fit(X * scale)
    np.testing.assert_allclose(
        scaled.score_samples(X * scale), est.score_samples(X) - 2 * np.log(scale), atol=1e-3
    )
    np.testing.assert_allclose(
        scaled.sample(5, random_state=0), est.sample(5, random_state=0) * scale, rtol=1e-3
    )


@pytest.mark.parametrize("base", ["flow", "generator"])
def test_points_near_the_float_range_score_without_nan(base, recwarn):
    # standardizing and the networks' squares would overflow to NaN out there
    X = np.random.RandomState(0).normal(size=(80, 2))
    est = GEBMEstimator(base=base, **TINY).fit(X)
    far = np.array([[-1.7e308, 0.0], [1e300, 1e300], [1.7e308, -1.7e308]])
    for temperature in (1.0, float("inf")):
        scores = est.set_params(temperature=temperature).score_samples(far)
        assert not np.isnan(scores).any()
        if base == "flow":
            assert np.all(scores < est.score_samples(X).min())
    assert not recwarn.list


@pytest.mark.parametrize("scale, standardize", [(1e300, True), (1e300, False), (1e39, False)])
def test_training_data_beyond_the_networks_range_are_named(scale, standardize, recwarn):
    # a variance that overflows float64, or raw values beyond float32's range: a clear
    # error naming the features, not the NaN check of a later computation
    X = np.random.RandomState(0).uniform(size=(50, 3))
    X[:, 1] *= scale
    with pytest.raises(ValueError, match=r"Features \[1\] of X are too large"):
        GEBMEstimator(standardize=standardize, **TINY).fit(X)
    assert not recwarn.list
    # standardized, 1e39 fits: float32 sees standard deviations, not the units
    if scale < 1e300:
        GEBMEstimator(**TINY).fit(X)


def test_scores_and_samples_are_computed_in_chunks(monkeypatch):
    X = np.random.RandomState(0).normal(size=(100, 2))
    est = GEBMEstimator(**{**TINY, "sampler": "ula"}).fit(X)
    whole_scores = est.score_samples(X)
    monkeypatch.setattr(skgebm._gebm, "_CHUNK", 7)
    monkeypatch.setattr(skgebm._gebm, "_MCMC_CHUNK", 16)
    np.testing.assert_allclose(est.score_samples(X), whole_scores, rtol=1e-12)
    samples, diagnostics = est.sample(40, random_state=0, return_diagnostics=True)
    assert samples.shape == (40, 2) and np.all(np.isfinite(samples))
    assert diagnostics is not None


def test_feature_names_are_checked_at_score_time():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.RandomState(0).normal(size=(50, 2)), columns=["x", "y"])
    est = GEBMEstimator(**TINY).fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        est.score_samples(frame[["y", "x"]])
    with pytest.warns(UserWarning, match="feature names"):
        est.score_samples(frame.to_numpy())
