"""Two-dimensional toy densities from the normalizing-flow / EBM literature.

The generators follow the conventions of :func:`sklearn.datasets.make_moons`:
the first argument is ``n_samples``, ``noise`` is the standard deviation of
additive Gaussian noise where that is meaningful, ``random_state`` is passed
through :func:`sklearn.utils.check_random_state`, and the return value is a
``float64`` array ``X`` of shape ``(n_samples, 2)`` whose rows are shuffled.

The densities (scales, offsets, noise levels) are those of the ``toy_data.py``
popularised by FFJORD [1]_ and reused by much of the later flow and EBM work,
so that samples and log-likelihoods compare with published numbers. Where the
reference implementation returned fewer than ``n_samples`` points (integer
division between classes) or correlated points (the second spiral arm being
the exact mirror image of the first), the generators here return exactly
``n_samples`` i.i.d. draws (for the mixtures with a deterministic class split,
the split is balanced as in :func:`~sklearn.datasets.make_moons`) from the same
distribution.

Exact log-densities are provided where the density is known:
:func:`eight_gaussians_log_density`, :func:`checkerboard_log_density`,
:func:`rings_log_density` (closed form through a Bessel function) and
:func:`two_moons_log_density` (a one-dimensional integral along the arcs, computed
by Gauss-Legendre quadrature to machine precision).

References
----------
.. [1] W. Grathwohl, R. T. Q. Chen, J. Bettencourt, I. Sutskever and
   D. Duvenaud, "FFJORD: Free-form Continuous Dynamics for Scalable Reversible
   Generative Models", ICLR 2019.
"""

import numbers

import numpy as np
from scipy.special import i0e, logsumexp
from sklearn.datasets import make_moons as _make_moons
from sklearn.utils import check_random_state, check_scalar

__all__ = [
    "checkerboard_log_density",
    "eight_gaussians_log_density",
    "make_checkerboard",
    "make_eight_gaussians",
    "make_pinwheel",
    "make_rings",
    "make_two_moons",
    "make_two_spirals",
    "rings_log_density",
    "two_moons_log_density",
]

_EIGHT_GAUSSIANS_RADIUS = 4.0 / np.sqrt(2.0)
_EIGHT_GAUSSIANS_STD = 0.5 / np.sqrt(2.0)

# Lower-left corners (in units of the square side, 2) of the 8 black squares
# of the 4 x 4 checkerboard on [-4, 4]^2: cells (i, j), i, j in {-2, ..., 1},
# with i + j even. Each has area 4, so the support has area 32.
_CHECKERBOARD_CELLS = np.array(
    [(i, j) for i in range(-2, 2) for j in range(-2, 2) if (i + j) % 2 == 0],
    dtype=np.float64,
)
_CHECKERBOARD_LOG_DENSITY = -np.log(32.0)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------
def _check_n_samples(n_samples):
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
    return int(n_samples)


def _check_noise(noise):
    check_scalar(noise, "noise", numbers.Real, min_val=0.0)
    return float(noise)


def _check_positive(value, name):
    check_scalar(
        value, name, numbers.Real, min_val=0.0, include_boundaries="neither"
    )
    if not np.isfinite(value):
        raise ValueError(f"{name} == {value}, must be finite.")
    return float(value)


def _check_points(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"X must be an array of shape (n_points, 2); got shape {X.shape}."
        )
    return X


def _balanced_counts(n_samples, n_groups):
    """Split ``n_samples`` into ``n_groups`` counts differing by at most one."""
    counts = np.full(n_groups, n_samples // n_groups, dtype=np.intp)
    counts[: n_samples % n_groups] += 1
    return counts


# --------------------------------------------------------------------------
# eight Gaussians
# --------------------------------------------------------------------------
def _eight_gaussians_centers(radius):
    angles = np.arange(8) * (np.pi / 4.0)
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


def make_eight_gaussians(
    n_samples=1000,
    *,
    radius=_EIGHT_GAUSSIANS_RADIUS,
    std=_EIGHT_GAUSSIANS_STD,
    random_state=None,
):
    """Sample the "8 Gaussians" mixture.

    An equal-weight mixture of 8 isotropic Gaussians with standard deviation
    `std`, centred at ``radius * (cos(k pi / 4), sin(k pi / 4))``,
    ``k = 0, ..., 7``. The defaults (radius ``4 / sqrt(2)``, std
    ``0.5 / sqrt(2)``) are those of FFJORD's ``8gaussians`` [1]_. Component
    labels are drawn i.i.d. uniformly, so the samples are i.i.d. from the
    mixture.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, >= 1.
    radius : float, default=4/sqrt(2)
        Radius of the circle carrying the component means, > 0.
    std : float, default=0.5/sqrt(2)
        Standard deviation of each component, > 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples, float64.

    See Also
    --------
    eight_gaussians_log_density : Exact log-density of this distribution.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import make_eight_gaussians
    >>> X = make_eight_gaussians(100, random_state=0)
    >>> X.shape, X.dtype
    ((100, 2), dtype('float64'))
    """
    n_samples = _check_n_samples(n_samples)
    radius = _check_positive(radius, "radius")
    std = _check_positive(std, "std")
    rng = check_random_state(random_state)

    centers = _eight_gaussians_centers(radius)
    labels = rng.randint(8, size=n_samples)
    return centers[labels] + std * rng.standard_normal((n_samples, 2))


def eight_gaussians_log_density(
    X, *, radius=_EIGHT_GAUSSIANS_RADIUS, std=_EIGHT_GAUSSIANS_STD
):
    """Exact log-density of the "8 Gaussians" mixture.

    ``log p(x) = logsumexp_k(-|x - mu_k|^2 / (2 std^2)) - log 8
    - log(2 pi std^2)`` with the means ``mu_k`` of
    :func:`make_eight_gaussians`.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Points at which to evaluate the log-density.
    radius : float, default=4/sqrt(2)
        Radius of the circle carrying the component means, > 0.
    std : float, default=0.5/sqrt(2)
        Standard deviation of each component, > 0.

    Returns
    -------
    log_density : ndarray of shape (n_points,)
        Natural log of the density at each point.

    See Also
    --------
    make_eight_gaussians : Sampler for this distribution.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skgebm.datasets import eight_gaussians_log_density
    >>> logp = eight_gaussians_log_density([[4 / np.sqrt(2), 0.0], [0.0, 0.0]])
    >>> bool(logp[0] > logp[1])
    True
    """
    X = _check_points(X)
    radius = _check_positive(radius, "radius")
    std = _check_positive(std, "std")

    centers = _eight_gaussians_centers(radius)
    sq_dist = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    return (
        logsumexp(-0.5 * sq_dist / std**2, axis=1)
        - np.log(8.0)
        - np.log(2.0 * np.pi * std**2)
    )


# --------------------------------------------------------------------------
# checkerboard
# --------------------------------------------------------------------------
def make_checkerboard(n_samples=1000, *, random_state=None):
    """Sample the checkerboard distribution.

    Uniform on the 8 "black" squares (side 2) of a 4 x 4 checkerboard on
    ``[-4, 4]^2``: the squares ``[2i, 2i + 2) x [2j, 2j + 2)`` with
    ``i, j in {-2, -1, 0, 1}`` and ``i + j`` even. This is FFJORD's
    ``checkerboard`` [1]_; the density is ``1/32`` on the support.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, >= 1.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples, float64.

    See Also
    --------
    checkerboard_log_density : Exact log-density of this distribution.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import make_checkerboard
    >>> X = make_checkerboard(100, random_state=0)
    >>> X.shape
    (100, 2)
    """
    n_samples = _check_n_samples(n_samples)
    rng = check_random_state(random_state)

    cells = _CHECKERBOARD_CELLS[rng.randint(len(_CHECKERBOARD_CELLS), size=n_samples)]
    X = 2.0 * (cells + rng.random_sample((n_samples, 2)))
    # Guard against i + u rounding up to i + 1 for u within 2**-53 of 1, which
    # would move a point onto the neighbouring (white) square.
    return np.minimum(X, np.nextafter(2.0 * (cells + 1.0), -np.inf))


def checkerboard_log_density(X):
    """Exact log-density of the checkerboard distribution.

    ``log(1/32)`` on the 8 black squares described in
    :func:`make_checkerboard` (total area 32), ``-inf`` elsewhere.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Points at which to evaluate the log-density.

    Returns
    -------
    log_density : ndarray of shape (n_points,)
        ``-log(32)`` inside the support, ``-inf`` outside it and NaN where a
        coordinate is NaN.

    See Also
    --------
    make_checkerboard : Sampler for this distribution.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import checkerboard_log_density
    >>> checkerboard_log_density([[1.0, 1.0], [1.0, -1.0]])
    array([-3.4657359,       -inf])
    """
    X = _check_points(X)
    with np.errstate(invalid="ignore"):
        cell = np.floor(X / 2.0)
        inside = np.all((cell >= -2) & (cell <= 1), axis=1)
        black = np.mod(cell.sum(axis=1), 2.0) == 0.0
    log_density = np.where(inside & black, _CHECKERBOARD_LOG_DENSITY, -np.inf)
    # NaN in, NaN out, as the other log-densities: an undefined point is not "outside"
    return np.where(np.isnan(X).any(axis=1), np.nan, log_density)


# --------------------------------------------------------------------------
# two spirals and pinwheel (no known log-density)
# --------------------------------------------------------------------------
def make_two_spirals(n_samples=1000, *, noise=0.1, random_state=None):
    """Sample the two-spirals distribution.

    FFJORD's ``2spirals`` [1]_: an angle ``t = sqrt(u) * 3 pi`` with
    ``u ~ U(0, 1)`` gives the point ``(-t cos t + a, t sin t + b) / 3`` with
    ``a, b ~ U(0, 0.5)``; the second arm is the point reflection through the
    origin of an independent draw. Gaussian noise of standard deviation
    `noise` is then added. The two arms get ``n_samples // 2`` and
    ``n_samples - n_samples // 2`` points (the reference implementation
    mirrors the very same draws, so its arms are not independent).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, >= 1.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the data, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples, float64, shuffled.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import make_two_spirals
    >>> X = make_two_spirals(101, noise=0.05, random_state=0)
    >>> X.shape
    (101, 2)
    """
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)

    t = np.sqrt(rng.random_sample(n_samples)) * 3.0 * np.pi
    jitter = 0.5 * rng.random_sample((n_samples, 2))
    X = np.column_stack([-np.cos(t) * t, np.sin(t) * t]) + jitter
    X[n_samples // 2 :] *= -1.0  # second arm: point reflection
    X /= 3.0
    X = X[rng.permutation(n_samples)]
    if noise > 0:
        X += noise * rng.standard_normal(X.shape)
    return X


def make_pinwheel(n_samples=1000, *, n_arms=5, random_state=None):
    """Sample the pinwheel distribution.

    FFJORD's ``pinwheel`` [1]_ (after Johnson et al., 2016): for each arm
    ``k``, draw ``(r, s) ~ N((1, 0), diag(0.3^2, 0.1^2))``, rotate it by the
    angle ``2 pi k / n_arms + 0.25 exp(r)`` and scale by 2. The arms get
    ``n_samples // n_arms`` points each, the remainder being spread one per
    arm, and the rows are shuffled.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, >= 1.
    n_arms : int, default=5
        Number of arms (classes), >= 1.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples, float64, shuffled.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import make_pinwheel
    >>> X = make_pinwheel(100, n_arms=3, random_state=0)
    >>> X.shape
    (100, 2)
    """
    n_samples = _check_n_samples(n_samples)
    check_scalar(n_arms, "n_arms", numbers.Integral, min_val=1)
    rng = check_random_state(random_state)

    radial_std, tangential_std, rate = 0.3, 0.1, 0.25
    labels = np.repeat(np.arange(n_arms), _balanced_counts(n_samples, n_arms))
    feats = rng.standard_normal((n_samples, 2)) * [radial_std, tangential_std]
    feats[:, 0] += 1.0
    angles = 2.0 * np.pi * labels / n_arms + rate * np.exp(feats[:, 0])
    cos, sin = np.cos(angles), np.sin(angles)
    # row vector times [[cos, -sin], [sin, cos]] as in the reference code
    X = np.column_stack(
        [feats[:, 0] * cos + feats[:, 1] * sin, -feats[:, 0] * sin + feats[:, 1] * cos]
    )
    return 2.0 * X[rng.permutation(n_samples)]


# --------------------------------------------------------------------------
# rings
# --------------------------------------------------------------------------
def _ring_radii(n_rings):
    """Radii ``3 k / n_rings``, ``k = 1, ..., n_rings``, of the rings."""
    return 3.0 * np.arange(1, n_rings + 1) / n_rings


def make_rings(n_samples=1000, *, n_rings=4, noise=0.08, random_state=None):
    """Sample the concentric-rings distribution.

    FFJORD's ``rings`` [1]_: `n_rings` concentric circles of radii
    ``3 k / n_rings``, ``k = 1, ..., n_rings`` (0.75, 1.5, 2.25 and 3 by
    default), each carrying an equal share of the points at equally spaced
    angles (``endpoint=False``), shuffled, plus isotropic Gaussian noise of
    standard deviation `noise`. When `n_samples` is not a multiple of
    `n_rings`, the remainder is spread one per ring starting from the
    innermost one.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, >= 1.
    n_rings : int, default=4
        Number of rings, >= 1.
    noise : float, default=0.08
        Standard deviation of the Gaussian noise added to the data, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output (shuffle and noise).

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples, float64, shuffled.

    See Also
    --------
    rings_log_density : Exact log-density of this distribution.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import make_rings
    >>> X = make_rings(100, random_state=0)
    >>> X.shape
    (100, 2)
    """
    n_samples = _check_n_samples(n_samples)
    check_scalar(n_rings, "n_rings", numbers.Integral, min_val=1)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)

    parts = []
    for radius, count in zip(_ring_radii(n_rings), _balanced_counts(n_samples, n_rings)):
        theta = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
        parts.append(radius * np.column_stack([np.cos(theta), np.sin(theta)]))
    X = np.concatenate(parts)[rng.permutation(n_samples)]
    if noise > 0:
        X += noise * rng.standard_normal(X.shape)
    return X


def rings_log_density(X, *, n_rings=4, noise=0.08):
    """Exact log-density of the concentric-rings distribution.

    The rings of :func:`make_rings` with their angles uniform (the generator spaces
    them evenly, which makes no difference once the spacing is well below `noise`:
    at 5,000 points it is 0.015 on the outer ring against a noise of 0.08) and each
    ring carrying a share ``1 / n_rings``. Averaging the Gaussian noise over the
    angle gives the Rice density: with ``rho = |x|`` and radii ``r_k = 3 k /
    n_rings``, ``log p(x) = logsumexp_k(-(rho - r_k)^2 / (2 noise^2) +
    log i0e(rho r_k / noise^2)) - log n_rings - log(2 pi noise^2)``, where ``i0e``
    is the exponentially scaled modified Bessel function of order 0.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Points at which to evaluate the log-density.
    n_rings : int, default=4
        Number of rings, >= 1.
    noise : float, default=0.08
        Standard deviation of the Gaussian noise, > 0 (without noise the rings have
        no density).

    Returns
    -------
    log_density : ndarray of shape (n_points,)
        Natural log of the density at each point.

    See Also
    --------
    make_rings : Sampler for this distribution.

    Examples
    --------
    >>> from skgebm.datasets import rings_log_density
    >>> logp = rings_log_density([[0.75, 0.0], [1.125, 0.0]])
    >>> bool(logp[0] > logp[1])  # on the inner ring, then between two rings
    True
    """
    X = _check_points(X)
    check_scalar(n_rings, "n_rings", numbers.Integral, min_val=1)
    noise = _check_positive(noise, "noise")
    rho = np.linalg.norm(X, axis=1)[:, None]
    radii = _ring_radii(n_rings)
    with np.errstate(divide="ignore"):  # i0e is 0 at an infinite point: log-density -inf
        log_bessel = np.log(i0e(rho * radii / noise**2))
    log_rings = -0.5 * ((rho - radii) / noise) ** 2 + log_bessel
    return logsumexp(log_rings, axis=1) - np.log(n_rings) - np.log(2.0 * np.pi * noise**2)


# --------------------------------------------------------------------------
# two moons
# --------------------------------------------------------------------------
# FFJORD's map of scikit-learn's moons to the returned coordinates: x -> scale x + offset.
_MOONS_SCALE = 2.0
_MOONS_OFFSET = np.array([-1.0, -0.2])


def make_two_moons(n_samples=1000, *, noise=0.1, random_state=None):
    """Sample the two-moons distribution.

    FFJORD's ``moons`` [1]_: :func:`sklearn.datasets.make_moons` (shuffled,
    Gaussian noise of standard deviation `noise` added in its own
    coordinates) mapped by ``x -> 2 x + (-1, -0.2)``, which centres the moons
    near the origin. The noise in the returned coordinates therefore has
    standard deviation ``2 * noise``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, >= 1.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise, before the scaling by 2,
        >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples, float64, shuffled.

    See Also
    --------
    sklearn.datasets.make_moons : The underlying generator.
    two_moons_log_density : Log-density of this distribution.

    References
    ----------
    .. [1] Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for
       Scalable Reversible Generative Models", ICLR 2019.

    Examples
    --------
    >>> from skgebm.datasets import make_two_moons
    >>> X = make_two_moons(100, random_state=0)
    >>> X.shape
    (100, 2)
    """
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)

    X, _ = _make_moons(n_samples=n_samples, shuffle=True, noise=noise, random_state=rng)
    return _MOONS_SCALE * X.astype(np.float64) + _MOONS_OFFSET


#: Gauss-Legendre rule of each panel of the arcs' quadrature in two_moons_log_density.
_MOON_NODES, _MOON_WEIGHTS = np.polynomial.legendre.leggauss(16)
#: Points per chunk of two_moons_log_density: bounds its memory for any number of points.
_MOON_CHUNK = 1024


def two_moons_log_density(X, *, noise=0.1):
    """Log-density of the two-moons distribution, to machine precision.

    The half circles of :func:`make_two_moons` with their angles uniform (the
    generator spaces them evenly, which makes no difference once the spacing is well
    below the noise) and a share 1/2 each: in the returned coordinates the outer moon
    has centres ``(2 cos t - 1, 2 sin t - 0.2)`` and the inner one ``(1 - 2 cos t,
    0.8 - 2 sin t)``, ``t`` uniform on ``[0, pi]``, blurred by isotropic Gaussian
    noise of standard deviation ``s = 2 * noise``. The density is the Gaussian
    averaged along each arc, ``p(x) = 1/2 sum_moons 1/pi int_0^pi N(x; c(t), s^2 I)
    dt``; this integral has no closed form, so it is computed by composite
    Gauss-Legendre quadrature: 16 nodes on each panel of at most `noise` radians
    (the angular width of the Gaussian seen from the arc), in log space.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Points at which to evaluate the log-density.
    noise : float, default=0.1
        Standard deviation of the noise before the scaling by 2 (as in
        :func:`make_two_moons`), > 0 (without noise the moons have no density).

    Returns
    -------
    log_density : ndarray of shape (n_points,)
        Natural log of the density at each point.

    See Also
    --------
    make_two_moons : Sampler for this distribution.

    Examples
    --------
    >>> from skgebm.datasets import two_moons_log_density
    >>> logp = two_moons_log_density([[1.0, -0.2], [0.0, 0.3]])
    >>> bool(logp[0] > logp[1])  # on the outer moon, then between the moons
    True
    """
    X = _check_points(X)
    noise = _check_positive(noise, "noise")
    n_panels = int(np.ceil(np.pi / noise))
    edges = np.linspace(0.0, np.pi, n_panels + 1)
    half_width = np.diff(edges)[:, None] / 2
    angles = (edges[:-1, None] + half_width * (1 + _MOON_NODES)).ravel()
    log_weights = np.log(half_width * _MOON_WEIGHTS).ravel() - np.log(np.pi)
    cos, sin = np.cos(angles), np.sin(angles)
    # scikit-learn's moons: the upper unit half circle, and the lower one shifted by (1, 0.5)
    moons = np.concatenate([np.column_stack([cos, sin]), np.column_stack([1 - cos, 0.5 - sin])])
    centers = _MOONS_SCALE * moons + _MOONS_OFFSET
    log_weights = np.concatenate([log_weights, log_weights]) - np.log(2.0)
    std = _MOONS_SCALE * noise
    log_density = np.empty(len(X))
    for start in range(0, len(X), _MOON_CHUNK):
        rows = X[start : start + _MOON_CHUNK]
        sq_dist = ((rows[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
        log_density[start : start + _MOON_CHUNK] = logsumexp(
            log_weights - 0.5 * sq_dist / std**2, axis=1
        )
    return log_density - np.log(2.0 * np.pi * std**2)
