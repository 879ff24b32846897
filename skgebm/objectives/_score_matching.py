"""Score matching of the model's energy: denoising and sliced (Fisher divergence)."""

import torch

from ._base import EnergyObjective
from ._functional import model_score

__all__ = ["DenoisingScoreMatching", "SlicedScoreMatching"]


class DenoisingScoreMatching(EnergyObjective):
    """Denoising score matching (Vincent, 2011) of ``q ∝ exp(-E) b``.

    Matches the model's score ``grad log b - grad E`` at noisy data
    ``x + sigma eps`` to the score of the noising kernel, ``-eps / sigma``: the loss
    ``mean ||sigma s(x + sigma eps) + eps||^2 / 2`` is the Fisher divergence to the
    data smoothed at scale ``sigma``, up to a constant. No sampling and no
    normalizer: ``log Z`` is left to the estimator's Monte-Carlo estimate. Needs an
    explicit base, whose score enters the model's.

    Parameters
    ----------
    noise_scale : float, default=0.3
        ``sigma``, in standardized units: small values fit sharper densities at a
        higher variance of the loss.
    gradient_penalty : float, default=0.0
        Weight of the gradient penalty at interpolates of data and noisy data.
    base_loss : {"mle", "kale", "adversarial"}, default="mle"
        Objective of the base step.
    """

    stat_name = "fisher"
    uses_base_samples = False
    needs_base_density = True

    def __init__(self, noise_scale=0.3, gradient_penalty=0.0, base_loss="mle"):
        super().__init__(gradient_penalty, base_loss)
        self.noise_scale = noise_scale

    def energy_loss(self, energy, base, x_data, x_base, generator):
        """The denoising Fisher divergence at noisy data plus the gradient penalty; the
        statistic is the divergence alone.

        Arguments and returns as in
        :meth:`~skgebm.objectives.EnergyObjective.energy_loss`.
        """
        eps = torch.randn(
            x_data.shape, generator=generator, device=x_data.device, dtype=x_data.dtype
        )
        x_noisy = x_data + self.noise_scale * eps
        score, _ = model_score(energy, base, x_noisy)
        fisher = (self.noise_scale * score + eps).square().sum(-1).mean() / 2
        loss = fisher + self.penalty(energy, x_data, x_noisy.detach(), generator)
        return loss, fisher.detach()


class SlicedScoreMatching(EnergyObjective):
    """Sliced score matching with variance reduction (Song et al., 2019).

    Minimises ``mean(v^T grad_x(v^T s(x)) + ||s(x)||^2 / 2)`` over data ``x`` and
    Gaussian directions ``v``, an unbiased estimate of the Fisher divergence between
    the data and the model ``q ∝ exp(-E) b`` up to a constant, with one Hessian-vector
    product instead of a Hessian trace. The base's share of the first term does not
    depend on the energy and is dropped. Needs an explicit base.

    Parameters
    ----------
    gradient_penalty : float, default=0.0
        Weight of the gradient penalty at interpolates of data and base samples.
    base_loss : {"mle", "kale", "adversarial"}, default="mle"
        Objective of the base step.
    """

    stat_name = "fisher"
    needs_base_density = True

    def __init__(self, gradient_penalty=0.0, base_loss="mle"):
        super().__init__(gradient_penalty, base_loss)

    @property
    def uses_base_samples(self):
        return bool(self.gradient_penalty)

    def energy_loss(self, energy, base, x_data, x_base, generator):
        """The sliced Fisher divergence at data plus the gradient penalty; the
        statistic is the divergence alone, up to a constant.

        Arguments and returns as in
        :meth:`~skgebm.objectives.EnergyObjective.energy_loss`.
        """
        v = torch.randn(
            x_data.shape, generator=generator, device=x_data.device, dtype=x_data.dtype
        )
        score, x = model_score(energy, base, x_data)
        # the model's score is base_score - grad E; only -grad E depends on x here
        with torch.enable_grad():
            (hessian_v,) = torch.autograd.grad(
                (score * v).sum(), x, create_graph=True
            )
        fisher = ((hessian_v * v).sum(-1) + score.square().sum(-1) / 2).mean()
        loss = fisher + self.penalty(energy, x_data, x_base, generator)
        return loss, fisher.detach()
