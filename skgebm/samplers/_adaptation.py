"""Step-size adaptation by Nesterov dual averaging."""

import math

import torch

__all__ = ["DualAveraging"]


class DualAveraging:
    """Tune a step size towards a target acceptance rate (Hoffman & Gelman, 2014).

    Algorithm 5 of the NUTS paper: the log step size follows a dual-averaging
    iterate driven by the gap between the target and the observed acceptance
    probability, and the returned step size at the end of warm-up is the
    weighted average of the iterates, which is far less noisy than the last one.
    Statistics are kept as 0-d tensors on the sampler's device so that an update
    never waits for the device.

    Parameters
    ----------
    step_size : torch.Tensor
        Initial step size ``h0`` (0-d tensor); its device and dtype are reused.
    target_accept : float
        Acceptance probability the step size is tuned to.
    gamma, t0, kappa : float, default=0.05, 10, 0.75
        Shrinkage towards ``mu = log(10 h0)``, iteration offset that damps the
        first updates, and decay exponent of the averaging weights.

    Examples
    --------
    >>> import torch
    >>> adapter = DualAveraging(torch.tensor(1.0), target_accept=0.6)
    >>> for _ in range(50):  # too few acceptances: the step size must shrink
    ...     step_size = adapter.update(torch.tensor(0.1))
    >>> bool(adapter.final_step_size < 1.0)
    True
    """

    def __init__(self, step_size, target_accept, *, gamma=0.05, t0=10.0, kappa=0.75):
        self.target_accept = target_accept
        self.gamma = gamma
        self.t0 = t0
        self.kappa = kappa
        self.mu = torch.log(10 * step_size)
        self.error_sum = torch.zeros_like(step_size)
        self.log_step_size_avg = torch.zeros_like(step_size)
        self.iteration = 0

    def update(self, accept_prob):
        """Record the mean acceptance probability of one step.

        Parameters
        ----------
        accept_prob : torch.Tensor
            Mean over chains of ``min(1, alpha)`` at the current step (0-d).

        Returns
        -------
        step_size : torch.Tensor
            Step size to use at the next warm-up step (0-d).
        """
        self.iteration += 1
        m = self.iteration
        weight = 1.0 / (m + self.t0)
        self.error_sum = (1 - weight) * self.error_sum + weight * (
            self.target_accept - accept_prob
        )
        log_step_size = self.mu - math.sqrt(m) / self.gamma * self.error_sum
        eta = m ** (-self.kappa)
        self.log_step_size_avg = eta * log_step_size + (1 - eta) * self.log_step_size_avg
        return torch.exp(log_step_size)

    @property
    def final_step_size(self):
        """Averaged step size ``exp(log h_bar)`` to freeze after warm-up (0-d)."""
        return torch.exp(self.log_step_size_avg)
