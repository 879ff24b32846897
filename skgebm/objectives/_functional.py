"""Stateless pieces shared by the objectives."""

import math

import torch

from ..metrics import median_heuristic

__all__ = ["gradient_penalty", "logmeanexp", "model_score", "weighted_mmd2"]


def logmeanexp(values):
    """``log(mean(exp(values)))`` over all entries, computed stably.

    Parameters
    ----------
    values : torch.Tensor
        Any shape; all its entries are averaged.

    Returns
    -------
    value : torch.Tensor
        A scalar.
    """
    return torch.logsumexp(values.reshape(-1), dim=0) - math.log(values.numel())


def gradient_penalty(energy, x_data, x_other, generator):
    """Mean squared gradient norm of ``energy`` at random interpolates.

    As in the reference implementation this is ``mean ||grad E(x_hat)||^2`` with
    ``x_hat = t x_data + (1 - t) x_other``, ``t ~ U(0, 1)`` per pair — a soft Lipschitz
    control, not WGAN-GP's ``(||g|| - 1)^2``.

    Parameters
    ----------
    energy : callable
        Maps ``(n, ...)`` points to ``(n,)`` energies.
    x_data : torch.Tensor
        A minibatch of data.
    x_other : torch.Tensor
        As many points to pair with the data (base samples or negatives).
    generator : torch.Generator
        Source of the interpolation weights ``t``.

    Returns
    -------
    penalty : torch.Tensor
        A scalar, differentiable in the energy's parameters.
    """
    shape = (len(x_data),) + (1,) * (x_data.dim() - 1)
    t = torch.rand(shape, generator=generator, device=x_data.device, dtype=x_data.dtype)
    x_hat = (t * x_data + (1 - t) * x_other).requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(x_hat).sum(), x_hat, create_graph=True)
    return grad.pow(2).reshape(len(grad), -1).sum(dim=1).mean()


def model_score(energy, base, x):
    """Score ``grad_x log q(x) = grad_x log b(x) - grad_x E(x)`` of the model at ``x``.

    The base's part is a constant for the energy's parameters (the base has its own
    objective), so only the energy's part keeps its graph, for score-matching losses
    that differentiate through it.

    Parameters
    ----------
    energy : callable
        Maps ``(n, ...)`` points to ``(n,)`` energies.
    base : torch.nn.Module
        An explicit base, with a ``log_prob`` method.
    x : torch.Tensor
        Where to evaluate the score.

    Returns
    -------
    score : torch.Tensor
        The model's score, of the shape of ``x``.
    x : torch.Tensor
        A detached copy of ``x`` that requires grad, the variable ``score`` is a
        function of (for Hessian-vector products).
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (base_score,) = torch.autograd.grad(base.log_prob(x).sum(), x)
        (energy_grad,) = torch.autograd.grad(energy(x).sum(), x, create_graph=True)
    return base_score.detach() - energy_grad, x


def weighted_mmd2(x, log_weights, y):
    r"""Squared MMD between a weighted sample and ``y``, Gaussian kernel of median width.

    A GEBM :math:`Q \propto \exp(-E) B` is its base samples weighted by
    :math:`\exp(-E)` (self-normalized importance weights), so its discrepancy to
    held-out data needs no MCMC: with ``log_weights = -E(x)`` this is the MMD² of the
    model, with equal weights that of the base. The bandwidth is
    :func:`~skgebm.metrics.median_heuristic` of ``y``, the same for every ``x``
    compared with the same ``y``. The ``y``-``y`` term leaves out self-pairs (unbiased); the
    weighted ``x``-``x`` term keeps them, which adds about :math:`\sum_i w_i^2`,
    the inverse effective sample size of the weights: an energy that leaves few
    effective samples is charged for it.

    Parameters
    ----------
    x : torch.Tensor of shape (n, d)
        The model's samples.
    log_weights : torch.Tensor of shape (n,)
        Their unnormalized log-weights.
    y : torch.Tensor of shape (m, d)
        The reference sample.

    Returns
    -------
    mmd2 : torch.Tensor
        A scalar; 0 on average when ``y`` is a sample of the weighted distribution,
        up to the weights' term.
    """
    bandwidth = median_heuristic(y.detach().cpu().numpy()) if len(y) > 1 else 1.0

    def kernel(a, b):
        return torch.exp(-torch.cdist(a, b).square() / (2 * bandwidth**2))

    weights = torch.softmax(log_weights.reshape(-1), dim=0)
    m = len(y)
    k_yy = kernel(y, y)
    xx = weights @ kernel(x, x) @ weights
    yy = (k_yy.sum() - k_yy.diagonal().sum()) / max(m * (m - 1), 1)
    xy = (weights @ kernel(x, y)).mean()
    return xx + yy - 2 * xy
