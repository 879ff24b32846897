"""Base distributions of a GEBM, both pushed forward from a standard normal latent.

Every base maps a latent ``z ~ N(0, I)`` to ``x = G(z)``: latent MCMC runs on ``z`` for
both kinds. An explicit base (a normalizing flow) also has an exact ``log_prob``.
"""

import math

import torch
from torch import nn

__all__ = ["FlowBase", "GaussianBase", "GeneratorBase"]


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
        return self.generator(z)


class FlowBase(nn.Module):
    """Explicit base: a `zuko <https://zuko.readthedocs.io>`_ normalizing flow.

    zuko's transform maps data to latent, so samples are ``x = T^{-1}(z)``; this uses
    the caller's latents (drawn from the fit's generator) rather than zuko's own
    ``rsample``, which would read the global RNG.

    Parameters
    ----------
    flow : zuko.flows.Flow
        An unconditional flow with a standard normal base.
    latent_dim : int
        Its number of features.
    """

    has_density = True

    def __init__(self, flow, latent_dim):
        super().__init__()
        self.flow = flow
        self.latent_dim = int(latent_dim)

    def forward(self, z):
        return self.flow().transform.inv(z)

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
        return self.flow().log_prob(x)


class GaussianBase(nn.Module):
    """Explicit Gaussian base ``x = loc + L z``, ``L`` lower triangular.

    The simplest explicit base: on standardized data its maximum-likelihood fit is
    the data's correlation structure, and the energy models everything else. It costs
    one matrix product per call, so it suits high-dimensional data where a flow is
    slow. Starts at the standard normal.

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
        return self.loc + z @ self.scale_tril().T

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
        z = torch.linalg.solve_triangular(
            self.scale_tril(), (x - self.loc).T, upper=False
        ).T
        return (
            -0.5 * z.square().sum(-1)
            - self.log_diagonal.sum()
            - 0.5 * self.latent_dim * math.log(2 * math.pi)
        )
