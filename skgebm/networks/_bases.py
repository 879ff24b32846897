"""Base distributions of a GEBM, all pushed forward from a standard normal latent.

Every base maps a latent ``z ~ N(0, I)`` to ``x = G(z)``: latent MCMC runs on ``z`` for
every kind. An explicit base (a Gaussian or a normalizing flow) also has an exact
``log_prob`` and can start from the data's Gaussian fit (``initialize_from_data``).
"""

import math

import numpy as np
import torch
from torch import nn

__all__ = ["FlowBase", "GaussianBase", "GeneratorBase"]


def full_precision(x):
    """Switch autocast off where ``x`` lives: an explicit base's density stays exact.

    Mixed precision (``precision="bfloat16"``) speeds up the convolutions of image
    networks; a flow's log-determinants and splines, or a Cholesky solve, would lose
    the digits a normalized density needs.
    """
    return torch.autocast(x.device.type, enabled=False)


class GeneratorBase(nn.Module):
    """Implicit base ``x = G(z)``, ``z ~ N(0, I_latent_dim)``; it has no density.

    Parameters
    ----------
    generator : torch.nn.Module
        Maps ``(n, latent_dim)`` latents to ``(n, ...)`` samples.
    latent_dim : int
        Dimension of the latent space.
    """

    has_density = False

    def __init__(self, generator, latent_dim):
        super().__init__()
        self.generator = generator
        self.latent_dim = int(latent_dim)

    def forward(self, z):
        # under autocast the network computes in lower precision; its samples do not
        return self.generator(z).to(z.dtype)


class FlowBase(nn.Module):
    """Explicit base: a `zuko <https://zuko.readthedocs.io>`_ normalizing flow.

    zuko's transform maps data to latent, so samples are ``x = A(T^{-1}(z))``; this uses
    the caller's latents (drawn from the fit's generator) rather than zuko's own
    ``rsample``, which would read the global RNG. The optional outer affine map ``A``
    (a :class:`GaussianBase`'s ``loc + L u``) carries the data's mean and correlations,
    so a flow built at the identity starts as the data's Gaussian fit and only learns
    what that misses.

    Parameters
    ----------
    flow : zuko.flows.Flow
        An unconditional flow with a standard normal base.
    latent_dim : int
        Its number of features.
    affine : bool, default=False
        Compose the flow with a learned full-rank affine map.
    """

    has_density = True

    def __init__(self, flow, latent_dim, affine=False):
        super().__init__()
        self.flow = flow
        self.latent_dim = int(latent_dim)
        self.affine = GaussianBase(latent_dim) if affine else None

    def forward(self, z):
        with full_precision(z):
            u = self.flow().transform.inv(z)
            return u if self.affine is None else self.affine(u)

    def log_prob(self, x):
        """Exact log-density of the base at ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Points in data space.

        Returns
        -------
        log_prob : torch.Tensor of shape (n_samples,)
        """
        with full_precision(x):
            if self.affine is None:
                return self.flow().log_prob(x)
            u, log_det = self.affine.inverse(x)
            return self.flow().log_prob(u) + log_det

    def initialize_from_data(self, x):
        """Fit the affine map to ``x``'s mean and covariance (with an affine map).

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Training data.
        """
        if self.affine is not None:
            self.affine.initialize_from_data(x)


class GaussianBase(nn.Module):
    """Explicit Gaussian base ``x = loc + L z``, ``L`` lower triangular.

    The simplest explicit base: on standardized data its maximum-likelihood fit is
    the data's correlation structure, and the energy models everything else. It costs
    one matrix product per call, so it suits high-dimensional data where a flow is
    slow. Starts at the standard normal, or at the data's mean and covariance with
    :meth:`initialize_from_data`.

    Parameters
    ----------
    n_features : int
        Dimension of the data and of the latent.
    """

    has_density = True

    def __init__(self, n_features):
        super().__init__()
        self.latent_dim = int(n_features)
        self.loc = nn.Parameter(torch.zeros(n_features))
        self.off_diagonal = nn.Parameter(torch.zeros(n_features, n_features))
        self.log_diagonal = nn.Parameter(torch.zeros(n_features))

    def scale_tril(self):
        """The Cholesky factor ``L`` (positive diagonal)."""
        return torch.tril(self.off_diagonal, -1) + torch.diag(self.log_diagonal.exp())

    def forward(self, z):
        with full_precision(z):
            return self.loc + z @ self.scale_tril().T

    def inverse(self, x):
        """The latent ``L^{-1}(x - loc)`` of ``x`` and the log-Jacobian ``-log|det L|``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Points in data space.

        Returns
        -------
        z : torch.Tensor of shape (n_samples, n_features)
        log_det : torch.Tensor
            A scalar.
        """
        with full_precision(x):
            tril = self.scale_tril()
            z = torch.linalg.solve_triangular(tril, (x - self.loc).T, upper=False).T
            return z, -self.log_diagonal.sum()

    def log_prob(self, x):
        """Exact Gaussian log-density at ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Points in data space.

        Returns
        -------
        log_prob : torch.Tensor of shape (n_samples,)
        """
        z, log_det = self.inverse(x)
        return -0.5 * z.square().sum(-1) + log_det - 0.5 * self.latent_dim * math.log(2 * math.pi)

    @torch.no_grad()
    def initialize_from_data(self, x):
        """Set the mean and covariance to ``x``'s Gaussian fit.

        The covariance ``S`` is shrunk towards a multiple of the identity,
        ``(1 - a) S + a (tr S / d) I``, plus a ridge ``r`` on its diagonal (on
        standardized data, a variance floor), with ``(a, r)`` the first of
        :data:`START_CANDIDATES` whose five-fold cross-validated log-likelihood is not
        clearly below the best one's. No shrinkage when the rows are plenty for the
        dimension, more as they become few, where ``S`` is nearly singular and
        held-out rows would fall thousands of nats below its density. The floor is
        ``1e-3``, which keeps the float32 whitening of training well conditioned,
        unless held-out rows show the data really are thinner: exact linear relations
        between features (one-hot columns, a column that is the sum of others, a
        constant one) then get scikit-learn's ``GaussianMixture`` floor, ``1e-6``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Training data.
        """
        x = x.double()
        shrinkage, ridge = _cross_validated_start(x)
        tril = torch.linalg.cholesky(_shrunk(_covariance(x), shrinkage, ridge))
        self.loc.copy_(x.mean(0))
        self.off_diagonal.copy_(torch.tril(tril, -1))
        self.log_diagonal.copy_(torch.diagonal(tril).log())


#: Shrinkages of the covariance that :meth:`GaussianBase.initialize_from_data` chooses
#: from (0: the maximum-likelihood fit; 1: a multiple of the identity).
SHRINKAGES = (0.0, 0.003, 0.01, 0.03, 0.1, 0.2, 0.4, 0.7, 1.0)

#: Ridges (variance floors) it chooses from, the default first.
RIDGES = (1e-3, 1e-6)

#: ``(shrinkage, ridge)`` pairs in order of preference: the least shrinkage, then the
#: largest ridge.
START_CANDIDATES = tuple((a, r) for a in SHRINKAGES for r in RIDGES)

_N_FOLDS = 5

#: Held-out nats per row below which a deficit to the best shrinkage is ignored.
_TOLERANCE = 0.01


def _covariance(x):
    centered = x - x.mean(0)
    return centered.T @ centered / len(x)


def _shrunk(covariance, shrinkage, ridge):
    identity = torch.eye(len(covariance), dtype=covariance.dtype, device=covariance.device)
    target = covariance.diagonal().mean() * identity
    return (1 - shrinkage) * covariance + shrinkage * target + ridge * identity


def _cross_validated_start(x):
    """The first of :data:`START_CANDIDATES` that is not clearly worse than the best.

    Every row is held out once (row ``i`` in fold ``i % k``, ``k`` = 5 or the number of
    rows if fewer). A candidate is clearly worse when its held-out log-likelihood is
    below the best one's by more than two standard errors of the per-row differences
    and by more than :data:`_TOLERANCE`: a few extreme rows then cannot buy a shrinkage
    (``breast_cancer``), nor can gains of a thousandth of a nat (the 2-D toys).
    """
    n_folds = min(_N_FOLDS, len(x))
    if n_folds < 2:
        return START_CANDIDATES[0]
    fold = torch.arange(len(x), device=x.device) % n_folds
    held_out = torch.empty(len(START_CANDIDATES), len(x), dtype=x.dtype, device=x.device)
    for k in range(n_folds):
        rows = fold == k
        train = x[~rows]
        covariance = _covariance(train)
        for i, (shrinkage, ridge) in enumerate(START_CANDIDATES):
            tril = torch.linalg.cholesky(_shrunk(covariance, shrinkage, ridge))
            normal = torch.distributions.MultivariateNormal(train.mean(0), scale_tril=tril)
            held_out[i, rows] = normal.log_prob(x[rows])
    held_out = held_out.cpu().numpy()
    best = held_out[held_out.mean(1).argmax()]
    for candidate, scores in zip(START_CANDIDATES, held_out):
        if not clearly_better(best, scores, 2, tolerance=_TOLERANCE):
            return candidate


def clearly_better(scores, other, n_standard_errors, tolerance=0.0):
    """Whether ``scores`` beat ``other``, both per held-out row, by a mean gain above
    ``n_standard_errors`` standard errors of it and above ``tolerance``.

    One row shows nothing: its gain has no standard error.
    """
    gains = np.asarray(scores, dtype=np.float64) - np.asarray(other, dtype=np.float64)
    if len(gains) < 2:
        return False
    standard_error = gains.std(ddof=1) / math.sqrt(len(gains))
    return bool(gains.mean() > max(n_standard_errors * standard_error, tolerance))
