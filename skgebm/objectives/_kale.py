"""The KALE objective of a GEBM (Arbel, Zhou & Gretton, 2021, Section 3).

The energy maximises the KALE lower bound of the generalized likelihood,

    KALE = 1 - mean_data(E + A) - mean_base(exp(-(E + A))),

over the energy ``E`` and a scalar log-partition ``A``; at its optimum
``E + A = -log(dP/dB)``, so ``exp(-E) B`` recovers the data distribution. The base then
descends ``-logmeanexp(-E(G(z)))``, moving its mass where the energy is low.
"""

import math

import torch
from torch import nn

__all__ = ["KALE", "gradient_penalty", "logmeanexp"]


def logmeanexp(values):
    """``log(mean(exp(values)))`` over all entries, computed stably."""
    return torch.logsumexp(values.reshape(-1), dim=0) - math.log(values.numel())


def gradient_penalty(energy, x_data, x_base, generator):
    """Mean squared gradient norm of ``energy`` at random interpolates.

    As in the reference implementation this is ``mean ||grad E(x_hat)||^2`` with
    ``x_hat = t x_data + (1 - t) x_base``, ``t ~ U(0, 1)`` per pair — a soft Lipschitz
    control, not WGAN-GP's ``(||g|| - 1)^2``.
    """
    shape = (len(x_data),) + (1,) * (x_data.dim() - 1)
    t = torch.rand(shape, generator=generator, device=x_data.device, dtype=x_data.dtype)
    x_hat = (t * x_data + (1 - t) * x_base).requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(x_hat).sum(), x_hat, create_graph=True)
    return grad.pow(2).reshape(len(grad), -1).sum(dim=1).mean()


class KALE(nn.Module):
    """KALE objective: energy and base losses of a GEBM, with the learned ``A``.

    The module is the training net's criterion, so the log-partition ``A`` is trained
    by the energy's optimizer and saved with the model.

    Parameters
    ----------
    gradient_penalty : float, default=0.1
        Weight of :func:`gradient_penalty` in the energy loss (the reference uses 1 for
        images and 0.1 for tabular data).
    base_loss : {"kale", "mle"}, default="kale"
        ``"kale"``: the paper's base loss ``-logmeanexp(-E(G(z)))``. ``"mle"``: maximum
        likelihood of an explicit base, ``-mean_data log b(x)``; the energy then corrects
        what the base misses (at the KALE optimum ``b exp(-E-A)`` is the data density
        whatever the base).
    """

    def __init__(self, gradient_penalty=0.1, base_loss="kale"):
        super().__init__()
        self.gradient_penalty = gradient_penalty
        self.base_loss_kind = base_loss
        self.log_partition = nn.Parameter(torch.zeros(()))

    def bound(self, energy_data, energy_base):
        """The KALE lower bound from energies on data and on base samples."""
        shifted_base = energy_base + self.log_partition
        return 1 - (energy_data + self.log_partition).mean() - torch.exp(-shifted_base).mean()

    def energy_loss(self, energy, x_data, x_base, generator):
        """Loss of an energy step and the KALE estimate (detached)."""
        kale = self.bound(energy(x_data), energy(x_base))
        loss = -kale
        if self.gradient_penalty:
            loss = loss + self.gradient_penalty * gradient_penalty(
                energy, x_data, x_base, generator
            )
        return loss, kale.detach()

    def base_loss(self, energy, base, x_data, z):
        """Loss of a base step."""
        if self.base_loss_kind == "mle":
            return -base.log_prob(x_data).mean()
        return -logmeanexp(-energy(base(z)))

    def validation_loss(self, energy, base, x_data, z):
        """Held-out criterion for early stopping (lower is better).

        The negative log-likelihood of the GEBM when the base has a density, with the
        partition estimated on the base samples ``G(z)``; otherwise the negative KALE.
        """
        energy_base = energy(base(z))
        if base.has_density:
            log_q = base.log_prob(x_data) - energy(x_data) - logmeanexp(-energy_base)
            return -log_q.mean()
        return -self.bound(energy(x_data), energy_base)

    @torch.no_grad()
    def initialize_log_partition(self, energy_base):
        """Start ``A`` at its optimum for the current energy, ``logmeanexp(-E)``."""
        self.log_partition.copy_(logmeanexp(-energy_base))
