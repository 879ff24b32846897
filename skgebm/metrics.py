r"""Sample-based discrepancies between two distributions, and scorers built on them.

A GEBM with a generator base has no tractable density, so held-out log-likelihood
cannot select its hyper-parameters; these compare the model's samples with held-out
data instead. Both discrepancies are unbiased U-statistics of the form

.. math::

    \frac{1}{n(n-1)} \sum_{i \ne j} k(x_i, x_j)
    + \frac{1}{m(m-1)} \sum_{i \ne j} k(y_i, y_j)
    - \frac{2}{nm} \sum_{i, j} k(x_i, y_j),

with a sum of Gaussian kernels for :func:`mmd2` and :math:`k(x, y) = -\|x - y\|` for
:func:`energy_distance`. Kernel matrices are summed block by block, so memory stays
bounded (half a MiB per block) whatever the sample sizes.
"""

import inspect
from numbers import Integral

import numpy as np
from scipy.spatial.distance import pdist
from sklearn.utils import check_array

__all__ = ["energy_distance", "make_sample_scorer", "median_heuristic", "mmd2"]

# Kernel entries per block of rows: 2**16 float64 values (512 KiB) stay in cache.
_BLOCK_ENTRIES = 2**16
# Points of the pooled sample whose pairwise distances give the median heuristic.
_MEDIAN_POINTS = 1000


def mmd2(X, Y, *, bandwidth="median"):
    r"""Unbiased squared maximum mean discrepancy with Gaussian kernels.

    The kernel is :math:`k(x, y) = \sum_\sigma \exp(-\|x - y\|^2 / (2 \sigma^2))` over
    the bandwidths :math:`\sigma`. The estimate averages over distinct pairs only, so
    its expectation is the population MMD² exactly: it is zero on average for two
    samples of one distribution, and can then be slightly negative.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        First sample, at least two rows.
    Y : array-like of shape (n_samples_Y, n_features)
        Second sample, at least two rows.
    bandwidth : "median", float or array-like of float, default="median"
        Kernel bandwidth(s) :math:`\sigma`, in the data's units. ``"median"`` is the
        median heuristic of the pooled sample (see :func:`median_heuristic`). It moves
        with ``X``: to compare several models against one reference ``Y``, pass
        ``bandwidth=median_heuristic(Y)`` so that every model meets the same kernel.
        Several bandwidths sum their kernels, which keeps the test sensitive at
        several scales.

    Returns
    -------
    mmd2 : float
        The unbiased estimate of MMD².

    See Also
    --------
    energy_distance : The same statistic with the distance kernel; no bandwidth.
    median_heuristic : The default bandwidth, and a fixed one for comparisons.

    References
    ----------
    A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Schölkopf and A. Smola, "A Kernel
    Two-Sample Test", JMLR 13, 2012 (Lemma 6).

    Examples
    --------
    >>> import numpy as np
    >>> from skgebm.metrics import mmd2
    >>> rng = np.random.RandomState(0)
    >>> X, Y = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
    >>> abs(mmd2(X, Y)) < 0.01
    True
    >>> mmd2(X, Y + 1.0) > 0.1
    True
    """
    X, Y = _check_samples(X, Y)
    bandwidths = _check_bandwidth(bandwidth, X, Y)
    gammas = 1.0 / (2.0 * bandwidths**2)

    def gaussian_kernels(squared_distances):
        return sum(np.exp(-gamma * squared_distances) for gamma in gammas)

    return _u_statistic(X, Y, gaussian_kernels)


def energy_distance(X, Y):
    r"""Unbiased energy distance between two multivariate samples.

    The population quantity is
    :math:`2 E\|X - Y\| - E\|X - X'\| - E\|Y - Y'\|`, zero exactly when the
    distributions are equal; the within-sample terms average over distinct pairs, so
    the estimate is unbiased (and can be slightly negative). It is the MMD² of the
    kernel :math:`-\|x - y\|` and needs no bandwidth.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        First sample, at least two rows.
    Y : array-like of shape (n_samples_Y, n_features)
        Second sample, at least two rows.

    Returns
    -------
    energy_distance : float
        The unbiased estimate, in the data's units.

    See Also
    --------
    mmd2 : The same statistic with Gaussian kernels.

    References
    ----------
    G. J. Székely and M. L. Rizzo, "Energy statistics: A class of statistics based on
    distances", Journal of Statistical Planning and Inference 143(8), 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skgebm.metrics import energy_distance
    >>> rng = np.random.RandomState(0)
    >>> X, Y = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
    >>> abs(energy_distance(X, Y)) < 0.02
    True
    >>> energy_distance(X, Y + 1.0) > 0.5
    True
    """
    X, Y = _check_samples(X, Y)
    return _u_statistic(X, Y, lambda squared_distances: -np.sqrt(squared_distances))


_METRICS = {"mmd2": mmd2, "energy_distance": energy_distance}


def make_sample_scorer(metric="mmd2", *, n_samples=None, random_state=0, **metric_params):
    """Scorer that compares an estimator's samples with held-out data.

    The scorer calls ``estimator.sample(n_samples, random_state=random_state)`` and
    returns minus the discrepancy between those samples and the held-out ``X``, so
    that greater is better, as :class:`~sklearn.model_selection.GridSearchCV` expects.
    It selects models that have no tractable density, such as a
    :class:`~skgebm.GEBMEstimator` with a generator base.

    Parameters
    ----------
    metric : {"mmd2", "energy_distance"} or callable, default="mmd2"
        The discrepancy: :func:`mmd2`, :func:`energy_distance`, or a callable
        ``metric(samples, X, **metric_params) -> float`` where lower is better.
        With ``"mmd2"`` and the default ``bandwidth="median"``, the bandwidth is the
        median distance within the held-out ``X`` alone, so that every candidate of a
        search is measured with the same kernel.
    n_samples : int or None, default=None
        Samples drawn from the estimator; ``None`` draws as many as ``X`` has rows.
    random_state : int, RandomState instance or None, default=0
        Passed to ``estimator.sample``. A fixed seed scores every candidate on the
        same latent noise (common random numbers), which lowers the variance of their
        differences; ``None`` uses each estimator's own ``random_state``.
    **metric_params
        Passed to ``metric`` (for example ``bandwidth`` of :func:`mmd2`); a named
        metric's are checked here, so that a wrong name fails before a search.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skgebm import GEBMEstimator
    >>> from skgebm.metrics import make_sample_scorer
    >>> X, _ = make_moons(300, noise=0.1, random_state=0)
    >>> search = GridSearchCV(
    ...     GEBMEstimator("generator", max_iter=50, n_mcmc_steps=5, random_state=0),
    ...     {"temperature": [0.5, 1.0]},
    ...     scoring=make_sample_scorer("mmd2", n_samples=200),
    ...     cv=2,
    ... ).fit(X)
    >>> search.best_params_["temperature"] in (0.5, 1.0)
    True
    """
    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(
                f"metric must be one of {sorted(_METRICS)} or a callable, got {metric!r}."
            )
        metric = _METRICS[metric]
        # a misspelt or foreign parameter would fail only inside the search
        accepted = set(inspect.signature(metric).parameters) - {"X", "Y"}
        unexpected = sorted(set(metric_params) - accepted)
        if unexpected:
            raise TypeError(
                f"{metric.__name__} got unexpected parameter(s) {unexpected}; "
                f"it accepts {sorted(accepted) or 'none'}."
            )
    elif not callable(metric):
        raise TypeError(f"metric must be a string or a callable, got {metric!r}.")
    if n_samples is not None and (
        not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 2
    ):
        raise ValueError(f"n_samples must be an integer >= 2 or None, got {n_samples!r}.")
    return _SampleScorer(metric, n_samples, random_state, metric_params)


class _SampleScorer:
    """Minus a sample discrepancy; built by :func:`make_sample_scorer`."""

    def __init__(self, metric, n_samples, random_state, metric_params):
        self.metric = metric
        self.n_samples = n_samples
        self.random_state = random_state
        self.metric_params = metric_params

    def __call__(self, estimator, X, y=None):
        X = check_array(X, dtype=np.float64)
        n_samples = len(X) if self.n_samples is None else self.n_samples
        samples = estimator.sample(n_samples, random_state=self.random_state)
        params = dict(self.metric_params)
        if self.metric is mmd2 and _is_median(params.get("bandwidth", "median")):
            params["bandwidth"] = median_heuristic(X)
        return -float(self.metric(samples, X, **params))

    def __repr__(self):
        options = "".join(f", {key}={value!r}" for key, value in self.metric_params.items())
        return (
            f"make_sample_scorer({getattr(self.metric, '__name__', self.metric)!r}, "
            f"n_samples={self.n_samples!r}, random_state={self.random_state!r}{options})"
        )


def _check_samples(X, Y):
    X = check_array(X, dtype=np.float64, ensure_min_samples=2, input_name="X")
    Y = check_array(Y, dtype=np.float64, ensure_min_samples=2, input_name="Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features, got {X.shape[1]} and {Y.shape[1]}."
        )
    # distances do not change under a shift; centring limits the cancellation in
    # |x|^2 + |y|^2 - 2 x.y for data far from the origin
    center = np.concatenate([X, Y]).mean(axis=0)
    return X - center, Y - center


def _is_median(bandwidth):
    return isinstance(bandwidth, str) and bandwidth == "median"


def _check_bandwidth(bandwidth, X, Y):
    if _is_median(bandwidth):
        return np.array([median_heuristic(np.concatenate([X, Y]))])
    if isinstance(bandwidth, str):
        raise ValueError(f"bandwidth must be 'median' or positive numbers, got {bandwidth!r}.")
    bandwidths = np.atleast_1d(np.asarray(bandwidth, dtype=np.float64))
    if (
        bandwidths.ndim != 1
        or len(bandwidths) == 0
        or not np.all(np.isfinite(bandwidths))
        or np.any(bandwidths <= 0)
    ):
        raise ValueError(
            "bandwidth must be 'median', a positive number or a 1-D array of them, "
            f"got {bandwidth!r}."
        )
    return bandwidths


def median_heuristic(X):
    """Median distance between distinct points of a sample: the usual kernel bandwidth.

    Computed on at most 1000 evenly spaced rows of ``X``, which keeps it cheap on large
    samples. A bandwidth computed once on held-out data gives every model compared
    with those data the same kernel, as :func:`make_sample_scorer` does.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The sample, at least two rows.

    Returns
    -------
    bandwidth : float
        The median distance between distinct rows (1.0 if all rows are equal).

    Examples
    --------
    >>> import numpy as np
    >>> from skgebm.metrics import median_heuristic, mmd2
    >>> rng = np.random.RandomState(0)
    >>> reference = rng.normal(size=(500, 2))
    >>> b = median_heuristic(reference)
    >>> round(b, 2)
    1.65
    >>> close, spread = rng.normal(size=(500, 2)), 3.0 * rng.normal(size=(500, 2))
    >>> bool(mmd2(close, reference, bandwidth=b) < mmd2(spread, reference, bandwidth=b))
    True
    """
    X = check_array(X, dtype=np.float64, ensure_min_samples=2, input_name="X")
    rows = np.unique(np.linspace(0, len(X) - 1, min(len(X), _MEDIAN_POINTS)).astype(int))
    distances = pdist(X[rows])
    distances = distances[distances > 0]
    return float(np.median(distances)) if len(distances) else 1.0


def _u_statistic(X, Y, kernel):
    """Unbiased MMD² of ``kernel``, a function of squared distances, between X and Y."""
    n, m = len(X), len(Y)
    within_X = _kernel_sum(X, X, kernel, exclude_diagonal=True) / (n * (n - 1))
    within_Y = _kernel_sum(Y, Y, kernel, exclude_diagonal=True) / (m * (m - 1))
    between = _kernel_sum(X, Y, kernel) / (n * m)
    return float(within_X + within_Y - 2.0 * between)


def _kernel_sum(A, B, kernel, exclude_diagonal=False):
    """Sum of ``kernel(|a_i - b_j|^2)`` over all pairs, one block of rows of A at a time."""
    squared_norms_A = np.einsum("ij,ij->i", A, A)
    squared_norms_B = np.einsum("ij,ij->i", B, B)
    block_rows = max(1, _BLOCK_ENTRIES // len(B))
    total = 0.0
    for start in range(0, len(A), block_rows):
        block = slice(start, start + block_rows)
        squared_distances = A[block] @ B.T
        squared_distances *= -2.0
        squared_distances += squared_norms_A[block, None]
        squared_distances += squared_norms_B
        np.maximum(squared_distances, 0.0, out=squared_distances)
        values = kernel(squared_distances)
        if exclude_diagonal:
            rows = np.arange(len(values))
            values[rows, start + rows] = 0.0
        total += values.sum()
    return total
