"""Metropolis-adjusted samplers: MALA and HMC, with step-size adaptation."""

import numbers

import torch

from ._adaptation import DualAveraging
from ._base import BaseSampler, _check, _is_number, _log_prob_and_grad, _normal_like, _State

__all__ = ["HMC", "MALA"]


def _accept_reject(current, proposal, log_alpha, generator):
    """Metropolis-Hastings step of every chain, keeping cached values consistent.

    A proposal with a non-finite state, log density or gradient, or a NaN ratio,
    is rejected (``alpha = 0``), so such values never enter the chains.

    Returns the new state and the acceptance probability ``min(1, alpha)``.
    """
    finite = (
        torch.isfinite(proposal.log_p)
        & torch.isfinite(proposal.z).all(-1)
        & torch.isfinite(proposal.grad).all(-1)
        & ~torch.isnan(log_alpha)
    )
    log_alpha = torch.where(finite, log_alpha, -torch.inf)
    uniform = torch.rand(
        log_alpha.shape, generator=generator, dtype=log_alpha.dtype, device=log_alpha.device
    )
    accept = torch.log(uniform) < log_alpha
    state = _State(
        z=torch.where(accept[:, None], proposal.z, current.z),
        log_p=torch.where(accept, proposal.log_p, current.log_p),
        grad=torch.where(accept[:, None], proposal.grad, current.grad),
    )
    return state, torch.exp(log_alpha.clamp(max=0))


class _MetropolisSampler(BaseSampler):
    """Adds the accept/reject step and dual-averaging adaptation to a proposal."""

    def _check_params(self):
        super()._check_params()
        _check(
            "target_accept",
            self.target_accept,
            _is_number(self.target_accept) and 0 < self.target_accept < 1,
            "a float in (0, 1)",
        )
        _check(
            "adapt_step_size",
            self.adapt_step_size,
            isinstance(self.adapt_step_size, bool),
            "a bool",
        )

    def _adapter(self, step_size):
        return DualAveraging(step_size, self.target_accept) if self.adapt_step_size else None

    def _step(self, log_prob, state, step_size, generator):
        proposal, log_alpha = self._propose(log_prob, state, step_size, generator)
        return _accept_reject(state, proposal, log_alpha, generator)


def _langevin_log_q(to, frm, step_size):
    """Log density, up to a constant, of the Langevin proposal ``frm -> to``.

    ``q(to | frm) = N(to; frm.z + h grad log pi(frm.z), 2 h I)``.
    """
    return -(to.z - frm.z - step_size * frm.grad).square().sum(-1) / (4 * step_size)


def _mala_log_alpha(current, proposal, step_size):
    """Log Metropolis-Hastings ratio of a Langevin proposal.

    ``log pi(z') - log pi(z) + log q(z | z') - log q(z' | z)``: the reverse move
    starts from ``z'`` and drifts along the gradient at ``z'``.
    """
    return (
        proposal.log_p
        - current.log_p
        + _langevin_log_q(current, proposal, step_size)
        - _langevin_log_q(proposal, current, step_size)
    )


class MALA(_MetropolisSampler):
    """Metropolis-adjusted Langevin algorithm.

    A ULA move ``z' = z + h grad log pi(z) + sqrt(2 h) xi`` corrected by a
    Metropolis-Hastings test, which removes the step-size bias: the chains
    target ``pi`` exactly. One gradient per step; the log density and gradient
    of the current state are cached and replaced only for accepted chains.
    During warm-up the step size, shared by all chains, is tuned by dual
    averaging towards ``target_accept`` (0.574 is optimal in high dimension,
    Roberts & Rosenthal, 1998).

    Parameters
    ----------
    step_size : float, default=0.1
        Step size ``h``; the initial one when ``adapt_step_size``.
    n_steps : int, default=200
        Number of steps, warm-up included; 0 returns ``z0``.
    n_warmup : int or None, default=None
        Steps that adapt the step size and are left out of the diagnostics;
        None means ``n_steps // 2``.
    target_accept : float, default=0.574
        Mean acceptance probability targeted by the adaptation.
    adapt_step_size : bool, default=True
        Whether to tune the step size during warm-up.
    trace_chains : int, default=64
        Number of chains whose post-warm-up trajectories are kept for the
        diagnostics; 0 disables them.

    Examples
    --------
    >>> import torch
    >>> from skgebm.samplers import MALA
    >>> generator = torch.Generator().manual_seed(0)
    >>> z0 = torch.randn(100, 2, generator=generator)
    >>> z, diag = MALA(step_size=0.1, n_steps=200).sample(
    ...     lambda z: -z.square().sum(-1) / 2, z0, generator=generator)
    >>> z.shape
    torch.Size([100, 2])
    >>> abs(diag.acceptance_rate - 0.574) < 0.05
    True
    """

    def __init__(
        self,
        step_size=0.1,
        n_steps=200,
        *,
        n_warmup=None,
        target_accept=0.574,
        adapt_step_size=True,
        trace_chains=64,
    ):
        self.step_size = step_size
        self.n_steps = n_steps
        self.n_warmup = n_warmup
        self.target_accept = target_accept
        self.adapt_step_size = adapt_step_size
        self.trace_chains = trace_chains

    def _propose(self, log_prob, state, step_size, generator):
        noise = _normal_like(state.z, generator)
        z = state.z + step_size * state.grad + torch.sqrt(2 * step_size) * noise
        proposal = _State(z, *_log_prob_and_grad(log_prob, z))
        return proposal, _mala_log_alpha(state, proposal, step_size)


class HMC(_MetropolisSampler):
    """Hamiltonian Monte Carlo with a fixed number of leapfrog steps.

    Each iteration draws a momentum ``p ~ N(0, I)``, integrates Hamilton's
    equations for ``H = -log pi(z) + |p|^2 / 2`` with ``n_leapfrog`` leapfrog
    steps of size ``h`` (a fresh gradient at every position), and accepts the
    end point with probability ``min(1, exp(H_start - H_end))``. Long moves at
    a high acceptance rate, for ``n_leapfrog`` gradients per iteration. During
    warm-up the shared step size is tuned by dual averaging towards
    ``target_accept`` (0.65 is optimal in high dimension, Beskos et al., 2013).

    Parameters
    ----------
    step_size : float, default=0.1
        Leapfrog step size ``h``; the initial one when ``adapt_step_size``.
    n_steps : int, default=100
        Number of iterations, warm-up included; 0 returns ``z0``.
    n_leapfrog : int, default=10
        Leapfrog steps (gradient evaluations) per iteration.
    n_warmup : int or None, default=None
        Iterations that adapt the step size and are left out of the
        diagnostics; None means ``n_steps // 2``.
    target_accept : float, default=0.65
        Mean acceptance probability targeted by the adaptation.
    adapt_step_size : bool, default=True
        Whether to tune the step size during warm-up.
    trace_chains : int, default=64
        Number of chains whose post-warm-up trajectories are kept for the
        diagnostics; 0 disables them.

    Examples
    --------
    >>> import torch
    >>> from skgebm.samplers import HMC
    >>> generator = torch.Generator().manual_seed(0)
    >>> z0 = torch.randn(100, 2, generator=generator)
    >>> z, diag = HMC(step_size=0.3, n_steps=100, n_leapfrog=5).sample(
    ...     lambda z: -z.square().sum(-1) / 2, z0, generator=generator)
    >>> z.shape
    torch.Size([100, 2])
    >>> 0 < diag.acceptance_rate < 1
    True
    """

    def __init__(
        self,
        step_size=0.1,
        n_steps=100,
        *,
        n_leapfrog=10,
        n_warmup=None,
        target_accept=0.65,
        adapt_step_size=True,
        trace_chains=64,
    ):
        self.step_size = step_size
        self.n_steps = n_steps
        self.n_leapfrog = n_leapfrog
        self.n_warmup = n_warmup
        self.target_accept = target_accept
        self.adapt_step_size = adapt_step_size
        self.trace_chains = trace_chains

    def _check_params(self):
        super()._check_params()
        _check(
            "n_leapfrog",
            self.n_leapfrog,
            _is_number(self.n_leapfrog, numbers.Integral) and self.n_leapfrog >= 1,
            "an int >= 1",
        )

    def _propose(self, log_prob, state, step_size, generator):
        momentum = _normal_like(state.z, generator)
        z, grad = state.z, state.grad
        p = momentum + step_size / 2 * grad
        for i in range(self.n_leapfrog):
            z = z + step_size * p
            log_p, grad = _log_prob_and_grad(log_prob, z)
            p = p + (step_size if i + 1 < self.n_leapfrog else step_size / 2) * grad
        proposal = _State(z, log_p, grad)
        kinetic_change = (p.square().sum(-1) - momentum.square().sum(-1)) / 2
        return proposal, log_p - state.log_p - kinetic_change
