"""Tests for skgebm.datasets: shapes, reproducibility, validation, and
numerical agreement between samplers, log-densities and the FFJORD
definitions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.datasets import make_moons

from skgebm import datasets
from skgebm.datasets import (
    checkerboard_log_density,
    eight_gaussians_log_density,
    make_checkerboard,
    make_eight_gaussians,
    make_pinwheel,
    make_rings,
    make_two_moons,
    make_two_spirals,
    rings_log_density,
    two_moons_log_density,
)

GENERATORS = [
    make_eight_gaussians,
    make_checkerboard,
    make_two_spirals,
    make_pinwheel,
    make_rings,
    make_two_moons,
]

ALPHA = 1e-3  # significance level of the (fixed-seed) goodness-of-fit tests

RADIUS = 4.0 / np.sqrt(2.0)
STD = 0.5 / np.sqrt(2.0)


def _grid(lo, hi, n):
    """Midpoints of an n x n grid of cells over [lo, hi]^2, and cell area."""
    h = (hi - lo) / n
    c = lo + h * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(c, c, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()]), h * h


# --------------------------------------------------------------------------
# generic behaviour
# --------------------------------------------------------------------------
def test_all_is_complete():
    prefixes = ("make_", "checkerboard", "eight", "rings", "two_moons")
    public = {n for n in dir(datasets) if n.startswith(prefixes)}
    assert set(datasets.__all__) == public
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("n_samples", [1, 2, 7, 1000])
def test_shape_dtype_finite(gen, n_samples):
    X = gen(n_samples, random_state=0)
    assert isinstance(X, np.ndarray)
    assert X.shape == (n_samples, 2)
    assert X.dtype == np.float64
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("gen", GENERATORS)
def test_default_n_samples(gen):
    assert gen(random_state=0).shape == (1000, 2)


@pytest.mark.parametrize("gen", GENERATORS)
def test_determinism_and_seeds(gen):
    X1 = gen(200, random_state=42)
    X2 = gen(200, random_state=42)
    np.testing.assert_array_equal(X1, X2)
    X3 = gen(200, random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(X1, X3)
    assert not np.allclose(X1, gen(200, random_state=43))


@pytest.mark.parametrize("gen", GENERATORS)
def test_random_state_instance_is_advanced(gen):
    rng = np.random.RandomState(0)
    assert not np.allclose(gen(100, random_state=rng), gen(100, random_state=rng))


@pytest.mark.parametrize("gen", GENERATORS)
def test_rows_are_shuffled(gen):
    # No generator returns its classes in blocks: the first and second half
    # have (roughly) the same mean.
    X = gen(4000, random_state=0)
    spread = X.std(axis=0)
    diff = np.abs(X[:2000].mean(axis=0) - X[2000:].mean(axis=0))
    assert np.all(diff < 0.2 * spread)


# --------------------------------------------------------------------------
# parameter validation
# --------------------------------------------------------------------------
BAD_VALUES = [
    (make_eight_gaussians, {"n_samples": 0}, "n_samples"),
    (make_eight_gaussians, {"radius": 0.0}, "radius"),
    (make_eight_gaussians, {"std": -1.0}, "std"),
    (make_eight_gaussians, {"std": np.inf}, "std"),
    (make_checkerboard, {"n_samples": -3}, "n_samples"),
    (make_two_spirals, {"n_samples": 0}, "n_samples"),
    (make_two_spirals, {"noise": -0.1}, "noise"),
    (make_pinwheel, {"n_samples": 0}, "n_samples"),
    (make_pinwheel, {"n_arms": 0}, "n_arms"),
    (make_rings, {"n_samples": 0}, "n_samples"),
    (make_rings, {"n_rings": 0}, "n_rings"),
    (make_rings, {"noise": -1.0}, "noise"),
    (make_two_moons, {"n_samples": 0}, "n_samples"),
    (make_two_moons, {"noise": -0.5}, "noise"),
]


@pytest.mark.parametrize("gen, kwargs, name", BAD_VALUES)
def test_bad_values_raise_value_error(gen, kwargs, name):
    with pytest.raises(ValueError, match=name):
        gen(**kwargs)


@pytest.mark.parametrize(
    "gen, kwargs, name",
    [
        (make_eight_gaussians, {"n_samples": 10.5}, "n_samples"),
        (make_pinwheel, {"n_arms": 2.0}, "n_arms"),
        (make_rings, {"noise": "big"}, "noise"),
    ],
)
def test_bad_types_raise_type_error(gen, kwargs, name):
    with pytest.raises(TypeError, match=name):
        gen(**kwargs)


LOG_DENSITIES = [
    eight_gaussians_log_density,
    checkerboard_log_density,
    rings_log_density,
    two_moons_log_density,
]


def test_log_density_validation():
    for f in LOG_DENSITIES:
        with pytest.raises(ValueError, match="shape"):
            f(np.zeros((5, 3)))
        with pytest.raises(ValueError, match="shape"):
            f(np.zeros(2))
    with pytest.raises(ValueError, match="std"):
        eight_gaussians_log_density(np.zeros((1, 2)), std=0.0)
    with pytest.raises(ValueError, match="radius"):
        eight_gaussians_log_density(np.zeros((1, 2)), radius=-1.0)
    for f in (rings_log_density, two_moons_log_density):  # no density without noise
        with pytest.raises(ValueError, match="noise"):
            f(np.zeros((1, 2)), noise=0.0)
    with pytest.raises(ValueError, match="n_rings"):
        rings_log_density(np.zeros((1, 2)), n_rings=0)


def test_log_densities_are_nan_at_nan_points():
    """NaN in, NaN out for every log-density: a NaN point is not outside the support."""
    X = np.array([[np.nan, 1.0], [1.0, np.nan], [1.0, 1.0]])
    for f in LOG_DENSITIES:
        logp = f(X)
        assert np.isnan(logp[:2]).all(), f.__name__
        assert logp[2] == f(X[2:])[0]


def test_log_densities_are_minus_infinity_at_infinite_points(recwarn):
    X = np.array([[np.inf, 0.0], [0.0, -np.inf]])
    for f in LOG_DENSITIES:
        assert np.all(f(X) == -np.inf), f.__name__
    assert not recwarn.list  # no warning of a log of zero


def test_zero_noise_allowed():
    for gen in (make_two_spirals, make_rings, make_two_moons):
        assert gen(10, noise=0.0, random_state=0).shape == (10, 2)


# --------------------------------------------------------------------------
# eight Gaussians
# --------------------------------------------------------------------------
def test_eight_gaussians_log_density_values():
    # Far from the other components, the density at a centre is that of one
    # component with weight 1/8.
    X = np.array([[RADIUS, 0.0], [0.0, -RADIUS]])
    expected = -np.log(8.0) - np.log(2 * np.pi * STD**2)
    np.testing.assert_allclose(eight_gaussians_log_density(X), expected, atol=1e-9)
    # direct sum of Gaussian pdfs at arbitrary points
    pts = np.random.RandomState(0).uniform(-4, 4, size=(50, 2))
    angles = np.arange(8) * np.pi / 4
    centers = RADIUS * np.column_stack([np.cos(angles), np.sin(angles)])
    dens = sum(
        stats.multivariate_normal(c, STD**2 * np.eye(2)).pdf(pts) for c in centers
    ) / 8
    np.testing.assert_allclose(
        np.exp(eight_gaussians_log_density(pts)), dens, rtol=1e-10, atol=1e-300
    )
    # Defaults reproduce FFJORD's constants (4 / 1.414 and 0.5 / 1.414).
    np.testing.assert_allclose(RADIUS, 4 / 1.414, rtol=2e-4)
    np.testing.assert_allclose(STD, 0.5 / 1.414, rtol=2e-4)


def test_eight_gaussians_log_density_no_underflow():
    logp = eight_gaussians_log_density([[100.0, 100.0]])
    assert np.isfinite(logp).all()


@pytest.mark.parametrize("radius, std", [(RADIUS, STD), (2.0, 0.3)])
def test_eight_gaussians_density_integrates_to_one(radius, std):
    G, area = _grid(-6.0, 6.0, 800)
    logp = eight_gaussians_log_density(G, radius=radius, std=std)
    integral = np.exp(logp).sum() * area
    assert abs(integral - 1.0) < 1e-3


def test_eight_gaussians_samples_match_density():
    n = 20000
    X = make_eight_gaussians(n, random_state=0)
    logp = eight_gaussians_log_density(X)

    # 1. Mean log-density over samples ~= -H, with the differential entropy H
    #    computed independently by quadrature of -p log p on a fine grid.
    G, area = _grid(-6.5, 6.5, 800)
    logp_grid = eight_gaussians_log_density(G)
    entropy = -(np.exp(logp_grid) * logp_grid).sum() * area
    se = logp.std(ddof=1) / np.sqrt(n)
    assert abs(logp.mean() + entropy) < 4 * se

    #    ... and with an independent Monte Carlo estimate (second seed).
    logp2 = eight_gaussians_log_density(make_eight_gaussians(n, random_state=1))
    se2 = np.sqrt(logp.var(ddof=1) / n + logp2.var(ddof=1) / n)
    assert abs(logp.mean() - logp2.mean()) < 4 * se2

    # 2. Moments: E[x] = 0, E[x x^T] = (radius^2 / 2 + std^2) I.
    second = X.T @ X / n
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(
        second, (RADIUS**2 / 2 + STD**2) * np.eye(2), atol=0.08
    )

    # 3. Component frequencies ~= 1/8 (chi-square on nearest-centre labels).
    k = np.round(np.arctan2(X[:, 1], X[:, 0]) / (np.pi / 4)).astype(int) % 8
    counts = np.bincount(k, minlength=8)
    assert stats.chisquare(counts).pvalue > ALPHA

    # 4. Within-component spread: residuals to the nearest centre have the
    #    stated std (separation is ~6 std, so misassignment is negligible).
    angles = k * np.pi / 4
    resid = X - RADIUS * np.column_stack([np.cos(angles), np.sin(angles)])
    np.testing.assert_allclose(resid.std(axis=0), STD, rtol=0.02)


def test_eight_gaussians_custom_parameters():
    X = make_eight_gaussians(5000, radius=10.0, std=0.1, random_state=0)
    r = np.linalg.norm(X, axis=1)
    assert abs(r.mean() - 10.0) < 0.01
    assert abs(r.std() - 0.1) < 0.01


# --------------------------------------------------------------------------
# checkerboard
# --------------------------------------------------------------------------
def test_checkerboard_log_density_values():
    logp = checkerboard_log_density(
        [[1.0, 1.0], [-3.0, -3.0], [-1.0, 1.0], [1.0, -1.0], [5.0, 1.0], [0.5, 4.5]]
    )
    c = -np.log(32.0)
    np.testing.assert_array_equal(logp, [c, c, -np.inf, -np.inf, -np.inf, -np.inf])


def test_checkerboard_support_matches_ffjord():
    # FFJORD, in units of the square side: x1 ~ U[-2, 2) and
    # x2 = U[0, 1) - 2 B + (floor(x1) mod 2), B ~ Bernoulli(1/2).
    G, _ = _grid(-5.0, 5.0, 500)
    u = G / 2.0
    v = u[:, 1] - np.floor(u[:, 0]) % 2
    ffjord_inside = (
        (u[:, 0] >= -2)
        & (u[:, 0] < 2)
        & (((v >= 0) & (v < 1)) | ((v >= -2) & (v < -1)))
    )
    assert ffjord_inside.any() and not ffjord_inside.all()
    np.testing.assert_array_equal(
        np.isfinite(checkerboard_log_density(G)), ffjord_inside
    )


def test_checkerboard_density_integrates_to_one():
    G, area = _grid(-6.0, 6.0, 800)
    logp = checkerboard_log_density(G)
    finite = np.isfinite(logp)
    assert np.all(logp[finite] == -np.log(32.0))
    # fraction of grid area inside the support, times the density 1/32
    integral = finite.sum() * area / 32.0
    assert abs(integral - 1.0) < 1e-2
    # with a grid aligned on the squares the midpoint rule is exact
    G, area = _grid(-6.0, 6.0, 600)
    integral = np.exp(checkerboard_log_density(G)).sum() * area
    assert integral == pytest.approx(1.0, abs=1e-12)


def test_checkerboard_samples_on_support_and_uniform():
    n = 16000
    X = make_checkerboard(n, random_state=0)
    assert np.all(np.isfinite(checkerboard_log_density(X)))
    assert np.all(np.abs(X) <= 4.0)

    # the 8 squares get equal counts
    cells = np.floor(X / 2.0).astype(int) + 2  # in {0, 1, 2, 3}
    square = cells[:, 0] * 4 + cells[:, 1]
    counts = np.bincount(square, minlength=16)
    assert np.count_nonzero(counts) == 8
    assert stats.chisquare(counts[counts > 0]).pvalue > ALPHA

    # uniform within each square
    frac = X / 2.0 - np.floor(X / 2.0)
    for j in range(2):
        assert stats.kstest(frac[:, j], "uniform").pvalue > ALPHA
    # and the two within-square coordinates are uncorrelated
    assert abs(np.corrcoef(frac.T)[0, 1]) < 4 / np.sqrt(n)


# --------------------------------------------------------------------------
# FFJORD reference samplers (vectorised transcriptions of toy_data.py), used
# to check that the generators sample the same distributions.
# --------------------------------------------------------------------------
def _ffjord_2spirals(n, rng, noise=0.1):
    m = n // 2
    t = np.sqrt(rng.rand(m, 1)) * 540 * (2 * np.pi) / 360
    d1x = -np.cos(t) * t + rng.rand(m, 1) * 0.5
    d1y = np.sin(t) * t + rng.rand(m, 1) * 0.5
    x = np.vstack((np.hstack((d1x, d1y)), np.hstack((-d1x, -d1y)))) / 3
    return x + rng.randn(*x.shape) * noise


def _ffjord_pinwheel(n, rng):
    radial_std, tangential_std, num_classes, rate = 0.3, 0.1, 5, 0.25
    num_per_class = n // 5
    rads = np.linspace(0, 2 * np.pi, num_classes, endpoint=False)
    features = rng.randn(num_classes * num_per_class, 2) * np.array(
        [radial_std, tangential_std]
    )
    features[:, 0] += 1.0
    labels = np.repeat(np.arange(num_classes), num_per_class)
    angles = rads[labels] + rate * np.exp(features[:, 0])
    cos, sin = np.cos(angles), np.sin(angles)
    rotations = np.stack([cos, -sin, sin, cos])
    rotations = np.reshape(rotations.T, (-1, 2, 2))
    return 2 * rng.permutation(np.einsum("ti,tij->tj", features, rotations))


def _ffjord_rings_noiseless(n):
    n4 = n3 = n2 = n // 4
    n1 = n - n4 - n3 - n2
    parts = []
    for count, r in [(n4, 1.0), (n3, 0.75), (n2, 0.5), (n1, 0.25)]:
        t = np.linspace(0, 2 * np.pi, count, endpoint=False)
        parts.append(np.column_stack([np.cos(t) * r, np.sin(t) * r]))
    return np.vstack(parts) * 3.0


def _summaries(X):
    """1-D projections compared with two-sample KS tests."""
    return {
        "x": X[:, 0],
        "y": X[:, 1],
        "x+y": X[:, 0] + X[:, 1],
        "radius": np.linalg.norm(X, axis=1),
        "angle": np.arctan2(X[:, 1], X[:, 0]),
    }


@pytest.mark.parametrize(
    "gen, ref",
    [(make_two_spirals, _ffjord_2spirals), (make_pinwheel, _ffjord_pinwheel)],
)
def test_same_distribution_as_ffjord(gen, ref):
    n = 6000
    X = gen(n, random_state=0)
    Y = ref(n, np.random.RandomState(1))
    sx, sy = _summaries(X), _summaries(Y)
    for key in sx:
        p = stats.ks_2samp(sx[key], sy[key]).pvalue
        assert p > ALPHA, (key, p)
    # sanity check that the test has power: the other distribution fails it
    other = make_rings(n, random_state=0)
    assert stats.ks_2samp(_summaries(other)["radius"], sy["radius"]).pvalue < 1e-10


def test_noiseless_two_spirals_same_distribution_as_ffjord():
    n = 20000
    X = make_two_spirals(n, noise=0.0, random_state=0)
    Y = _ffjord_2spirals(n, np.random.RandomState(1), noise=0.0)
    sx, sy = _summaries(X), _summaries(Y)
    for key in sx:
        p = stats.ks_2samp(sx[key], sy[key]).pvalue
        assert p > ALPHA, (key, p)


def test_two_spirals_point_symmetry_and_noise():
    X = make_two_spirals(8000, noise=0.0, random_state=0)
    # with no noise: |3 x - jitter| follows a spiral with t in [0, 3 pi]
    r = np.linalg.norm(X, axis=1)
    assert r.max() <= (3 * np.pi + 0.5 * np.sqrt(2)) / 3 + 1e-12
    # the two arms are point reflections of each other: -X has the same law
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=0.05)
    for j in range(2):
        assert stats.ks_2samp(X[:, j], -X[:, j]).pvalue > ALPHA
    # same seed, same points: the difference is the added N(0, noise^2) noise
    Xn = make_two_spirals(8000, noise=0.3, random_state=0)
    np.testing.assert_allclose((Xn - X).std(axis=0), 0.3, rtol=0.03)


def test_pinwheel_arms():
    n_arms = 3
    X = make_pinwheel(6000, n_arms=n_arms, random_state=0)
    # Rotating all points by 2 pi / n_arms maps the distribution to itself.
    rot = 2 * np.pi / n_arms
    R = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    Xr = X @ R.T
    for j in range(2):
        assert stats.ks_2samp(X[:, j], Xr[:, j]).pvalue > ALPHA
    # ... but not by half that angle (the test has power)
    c, s = np.cos(rot / 2), np.sin(rot / 2)
    R2 = np.array([[c, -s], [s, c]])
    assert stats.ks_2samp(X[:, 0], (X @ R2.T)[:, 0]).pvalue < 1e-6
    # radial feature r ~ N(1, 0.3) dominates |x| / 2 = sqrt(r^2 + s^2)
    radius = np.linalg.norm(X, axis=1) / 2
    assert abs(np.median(radius) - 1.0) < 0.03


def test_rings_match_ffjord_exactly_without_noise():
    n = 1000
    X = make_rings(n, noise=0.0, random_state=0)
    Y = _ffjord_rings_noiseless(n)
    key = lambda A: A[np.lexsort(np.round(A, 10).T)]  # noqa: E731
    np.testing.assert_allclose(key(X), key(Y), atol=1e-12)


@pytest.mark.parametrize("n_samples, n_rings", [(1003, 4), (50, 3), (10, 1)])
def test_rings_counts_and_radii(n_samples, n_rings):
    X = make_rings(n_samples, n_rings=n_rings, noise=0.0, random_state=0)
    r = np.linalg.norm(X, axis=1)
    radii = 3.0 * np.arange(1, n_rings + 1) / n_rings
    idx = np.argmin(np.abs(r[:, None] - radii[None, :]), axis=1)
    np.testing.assert_allclose(r, radii[idx], atol=1e-12)
    counts = np.bincount(idx, minlength=n_rings)
    assert counts.sum() == n_samples
    assert counts.max() - counts.min() <= 1


def test_rings_noise_std():
    X0 = make_rings(20000, noise=0.0, random_state=0)
    X = make_rings(20000, noise=0.08, random_state=0)
    # same permutation for the same seed, so the difference is the noise
    np.testing.assert_allclose((X - X0).std(axis=0), 0.08, rtol=0.03)
    np.testing.assert_allclose((X - X0).mean(axis=0), 0.0, atol=0.005)


def test_two_moons_is_ffjord_transform_of_make_moons():
    X = make_two_moons(500, noise=0.1, random_state=3)
    M, _ = make_moons(n_samples=500, shuffle=True, noise=0.1, random_state=3)
    np.testing.assert_allclose(X, 2 * M + np.array([-1.0, -0.2]))
    X0 = make_two_moons(500, noise=0.0, random_state=3)
    # noiseless moons: two unit half-circles, scaled by 2
    c1 = np.array([-1.0, -0.2])
    c2 = np.array([1.0, 0.8])
    d1 = np.abs(np.linalg.norm(X0 - c1, axis=1) - 2)
    d2 = np.abs(np.linalg.norm(X0 - c2, axis=1) - 2)
    d = np.minimum(d1, d2)
    np.testing.assert_allclose(d, 0.0, atol=1e-12)


# --------------------------------------------------------------------------
# rings and two moons: densities of the continuous angle
# --------------------------------------------------------------------------
def _arc_density(x, centre, noise, angles):
    """Gaussian density at ``x`` averaged along ``centre(t)``, t uniform on ``angles``."""
    lo, hi = angles

    def integrand(t):
        c = centre(t)
        sq = (x[0] - c[0]) ** 2 + (x[1] - c[1]) ** 2
        return np.exp(-sq / (2 * noise**2)) / (2 * np.pi * noise**2) / (hi - lo)

    return integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-12, limit=400)[0]


POINTS = [(0.75, 0.0), (1.1, 0.3), (3.0, 0.1), (-1.2, 1.5), (0.0, 0.3), (2.5, 1.0)]


def test_rings_log_density_is_the_angle_average():
    # adaptive quadrature of the Gaussian noise along each ring, share 1/3 each
    radii = (1.0, 2.0, 3.0)
    for x in POINTS:
        density = np.mean([
            _arc_density(x, lambda t, r=r: (r * np.cos(t), r * np.sin(t)), 0.1, (0, 2 * np.pi))
            for r in radii
        ])
        np.testing.assert_allclose(
            rings_log_density([x], n_rings=3, noise=0.1)[0], np.log(density), rtol=1e-10
        )


@pytest.mark.parametrize("noise", [0.1, 0.03])
def test_two_moons_log_density_is_the_arc_average(noise):
    outer = lambda t: (2 * np.cos(t) - 1, 2 * np.sin(t) - 0.2)  # noqa: E731
    inner = lambda t: (1 - 2 * np.cos(t), 0.8 - 2 * np.sin(t))  # noqa: E731
    for x in POINTS:
        density = np.mean(
            [_arc_density(x, moon, 2 * noise, (0, np.pi)) for moon in (outer, inner)]
        )
        np.testing.assert_allclose(
            two_moons_log_density([x], noise=noise)[0], np.log(density), rtol=1e-10
        )


@pytest.mark.parametrize(
    "log_density, kwargs, n_grid",
    [
        (rings_log_density, {}, 400),
        (rings_log_density, {"n_rings": 2, "noise": 0.2}, 200),
        (two_moons_log_density, {}, 200),
    ],
)
def test_ring_and_moon_densities_integrate_to_one(log_density, kwargs, n_grid):
    G, area = _grid(-4.5, 4.5, n_grid)
    assert abs(np.exp(log_density(G, **kwargs)).sum() * area - 1.0) < 1e-3


@pytest.mark.parametrize(
    "make, log_density", [(make_rings, rings_log_density), (make_two_moons, two_moons_log_density)]
)
def test_ring_and_moon_samples_match_density(make, log_density):
    # The mean log-density of samples estimates -H, the differential entropy computed
    # independently by quadrature on a grid: a shifted or rescaled shape fails this.
    n = 10000
    logp = log_density(make(n, random_state=0))
    G, area = _grid(-4.5, 4.5, 200)
    logp_grid = log_density(G)
    entropy = -(np.exp(logp_grid) * logp_grid).sum() * area
    assert abs(logp.mean() + entropy) < 4 * logp.std(ddof=1) / np.sqrt(n)
    # and the density is largest where the samples are
    assert logp.mean() > log_density(make(n, random_state=0) + [0.3, 0.0]).mean() + 0.5


COORDINATE = st.floats(-5.0, 5.0, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(x=COORDINATE, y=COORDINATE, angle=st.floats(0.0, 2 * np.pi))
def test_rings_density_is_rotation_invariant(x, y, angle):
    c, s = np.cos(angle), np.sin(angle)
    rotated = [[c * x - s * y, s * x + c * y]]
    np.testing.assert_allclose(
        rings_log_density(rotated), rings_log_density([[x, y]]), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=50, deadline=None)
@given(x=COORDINATE, y=COORDINATE)
def test_two_moons_density_is_symmetric_about_the_centre(x, y):
    # the inner moon is the outer one reflected through (0, 0.3)
    np.testing.assert_allclose(
        two_moons_log_density([[-x, 0.6 - y]]), two_moons_log_density([[x, y]]), rtol=1e-9
    )
