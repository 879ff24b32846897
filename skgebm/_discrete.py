"""Features on which a density degenerates: a few values, each repeated many times."""

import numpy as np

from ._warn import warn
from .exceptions import DiscreteFeaturesWarning

# A feature whose training values repeat this many times on average is discrete: binary
# flags, counts, pixel intensities (``load_diabetes``' sex, ``load_digits``), not rounded
# measurements (``load_iris`` at most 6.8, ``load_wine`` 4.6, ``load_breast_cancer`` 1.4).
MIN_MEAN_REPEATS = 10
# Features named in the warning, at most.
_SHOWN = 3


def warn_discrete_features(X, feature_names=None):
    """Warn with :class:`DiscreteFeaturesWarning` if features of ``X`` are discrete.

    A density can put a spike of any height on a value that repeats: a flexible model
    (a flow) grows one as it trains, its log-likelihood grows with it, and it no longer
    compares with another model's, nor with that of continuous data.
    """
    n_rows = len(X)
    counts = np.array([len(np.unique(column)) for column in X.T])
    discrete = np.flatnonzero(n_rows >= MIN_MEAN_REPEATS * counts)
    if not len(discrete):
        return
    names = [
        (repr(str(feature_names[j])) if feature_names is not None else str(j))
        + f" ({counts[j]} value{'s' if counts[j] > 1 else ''})"
        for j in discrete[:_SHOWN]
    ]
    more = f" and {len(discrete) - _SHOWN} more" if len(discrete) > _SHOWN else ""
    warn(
        f"{len(discrete)} of the {X.shape[1]} features hold a few values, repeated "
        f"{MIN_MEAN_REPEATS} times or more on average over the {n_rows} rows: "
        f"{', '.join(names)}{more}. A density can put a spike of any height on a "
        "repeated value, so on these features the model's log-likelihood grows with "
        "training and does not compare with other models'. Dequantize them before "
        "fitting and scoring: add noise uniform over the spacing of their values "
        "(for integers, X + rng.uniform(size=X.shape)).",
        DiscreteFeaturesWarning,
    )
