"""The heavy-tailed component mixed into a GEBM's density (``tail_weight``).

A flow trained by maximum likelihood has no reason to keep mass beyond its training
rows, and its log-density falls off quadratically there: one test point 30 standard
deviations out (a 5-D Student t) scored -980 nats, hundreds below a Gaussian mixture.
A multivariate Cauchy fitted to the training rows, given a small weight, costs at most
``-log(1 - weight)`` nats anywhere and turns that fall-off into a logarithmic one.
"""

import math

import numpy as np
import torch
from scipy.linalg import solve_triangular
from scipy.special import gammaln
from sklearn.covariance import ledoit_wolf

__all__ = ["fit_tail", "tail_log_density", "sample_tail"]

#: Degrees of freedom of the multivariate Student t: 1, the Cauchy, the heaviest tail
#: whose location and scale still describe the data.
DEGREES_OF_FREEDOM = 1

#: Ridge added to the scale matrix, relative to its mean variance: keeps it positive
#: definite with constant features.
_RIDGE = 1e-3


def fit_tail(X):
    """Location and Cholesky factor of the scale of the tail component of rows ``X``.

    The scale is the Ledoit-Wolf covariance, well conditioned with fewer rows than
    features, plus a small ridge (the identity when every feature is constant).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    location : ndarray of shape (n_features,)
    scale_tril : ndarray of shape (n_features, n_features)
    """
    X = np.asarray(X, dtype=np.float64)
    covariance = ledoit_wolf(X)[0]
    mean_variance = np.trace(covariance) / X.shape[1]
    ridge = _RIDGE * mean_variance if mean_variance > 0 else 1.0
    covariance[np.diag_indices_from(covariance)] += ridge
    return X.mean(axis=0), np.linalg.cholesky(covariance)


def tail_log_density(X, location, scale_tril):
    """Log-density of the multivariate Student t at rows ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    location, scale_tril : ndarray
        As returned by :func:`fit_tail`.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
    """
    df, n_features = DEGREES_OF_FREEDOM, len(location)
    centered = solve_triangular(scale_tril, (X - location).T, lower=True)
    squared_distance = np.square(centered).sum(axis=0)
    return (
        gammaln((df + n_features) / 2)
        - gammaln(df / 2)
        - 0.5 * n_features * math.log(df * math.pi)
        - np.log(np.diag(scale_tril)).sum()
        - 0.5 * (df + n_features) * np.log1p(squared_distance / df)
    )


def sample_tail(n_samples, location, scale_tril, generator):
    """``n_samples`` draws of the multivariate Student t, from a torch ``generator``.

    Parameters
    ----------
    n_samples : int
    location, scale_tril : ndarray
        As returned by :func:`fit_tail`.
    generator : torch.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    """
    device, n_features = generator.device, len(location)
    normal = torch.randn(n_samples, n_features, generator=generator, device=device)
    chi = torch.randn(n_samples, DEGREES_OF_FREEDOM, generator=generator, device=device)
    chi = chi.square().mean(dim=1, keepdim=True).sqrt()  # sqrt(chi2(df) / df)
    standard = (normal / chi).double().cpu().numpy()
    return location + standard @ scale_tril.T
