"""skgebm.metrics: MMD² and energy distance against brute force, unbiasedness, scorers."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils import check_random_state

import skgebm.metrics
from skgebm import GEBMEstimator
from skgebm.metrics import energy_distance, make_sample_scorer, median_heuristic, mmd2


def _brute_statistic(X, Y, kernel, keep_diagonals=False):
    """The two-sample statistic from full kernel matrices.

    Without the within-sample diagonals it is the unbiased U-statistic; with them, the
    biased V-statistic.
    """
    n, m = len(X), len(Y)
    K_XX = kernel(X[:, None, :] - X[None, :, :])
    K_YY = kernel(Y[:, None, :] - Y[None, :, :])
    K_XY = kernel(X[:, None, :] - Y[None, :, :])
    if keep_diagonals:
        return K_XX.mean() + K_YY.mean() - 2 * K_XY.mean()
    within_X = (K_XX.sum() - np.trace(K_XX)) / (n * (n - 1))
    within_Y = (K_YY.sum() - np.trace(K_YY)) / (m * (m - 1))
    return within_X + within_Y - 2 * K_XY.mean()


def _gaussian_kernel(bandwidths):
    def kernel(differences):
        squared = (differences**2).sum(axis=-1)
        return sum(np.exp(-squared / (2 * s**2)) for s in bandwidths)

    return kernel


def _distance_kernel(differences):
    return -np.sqrt((differences**2).sum(axis=-1))


def _brute_mmd2(X, Y, bandwidths, keep_diagonals=False):
    return _brute_statistic(X, Y, _gaussian_kernel(bandwidths), keep_diagonals)


def _brute_energy_distance(X, Y, keep_diagonals=False):
    return _brute_statistic(X, Y, _distance_kernel, keep_diagonals)


def _brute_median_distance(X, Y):
    pooled = np.vstack([X, Y])
    distances = np.sqrt(((pooled[:, None] - pooled[None]) ** 2).sum(axis=-1))
    return np.median(distances[np.triu_indices(len(pooled), k=1)])


@pytest.fixture
def samples():
    rng = np.random.RandomState(0)
    # far from the origin, so the |x|^2 + |y|^2 - 2x.y expansion is put to the test
    return rng.normal(size=(37, 3)) + 100.0, 1.5 * rng.normal(size=(29, 3)) + 100.5


@pytest.mark.parametrize("block_entries", [2**16, 40, 1])
def test_mmd2_matches_brute_force(samples, block_entries, monkeypatch):
    monkeypatch.setattr(skgebm.metrics, "_BLOCK_ENTRIES", block_entries)
    X, Y = samples
    for bandwidth in [0.7, [0.5, 1.0, 4.0]]:
        expected = _brute_mmd2(X, Y, np.atleast_1d(bandwidth))
        assert mmd2(X, Y, bandwidth=bandwidth) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    expected = _brute_mmd2(X, Y, [_brute_median_distance(X, Y)])
    assert mmd2(X, Y) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("block_entries", [2**16, 40, 1])
def test_energy_distance_matches_brute_force(samples, block_entries, monkeypatch):
    monkeypatch.setattr(skgebm.metrics, "_BLOCK_ENTRIES", block_entries)
    X, Y = samples
    expected = _brute_energy_distance(X, Y)
    assert energy_distance(X, Y) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("metric", [mmd2, energy_distance], ids=["mmd2", "energy"])
def test_unbiased_for_identical_distributions(metric):
    rng = np.random.RandomState(1)
    n, repetitions = 20, 300
    pairs = [(rng.normal(size=(n, 2)), rng.normal(size=(n, 2))) for _ in range(repetitions)]
    values = np.array([metric(X, Y) for X, Y in pairs])
    standard_error = values.std(ddof=1) / np.sqrt(repetitions)
    assert abs(values.mean()) < 3 * standard_error
    # the test has the power to see a bias: keeping the diagonals (the V-statistic)
    # adds a positive O(1/n) term that is far outside these bounds
    if metric is mmd2:
        biased = [
            _brute_mmd2(X, Y, [_brute_median_distance(X, Y)], keep_diagonals=True)
            for X, Y in pairs
        ]
    else:
        biased = [_brute_energy_distance(X, Y, keep_diagonals=True) for X, Y in pairs]
    assert np.mean(biased) > 10 * standard_error


@pytest.mark.parametrize("metric", [mmd2, energy_distance], ids=["mmd2", "energy"])
def test_positive_and_growing_with_a_mean_shift(metric):
    rng = np.random.RandomState(2)
    X, Y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    values = [metric(X, Y + shift) for shift in (0.5, 1.0, 2.0)]
    assert 0 < values[0] < values[1] < values[2]
    assert abs(metric(X, Y)) < values[0] / 5


@pytest.mark.parametrize("metric", [mmd2, energy_distance], ids=["mmd2", "energy"])
def test_symmetric(samples, metric):
    X, Y = samples
    assert metric(X, Y) == pytest.approx(metric(Y, X), rel=1e-12)


def test_median_heuristic_uses_at_most_1000_evenly_spaced_points():
    rng = np.random.RandomState(3)
    X, Y = rng.normal(size=(900, 2)), rng.normal(size=(700, 2)) + 1.0
    pooled = np.vstack([X, Y])
    rows = np.linspace(0, len(pooled) - 1, 1000).astype(int)
    half = len(rows) // 2  # any split of the chosen rows into two parts gives their median
    bandwidth = _brute_median_distance(pooled[rows[:half]], pooled[rows[half:]])
    assert mmd2(X, Y) == pytest.approx(mmd2(X, Y, bandwidth=bandwidth), rel=1e-12)
    assert median_heuristic(pooled) == pytest.approx(bandwidth, rel=1e-12)


def test_median_heuristic_is_the_sample_median_distance_and_fixes_the_kernel():
    rng = np.random.RandomState(8)
    reference = rng.normal(size=(60, 3))
    half = len(reference) // 2
    median = _brute_median_distance(reference[:half], reference[half:])
    assert median_heuristic(reference) == pytest.approx(median, rel=1e-12)
    assert median_heuristic(5.0 * reference + 2.0) == pytest.approx(5.0 * median, rel=1e-12)
    assert median_heuristic(np.ones((4, 2))) == 1.0  # no distinct points: a unit kernel
    # mmd2's default bandwidth follows the model's samples; a fixed one does not
    spread = 4.0 * rng.normal(size=(60, 3))
    pooled = np.vstack([spread, reference])
    assert mmd2(spread, reference) == pytest.approx(
        mmd2(spread, reference, bandwidth=median_heuristic(pooled)), rel=1e-12
    )
    assert median_heuristic(pooled) > 1.5 * median
    with pytest.raises(ValueError, match="minimum of 2"):
        median_heuristic(reference[:1])


@pytest.mark.parametrize(
    "X, Y, kwargs, match",
    [
        (np.zeros((5, 2)), np.zeros((5, 3)), {}, "same number of features"),
        (np.zeros((1, 2)), np.zeros((5, 2)), {}, "minimum of 2"),
        (np.ones((5, 2)), np.zeros((5, 2)), {"bandwidth": -1.0}, "bandwidth"),
        (np.ones((5, 2)), np.zeros((5, 2)), {"bandwidth": []}, "bandwidth"),
        (np.ones((5, 2)), np.zeros((5, 2)), {"bandwidth": "mean"}, "bandwidth"),
        (np.full((5, 2), np.nan), np.zeros((5, 2)), {}, "NaN"),
    ],
)
def test_bad_input(X, Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mmd2(X, Y, **kwargs)


class ShiftedGaussian(BaseEstimator):
    """A Gaussian fitted to the data, then shifted by ``shift``: samples only."""

    def __init__(self, shift=0.0):
        self.shift = shift

    def fit(self, X, y=None):
        self.mean_, self.cov_ = X.mean(axis=0), np.cov(X.T)
        return self

    def sample(self, n_samples, random_state=None):
        rng = check_random_state(random_state)
        return rng.multivariate_normal(self.mean_ + self.shift, self.cov_, n_samples)


@pytest.mark.parametrize("metric", ["mmd2", "energy_distance"])
def test_sample_scorer_selects_the_right_model(metric):
    X = np.random.RandomState(4).normal(size=(300, 2)) * [1.0, 3.0]
    scorer = make_sample_scorer(metric, n_samples=200)
    search = GridSearchCV(ShiftedGaussian(), {"shift": [-1.0, 0.0, 1.0]}, scoring=scorer, cv=3)
    search.fit(X)
    assert search.best_params_ == {"shift": 0.0}
    # greater is better: minus the discrepancy, on samples drawn with the scorer's seed
    held_out = X[200:]
    model = ShiftedGaussian(1.0).fit(X[:200])
    samples = model.sample(200, random_state=0)
    expected = -getattr(skgebm.metrics, metric)(samples, held_out)
    if metric == "mmd2":  # the bandwidth is the held-out data's own median distance
        distances = np.sqrt(((held_out[:, None] - held_out[None]) ** 2).sum(-1))
        median = np.median(distances[np.triu_indices(len(held_out), k=1)])
        expected = -mmd2(samples, held_out, bandwidth=median)
    assert scorer(model, held_out) == pytest.approx(expected, rel=1e-12)


def test_sample_scorer_in_grid_search_of_a_generator_gebm(fast_params, tmp_path):
    X = np.random.RandomState(5).normal(size=(200, 2)) * [1.0, 2.0]
    estimator = GEBMEstimator(
        "generator", latent_dim=2, memory=str(tmp_path), random_state=0, **fast_params
    )
    scorer = make_sample_scorer(n_samples=100, random_state=7, bandwidth=[0.5, 2.0])
    temperatures = [0.5, 2.0]
    cv = KFold(2, shuffle=True, random_state=0)
    search = GridSearchCV(
        estimator, {"temperature": temperatures}, scoring=scorer, cv=cv, refit=False
    )
    search.fit(X)
    for split, (train, test) in enumerate(cv.split(X)):
        for index, temperature in enumerate(temperatures):
            model = clone(estimator).set_params(temperature=temperature).fit(X[train])
            samples = model.sample(100, random_state=7)
            expected = -mmd2(samples, X[test], bandwidth=[0.5, 2.0])
            assert search.cv_results_[f"split{split}_test_score"][index] == expected
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and scores[0] != scores[1]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"metric": "kl"}, ValueError, "metric must be one of"),
        ({"metric": 3}, TypeError, "metric must be a string or a callable"),
        ({"n_samples": 1}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, ValueError, "n_samples"),
        # checked when the scorer is built, not at its first call inside a search
        (
            {"metric": "energy_distance", "bandwidth": 1.0},
            TypeError,
            r"energy_distance got unexpected .*'bandwidth'.*accepts none",
        ),
        ({"bandwith": 1.0}, TypeError, r"mmd2 .*'bandwith'.*accepts \['bandwidth'\]"),
    ],
)
def test_bad_scorer_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_sample_scorer(**kwargs)
