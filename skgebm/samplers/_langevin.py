"""Unadjusted Langevin samplers: overdamped (ULA) and kinetic (underdamped)."""

import torch

from ._base import BaseSampler, _check, _is_number, _log_prob_and_grad, _normal_like, _State

__all__ = ["KineticLangevin", "ULA"]


class ULA(BaseSampler):
    """Unadjusted Langevin algorithm.

    Euler-Maruyama discretization of the overdamped Langevin diffusion,
    ``z' = z + h grad log pi(z) + sqrt(2 h) xi``: one gradient per step and no
    rejection, at the price of an ``O(h)`` bias in the stationary distribution
    (for ``N(0, s^2)`` the stationary variance is ``s^2 / (1 - h / (2 s^2))``).

    Parameters
    ----------
    step_size : float, default=0.01
        Step size ``h``.
    n_steps : int, default=100
        Number of steps, warm-up included; 0 returns ``z0``.
    n_warmup : int or None, default=0
        Leading steps left out of the diagnostics (None: ``n_steps // 2``).
    trace_chains : int, default=64
        Number of chains whose post-warm-up trajectories are kept for the
        diagnostics; 0 disables them.

    Examples
    --------
    >>> import torch
    >>> from skgebm.samplers import ULA
    >>> generator = torch.Generator().manual_seed(0)
    >>> z0 = torch.randn(100, 2, generator=generator)
    >>> z, diag = ULA(step_size=0.05, n_steps=50).sample(
    ...     lambda z: -z.square().sum(-1) / 2, z0, generator=generator)
    >>> z.shape, diag.acceptance_rate
    (torch.Size([100, 2]), None)
    """

    def __init__(self, step_size=0.01, n_steps=100, *, n_warmup=0, trace_chains=64):
        self.step_size = step_size
        self.n_steps = n_steps
        self.n_warmup = n_warmup
        self.trace_chains = trace_chains

    def _step(self, log_prob, state, step_size, generator):
        noise = _normal_like(state.z, generator)
        z = state.z + step_size * state.grad + torch.sqrt(2 * step_size) * noise
        return _State(z, *_log_prob_and_grad(log_prob, z)), None


class KineticLangevin(BaseSampler):
    """Kinetic (underdamped) Langevin dynamics with the BAOAB splitting.

    The sampler of the GEBM paper. Velocities ``v`` (unit mass) carry momentum
    across steps, which moves chains faster than ULA along flat directions.
    Each step is: B half-kick ``v += h/2 grad``, A half-drift ``z += h/2 v``,
    O friction and noise ``v <- exp(-gamma h) v + sqrt(1 - exp(-2 gamma h)) xi``,
    A, B. BAOAB (Leimkuhler & Matthews, 2013) has an ``O(h^2)`` bias in the
    positions, exact for Gaussian targets, and needs one gradient per step as
    the final B reuses the gradient of the new position. Velocities are drawn
    afresh from ``N(0, I)`` at each call to ``sample``.

    Parameters
    ----------
    step_size : float, default=0.05
        Step size ``h``.
    n_steps : int, default=100
        Number of steps, warm-up included; 0 returns ``z0``.
    friction : float, default=1.0
        Friction ``gamma > 0``: large values approach overdamped Langevin,
        small ones Hamiltonian dynamics.
    n_warmup : int or None, default=0
        Leading steps left out of the diagnostics (None: ``n_steps // 2``).
    trace_chains : int, default=64
        Number of chains whose post-warm-up trajectories are kept for the
        diagnostics; 0 disables them.

    Examples
    --------
    >>> import torch
    >>> from skgebm.samplers import KineticLangevin
    >>> generator = torch.Generator().manual_seed(0)
    >>> z0 = torch.randn(100, 2, generator=generator)
    >>> z, diag = KineticLangevin(step_size=0.1, n_steps=50).sample(
    ...     lambda z: -z.square().sum(-1) / 2, z0, generator=generator)
    >>> z.shape, diag.step_size
    (torch.Size([100, 2]), 0.1)
    """

    def __init__(self, step_size=0.05, n_steps=100, *, friction=1.0, n_warmup=0, trace_chains=64):
        self.step_size = step_size
        self.n_steps = n_steps
        self.friction = friction
        self.n_warmup = n_warmup
        self.trace_chains = trace_chains

    def _check_params(self):
        super()._check_params()
        _check(
            "friction",
            self.friction,
            _is_number(self.friction) and self.friction > 0,
            "a finite float > 0",
        )

    def _init_state(self, log_prob, z, generator):
        return (
            super()
            ._init_state(log_prob, z, generator)
            ._replace(velocity=_normal_like(z, generator))
        )

    def _step(self, log_prob, state, step_size, generator):
        half = step_size / 2
        velocity = state.velocity + half * state.grad
        z = state.z + half * velocity
        decay = torch.exp(-self.friction * step_size)
        noise_scale = torch.sqrt(-torch.expm1(-2 * self.friction * step_size))
        velocity = decay * velocity + noise_scale * _normal_like(z, generator)
        z = z + half * velocity
        log_p, grad = _log_prob_and_grad(log_prob, z)
        return _State(z, log_p, grad, velocity + half * grad), None
