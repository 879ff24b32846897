"""Densities beyond the issue's sets, for ``density.py --suite more``.

The benchmark's own sets shaped the defaults; these did not: three of scikit-learn's
generators (Swiss roll, S-curve, circles), and four distributions whose log-density is
known in closed form (blobs of different widths, heavy tails, hard edges, skew). Each is ``make(n, random_state)`` and, where
known, ``log_density(X)``; the fixed parameters (centres, mixing matrices) come from
``RandomState(0)``, so every seed draws from one distribution.
"""

import numpy as np
from scipy import stats
from scipy.special import logsumexp
from sklearn import datasets

_RNG = np.random.RandomState(0)
# five features, six isotropic blobs of different widths
_CENTERS = _RNG.uniform(-6, 6, size=(6, 5))
_STDS = np.array([0.5, 1.0, 1.5, 0.7, 2.0, 1.0])
# four features: independent Student t (3 degrees of freedom), mixed
_T_DOF = 3
_T_MIXING = _RNG.normal(size=(4, 4))
# three features: the exponential of a correlated Gaussian
_LOGNORMAL_FACTOR = 0.5 * _RNG.normal(size=(3, 3))


def make_swiss_roll(n, random_state):
    return datasets.make_swiss_roll(n, noise=0.5, random_state=random_state)[0]


def make_s_curve(n, random_state):
    return datasets.make_s_curve(n, noise=0.1, random_state=random_state)[0]


def make_circles(n, random_state):
    return datasets.make_circles(n, noise=0.05, factor=0.5, random_state=random_state)[0]


def make_blobs(n, random_state):
    """Blobs drawn i.i.d. (scikit-learn's splits ``n`` evenly), so that the density is
    the equal-weight mixture."""
    rng = np.random.RandomState(random_state)
    component = rng.randint(len(_CENTERS), size=n)
    return _CENTERS[component] + _STDS[component, None] * rng.normal(size=(n, 5))


def blobs_log_density(X):
    squared = ((X[:, None, :] - _CENTERS) ** 2).sum(axis=2) / _STDS**2
    log_normal = -0.5 * squared - X.shape[1] * np.log(np.sqrt(2 * np.pi) * _STDS)
    return logsumexp(log_normal, axis=1) - np.log(len(_CENTERS))


def make_student_t(n, random_state):
    rng = np.random.RandomState(random_state)
    return rng.standard_t(_T_DOF, size=(n, 4)) @ _T_MIXING


def student_t_log_density(X):
    sources = X @ np.linalg.inv(_T_MIXING)
    log_det = np.linalg.slogdet(_T_MIXING)[1]
    return stats.t(_T_DOF).logpdf(sources).sum(axis=1) - log_det


def make_uniform_cube(n, random_state):
    return np.random.RandomState(random_state).uniform(size=(n, 3))


def uniform_cube_log_density(X):
    inside = ((X >= 0) & (X <= 1)).all(axis=1)
    return np.where(inside, 0.0, -np.inf)


def make_lognormal(n, random_state):
    rng = np.random.RandomState(random_state)
    return np.exp(rng.normal(size=(n, 3)) @ _LOGNORMAL_FACTOR)


def lognormal_log_density(X):
    covariance = _LOGNORMAL_FACTOR.T @ _LOGNORMAL_FACTOR
    log_X = np.log(X)
    normal = stats.multivariate_normal(np.zeros(3), covariance)
    return normal.logpdf(log_X) - log_X.sum(axis=1)


#: name -> (make, log_density or None)
MORE = {
    "swiss_roll": (make_swiss_roll, None),
    "s_curve": (make_s_curve, None),
    "circles": (make_circles, None),
    "blobs": (make_blobs, blobs_log_density),
    "student_t": (make_student_t, student_t_log_density),
    "uniform_cube": (make_uniform_cube, uniform_cube_log_density),
    "lognormal": (make_lognormal, lognormal_log_density),
}
