"""What every objective shares: the learned log-partition, base losses, validation."""

from abc import ABCMeta, abstractmethod

import torch
from torch import nn
from torch.nn.functional import softplus

from ._functional import gradient_penalty, logmeanexp, weighted_mmd2

__all__ = ["BASE_LOSSES", "EnergyObjective"]

#: Objectives of the base step, by name.
BASE_LOSSES = ("kale", "mle", "adversarial")


class EnergyObjective(nn.Module, metaclass=ABCMeta):
    """Trains the energy ``E`` of ``Q(dx) ∝ exp(-E(x)) B(dx)``, and the base ``B``.

    Subclasses define :meth:`energy_loss`; the base step, the held-out criterion and
    the learned scalar log-partition ``A`` are shared. The objective is the training
    net's criterion, so ``A`` is trained by the energy's optimizer and saved with the
    model. Whatever the objective, the fitted model is scored the same way, through a
    Monte-Carlo estimate of the normalizer over base samples.

    Parameters
    ----------
    gradient_penalty : float, default=0.1
        Weight of :func:`~skgebm.objectives.gradient_penalty` in the energy loss (the
        reference uses 1 for images and 0.1 for tabular data).
    base_loss : {"kale", "mle", "adversarial"}, default="kale"
        ``"kale"``: the GEBM base loss ``-logmeanexp(-E(G(z)))``, which moves base
        samples where the energy is low. ``"mle"``: maximum likelihood of an explicit
        base, ``-mean_data log b(x)``; the energy then corrects what the base misses.
        ``"adversarial"``: the base maximises the classification loss of the
        noise-contrastive energy (flow-contrastive estimation).
    """

    #: Name of the monitored quantity in the training history.
    stat_name = "objective"
    #: Whether :meth:`energy_loss` needs base samples ``x_base``.
    uses_base_samples = True
    #: Whether the objective needs the base's density.
    needs_base_density = False
    #: Whether :meth:`energy_loss` can be captured in a CUDA graph: tensor operations
    #: only, on inputs of fixed shapes, with no host synchronisation.
    capturable = False

    def __init__(self, gradient_penalty=0.1, base_loss="kale"):
        super().__init__()
        if base_loss not in BASE_LOSSES:
            raise ValueError(f"base_loss must be one of {BASE_LOSSES}, got {base_loss!r}.")
        self.gradient_penalty = gradient_penalty
        self.base_loss_kind = base_loss
        self.log_partition = nn.Parameter(torch.zeros(()))

    @abstractmethod
    def energy_loss(self, energy, base, x_data, x_base, generator):
        """Loss of an energy step and the monitored statistic (detached).

        Parameters
        ----------
        energy, base : torch.nn.Module
            The networks.
        x_data : torch.Tensor
            A minibatch of data.
        x_base : torch.Tensor or None
            As many base samples (None unless ``uses_base_samples``).
        generator : torch.Generator
            Source of any randomness of the loss.

        Returns
        -------
        loss : torch.Tensor
            A scalar to minimise in the energy's parameters (and ``A``).
        stat : torch.Tensor
            The objective's monitored statistic, named :attr:`stat_name` in the
            training history.
        """

    def penalty(self, energy, x_data, x_other, generator):
        """The weighted gradient penalty (0 when its weight is 0).

        Parameters
        ----------
        energy : torch.nn.Module
            The energy network.
        x_data : torch.Tensor
            A minibatch of data.
        x_other : torch.Tensor
            As many points to interpolate with the data.
        generator : torch.Generator
            Source of the interpolation weights.

        Returns
        -------
        penalty : torch.Tensor or float
            A scalar, or ``0.0`` when ``gradient_penalty`` is 0.
        """
        if not self.gradient_penalty:
            return 0.0
        return self.gradient_penalty * gradient_penalty(energy, x_data, x_other, generator)

    def base_loss(self, energy, base, x_data, z):
        """Loss of a base step, on data ``x_data`` and latents ``z``.

        Parameters
        ----------
        energy, base : torch.nn.Module
            The networks.
        x_data : torch.Tensor
            A minibatch of data (used by ``base_loss="mle"``).
        z : torch.Tensor
            Standard normal latents of the base samples (used by the other losses).

        Returns
        -------
        loss : torch.Tensor
            A scalar to minimise in the base's parameters.
        """
        if self.base_loss_kind == "mle":
            return -base.log_prob(x_data).mean()
        shifted = energy(base(z))
        if self.base_loss_kind == "adversarial":
            return -softplus(-(shifted + self.log_partition)).mean()
        return -logmeanexp(-shifted)

    def validation_loss(self, energy, base, x_data, x_base):
        """Held-out criterion for early stopping (lower is better).

        The negative log-likelihood of the model when the base has a density, with the
        partition estimated on the base samples ``x_base``. Otherwise the squared MMD
        between the held-out data and the model, the samples ``x_base`` weighted by
        ``exp(-E)`` (:func:`~skgebm.objectives.weighted_mmd2`): a generator has no
        likelihood, and the held-out KALE is no substitute, since it rises with the
        energy's discrimination, which is largest while the generator is poor.

        Parameters
        ----------
        energy, base : torch.nn.Module
            The networks.
        x_data : torch.Tensor
            Held-out data.
        x_base : torch.Tensor
            Base samples that estimate the partition.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        energy_base = energy(x_base)
        if not base.has_density:
            return weighted_mmd2(x_base, -energy_base, x_data)
        log_ratio = -energy(x_data) - logmeanexp(-energy_base)
        return -(base.log_prob(x_data) + log_ratio).mean()

    @torch.no_grad()
    def initialize_log_partition(self, energy_base):
        """Start ``A`` at its optimum for the current energy, ``logmeanexp(-E)``.

        Parameters
        ----------
        energy_base : torch.Tensor
            The energy of base samples.
        """
        self.log_partition.copy_(logmeanexp(-energy_base))
