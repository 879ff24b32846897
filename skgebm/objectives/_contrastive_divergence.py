"""Contrastive divergence with persistent latent Langevin chains and a replay buffer."""

import math
from contextlib import contextmanager

import torch

from ..samplers import ULA
from ._base import EnergyObjective

__all__ = ["ContrastiveDivergence"]


class ContrastiveDivergence(EnergyObjective):
    """Maximum likelihood of ``q ∝ exp(-E) b`` with negatives from short-run MCMC.

    The gradient of the log-likelihood in the energy's parameters is
    ``-mean_data grad E + E_q[grad E]``; the expectation under the model uses
    negative samples from persistent Langevin chains kept in a replay buffer
    (Du & Mordatch, 2019). Each step draws chains from the buffer, restarts each
    with probability ``reinit_prob`` from a fresh base sample (the base is the
    initialiser), runs ``n_steps`` of unadjusted Langevin and writes them back.

    The chains run in the base's latent space on ``-|z|^2 / 2 - E(G(z))``, the same
    target as :meth:`GEBMEstimator.sample <skgebm.GEBMEstimator.sample>`: with a flow
    the latent and data spaces are in bijection, so this is Langevin sampling of
    ``q`` in data space under a reparameterisation that the base makes well
    conditioned, and it works for implicit generators too. A penalty
    ``energy_l2 * mean(E^2)`` on data and negatives keeps the energy's scale
    bounded, as is standard for CD. ``log Z`` is not learned: the estimator's
    Monte-Carlo estimate normalizes the scores.

    Parameters
    ----------
    n_steps : int, default=20
        Langevin steps per energy step.
    step_size : float, default=0.05
        Langevin step size in the latent space.
    reinit_prob : float, default=0.05
        Probability that a chain drawn from the buffer restarts from the base.
    buffer_size : int, default=10000
        Number of persistent chains.
    energy_l2 : float, default=0.1
        Weight of the energy magnitude penalty.
    gradient_penalty : float, default=0.1
        Weight of the gradient penalty at interpolates of data and negatives.
    base_loss : {"mle", "kale", "adversarial"}, default="mle"
        Objective of the base step.
    """

    stat_name = "cd_gap"
    uses_base_samples = False

    def __init__(
        self,
        n_steps=20,
        step_size=0.05,
        reinit_prob=0.05,
        buffer_size=10000,
        energy_l2=0.1,
        gradient_penalty=0.1,
        base_loss="mle",
    ):
        super().__init__(gradient_penalty, base_loss)
        self.n_steps = n_steps
        self.step_size = step_size
        self.reinit_prob = reinit_prob
        self.buffer_size = buffer_size
        self.energy_l2 = energy_l2
        self.chains = None  # latent states, created at the first step

    def negative_samples(self, energy, base, n_samples, generator):
        """Advance ``n_samples`` chains of the buffer and return their data points.

        Parameters
        ----------
        energy, base : torch.nn.Module
            The networks; the chains target ``-|z|^2 / 2 - E(G(z))``.
        n_samples : int
            Number of chains drawn from the buffer.
        generator : torch.Generator
            Source of the draws, the restarts and the Langevin noise.

        Returns
        -------
        x_negative : torch.Tensor
            ``G(z)`` at the advanced chains, without a graph; all NaN when the
            energy is NaN or a chain diverged, so that the step's loss is.
        """
        device = self.log_partition.device
        if self.chains is None:
            self.chains = torch.randn(
                max(self.buffer_size, n_samples), base.latent_dim, generator=generator,
                device=device,
            )
        # without replacement: a chain drawn twice would be written back twice, and
        # which write is kept is unspecified on a GPU
        index = torch.randperm(len(self.chains), generator=generator, device=device)
        index = index[:n_samples]
        z = self.chains[index]
        restart = torch.rand(n_samples, generator=generator, device=device) < self.reinit_prob
        restart |= ~torch.isfinite(z).all(dim=1)  # a chain that ran off starts afresh
        fresh = torch.randn(z.shape, generator=generator, device=device)
        z = torch.where(restart[:, None], fresh, z)

        def log_prob(z):
            return -0.5 * z.square().sum(-1) - energy(base(z))

        with _evaluation(energy, base):
            with torch.no_grad():
                diverged = not torch.isfinite(log_prob(z)).all()  # a NaN energy
            if not diverged:
                sampler = ULA(step_size=self.step_size, n_steps=self.n_steps, trace_chains=0)
                z, diagnostics = sampler.sample(log_prob, z, generator=generator)
                self.chains[index] = z
                diverged = diagnostics.n_diverged > 0  # a step overshot
            with torch.no_grad():
                x_negative = base(z)
        # a clamped energy can be finite even there: the loss is made NaN, so that the
        # trainer restores its last finite state (or reports the divergence)
        return torch.full_like(x_negative, math.nan) if diverged else x_negative

    def energy_loss(self, energy, base, x_data, x_base, generator):
        """The energy gap between data and fresh negatives from :meth:`negative_samples`,
        plus the magnitude and gradient penalties; the statistic is the gap
        ``mean_data E - mean_negatives E``, which goes to 0 as the model's samples
        match the data.

        Arguments and returns as in
        :meth:`~skgebm.objectives.EnergyObjective.energy_loss`.
        """
        x_negative = self.negative_samples(energy, base, len(x_data), generator)
        energy_data, energy_negative = energy(x_data), energy(x_negative)
        gap = energy_data.mean() - energy_negative.mean()
        magnitude = (energy_data.square().mean() + energy_negative.square().mean()) / 2
        loss = (
            gap
            + self.energy_l2 * magnitude
            + self.penalty(energy, x_data, x_negative, generator)
        )
        return loss, gap.detach()


@contextmanager
def _evaluation(*modules):
    """The modules in evaluation mode while the chains run, then back.

    In training mode batch normalization would couple the chains through their batch
    statistics (a chain's target would depend on the others) and update its running
    statistics with latents that are not N(0, I); spectral normalization would run
    its power iteration at every step.
    """
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes):
            module.train(mode)
