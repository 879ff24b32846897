"""Noise-contrastive and flow-contrastive estimation with the base as the noise."""

from torch.nn.functional import softplus

from ._base import EnergyObjective

__all__ = ["NCE"]


class NCE(EnergyObjective):
    """Noise-contrastive estimation of the energy, the base being the noise.

    A logistic classifier tells data from base samples with the logit
    ``log q(x) - log b(x) = -(E(x) + A)``, the log-ratio of the model to its base:
    the loss is ``mean_data softplus(E + A) + mean_base softplus(-(E + A))``
    (Gutmann & Hyvärinen, 2010). The learned ``A`` is NCE's self-normalizer; scores
    still use the Monte-Carlo normalizer of the estimator. Only samples of the base
    enter the loss, so an implicit generator can be the noise too.

    With ``base_loss="mle"`` the noise is a flow (or Gaussian) fit by maximum
    likelihood alongside; with ``base_loss="adversarial"`` the base is trained to
    confuse the classifier, which is flow-contrastive estimation (Gao et al., 2020).

    Parameters
    ----------
    gradient_penalty : float, default=0.1
        Weight of the gradient penalty.
    base_loss : {"kale", "mle", "adversarial"}, default="mle"
        Objective of the base step, see :class:`EnergyObjective`.

    Examples
    --------
    >>> import torch
    >>> from skgebm.objectives import NCE
    >>> nce = NCE(gradient_penalty=0.0)
    >>> energy = lambda x: x.sum(-1)
    >>> loss, _ = nce.energy_loss(energy, None, torch.zeros(8, 2), torch.zeros(8, 2), None)
    >>> round(loss.item(), 4)  # 2 log 2: chance level
    1.3863
    """

    stat_name = "nce_loss"

    def __init__(self, gradient_penalty=0.1, base_loss="mle"):
        super().__init__(gradient_penalty, base_loss)

    def energy_loss(self, energy, base, x_data, x_base, generator):
        """The logistic loss of telling data from base samples, plus the gradient
        penalty; the statistic is the logistic loss alone, ``2 log 2`` at chance level.

        Arguments and returns as in
        :meth:`~skgebm.objectives.EnergyObjective.energy_loss`.
        """
        logistic = (
            softplus(energy(x_data) + self.log_partition).mean()
            + softplus(-(energy(x_base) + self.log_partition)).mean()
        )
        loss = logistic + self.penalty(energy, x_data, x_base, generator)
        return loss, logistic.detach()
