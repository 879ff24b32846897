"""Training data on which a density degenerates.

Two cases: features that take a few values far apart, each repeated many times, and
rows that span fewer dimensions than there are features.
"""

import numpy as np
from sklearn.utils import check_random_state

from ._warn import warn
from .exceptions import CollinearFeaturesWarning, DiscreteFeaturesWarning

# A feature whose training values repeat this many times on average is discrete: binary
# flags, counts, pixel intensities (``load_diabetes``' sex, ``load_digits``), not rounded
# measurements (``load_iris`` at most 6.8, ``load_wine`` 4.6, ``load_breast_cancer`` 1.4).
MIN_MEAN_REPEATS = 10
# ... and its values lie at least this many standard deviations apart (the median gap):
# a flow does not resolve a finer grid. On 5,000 rows of two standard normals with one
# rounded to a grid of this many standard deviations, the default model's held-out
# log-likelihood was that of the unrounded data (-2.85) for 0.02 to 0.15, and rose to
# 1.67, 2.33 and 3.04 for 0.25, 0.5 and 1 (2,000 iterations). Integer ages (0.05) and
# rounded measurements are not reported.
MIN_GAP = 0.2
# Features named in the warning, at most.
_SHOWN = 3


def discrete_spacings(X):
    """The spacing of each discrete feature's values (their median gap), NaN for the
    continuous features.

    A feature is discrete when its values repeat ``MIN_MEAN_REPEATS`` times on average
    and lie ``MIN_GAP`` standard deviations apart or more; a constant one has spacing 0.
    """
    spacings = np.full(X.shape[1], np.nan)
    for j, (column, std) in enumerate(zip(X.T, _stds(X))):
        values = np.unique(column)
        if len(X) < MIN_MEAN_REPEATS * len(values):
            continue
        spacing = np.median(np.diff(values)) if len(values) > 1 else 0.0
        if len(values) == 1 or spacing >= MIN_GAP * std:
            spacings[j] = spacing
    return spacings


def _stds(X):
    """The features' standard deviations, ``inf`` where their variance overflows (the
    estimators then refuse ``X`` with a clear error)."""
    with np.errstate(over="ignore", invalid="ignore"):
        stds = X.std(axis=0)
    return np.where(np.isfinite(stds), stds, np.inf)


def dequantization_widths(X):
    """The width of the uniform noise that dequantizes each feature of ``X``: the
    spacing of a discrete feature's values, 0 for the features left as they are.

    Only the features whose spacing is at most ``sqrt(12)`` standard deviations: the
    noise's standard deviation, the spacing over ``sqrt(12)``, is then at most the
    feature's own. A wider noise would bury a rare value (a flag set on 1% of the rows
    is 10 standard deviations from the rest) under its neighbours' mass.
    """
    spacings = discrete_spacings(X)
    spread = np.nan_to_num(spacings) <= np.sqrt(12) * _stds(X)
    return np.where(spread & (spacings > 0), spacings, 0.0)


def dequantized(X, widths, random_states):
    """Copies of ``X``, one per random state, each feature spread uniformly over a
    cell of its ``widths`` around its value (:func:`dequantization_widths`)."""
    if not np.any(widths):
        return [X for _ in random_states]
    return [
        X + check_random_state(seed).uniform(-0.5, 0.5, size=X.shape) * widths
        for seed in random_states
    ]


def warn_discrete_features(X, feature_names=None):
    """Warn with :class:`DiscreteFeaturesWarning` if features of ``X`` are discrete.

    A density can put a spike of any height on a value that repeats: a flexible model
    (a flow) grows one as it trains, where the values lie far enough apart for it to
    resolve them; its log-likelihood grows with it, and no longer compares with another
    model's, nor with that of continuous data.
    """
    n_rows = len(X)
    discrete = np.flatnonzero(~np.isnan(discrete_spacings(X)))
    if not len(discrete):
        return
    counts = [len(np.unique(X[:, j])) for j in discrete[:_SHOWN]]
    names = [
        _name(j, feature_names) + f" ({count} value{'s' if count > 1 else ''})"
        for j, count in zip(discrete, counts)
    ]
    more = f" and {len(discrete) - _SHOWN} more" if len(discrete) > _SHOWN else ""
    warn(
        f"{len(discrete)} of the {X.shape[1]} features hold a few values far apart "
        f"({MIN_GAP:g} standard deviations or more), repeated {MIN_MEAN_REPEATS} times "
        f"or more on average over the {n_rows} rows: "
        f"{', '.join(names)}{more}. A density can put a spike of any height on a "
        "repeated value, so on these features the model's log-likelihood grows with "
        "training and does not compare with other models'. Dequantize them before "
        "fitting and scoring: add noise uniform over the spacing of their values "
        "(for integers, X + rng.uniform(size=X.shape)).",
        DiscreteFeaturesWarning,
    )


def warn_collinear_features(X, feature_names=None):
    """Warn with :class:`CollinearFeaturesWarning` if the rows of ``X`` span too few dimensions.

    Rows on an affine subspace of lower dimension than the non-constant features (a
    feature that is a sum of others, a full one-hot group, fewer rows than features)
    have no density in the features' space: any model's log-likelihood there is set by
    how thin it may make itself across the subspace, not by the data. Constant features
    are left to :func:`warn_discrete_features`.
    """
    varying = np.flatnonzero(X.max(axis=0) > X.min(axis=0))
    if len(varying) == 0:
        return
    Z = X[:, varying] / np.abs(X[:, varying]).max(axis=0)  # no overflow, any finite X
    Z -= Z.mean(axis=0)
    Z /= np.linalg.norm(Z, axis=0)
    # the singular values and right vectors of Z are those of its QR factor R, d x d
    _, singular_values, right = np.linalg.svd(np.linalg.qr(Z, mode="r"), full_matrices=False)
    tolerance = singular_values[0] * max(Z.shape) * np.finfo(Z.dtype).eps
    rank = int((singular_values > tolerance).sum())
    if rank == len(varying):
        return
    if len(X) <= len(varying):
        cause = f"there are {len(X)} rows for {len(varying)} varying features"
    else:
        # a null direction of Z: the features with weight in it are dependent
        null = np.abs(right[-1])
        involved = varying[null > 1e-3 * null.max()]
        names = ", ".join(_name(j, feature_names) for j in involved[:_SHOWN])
        more = f" and {len(involved) - _SHOWN} more" if len(involved) > _SHOWN else ""
        cause = f"for one, a linear combination of features {names}{more} is constant"
    warn(
        f"The {len(X)} training rows span {rank} dimensions of the {len(varying)} "
        f"varying features: {cause}. A density on a lower-dimensional subspace has no "
        "likelihood in the features' space; the model's log-likelihood is set by how "
        "thin it makes itself across the subspace, and compares neither with other "
        "models' nor across data. Drop the dependent features (one of each one-hot "
        "group, a total of others) or project onto the span (PCA) before fitting.",
        CollinearFeaturesWarning,
    )


def _name(j, feature_names):
    """Feature ``j`` as a message names it: its name if it has one, else its index."""
    return repr(str(feature_names[j])) if feature_names is not None else str(j)
