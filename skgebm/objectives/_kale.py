"""KALE: the GEBM objective (Arbel, Zhou & Gretton, 2021, Section 3)."""

import torch

from ._base import EnergyObjective

__all__ = ["KALE"]


class KALE(EnergyObjective):
    """The KALE lower bound of the generalized likelihood.

    The energy step maximises

        KALE = 1 - mean_data(E + A) - mean_base(exp(-(E + A)))

    over the energy ``E`` and the scalar log-partition ``A``; at its optimum
    ``E + A = -log(dP/dB)``, so ``exp(-E) B`` recovers the data distribution. With
    ``base_loss="kale"`` the base then descends ``-logmeanexp(-E(G(z)))``.

    Parameters
    ----------
    gradient_penalty : float, default=0.1
        Weight of the gradient penalty.
    base_loss : {"kale", "mle", "adversarial"}, default="kale"
        Objective of the base step, see :class:`EnergyObjective`.

    Examples
    --------
    >>> import torch
    >>> from skgebm.objectives import KALE
    >>> kale = KALE(gradient_penalty=0.0)
    >>> zero = torch.zeros(4)
    >>> kale.bound(zero, zero).item()  # a constant energy finds no difference
    0.0
    """

    stat_name = "kale"
    capturable = True

    def bound(self, energy_data, energy_base):
        """The KALE lower bound from energies on data and on base samples.

        Parameters
        ----------
        energy_data : torch.Tensor
            The energy of a minibatch of data.
        energy_base : torch.Tensor
            The energy of base samples.

        Returns
        -------
        kale : torch.Tensor
            A scalar, differentiable in the energy and in ``A``.
        """
        shifted_base = energy_base + self.log_partition
        return 1 - (energy_data + self.log_partition).mean() - torch.exp(-shifted_base).mean()

    def energy_loss(self, energy, base, x_data, x_base, generator):
        """``-KALE`` plus the gradient penalty; the statistic is the KALE bound, an
        estimate of a lower bound of ``KL(P || B)``.

        Arguments and returns as in
        :meth:`~skgebm.objectives.EnergyObjective.energy_loss`.
        """
        kale = self.bound(energy(x_data), energy(x_base))
        loss = -kale + self.penalty(energy, x_data, x_base, generator)
        return loss, kale.detach()
