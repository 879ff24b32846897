"""Shared sampling loop: validation, warm-up, step-size adaptation and tracing."""

import math
from abc import ABCMeta, abstractmethod
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._graphs import CapturedStep
from .._warn import warn
from ..exceptions import SamplingDivergenceWarning
from ._diagnostics import effective_sample_size, split_rhat

__all__ = ["BaseSampler", "SamplerDiagnostics"]


def _count_diverged(state, step_size):
    """Chains that ended non-finite (an unadjusted step overshot), with a warning:
    never silent NaN."""
    diverged = ~(torch.isfinite(state.z).all(dim=1) & torch.isfinite(state.log_p))
    n_diverged = int(diverged.sum())
    if n_diverged:
        warn(
            f"{n_diverged} of {len(diverged)} chains ended at a non-finite state or "
            f"log-density: either step_size={step_size.item():.3g} is too large for "
            "this target (lower it, or use a Metropolis-adjusted sampler, MALA or HMC, "
            "which rejects such moves), or the target itself returned NaN.",
            SamplingDivergenceWarning,
        )
    return n_diverged


@dataclass
class SamplerDiagnostics:
    """What a call to ``sample`` did, to judge whether its draws can be trusted.

    Samplers return it; its fields are read as attributes of the same names.

    Parameters
    ----------
    acceptance_rate : float or None
        Mean over chains and post-warm-up steps of the Metropolis-Hastings
        acceptance probability ``min(1, alpha)``; None for unadjusted samplers
        (ULA, kinetic Langevin) or when no step follows the warm-up.
    step_size : float
        Step size used after warm-up (the adapted one when adaptation is on).
    n_steps, n_warmup : int
        Total number of steps and how many of them were warm-up.
    ess : ndarray of shape (d,) or None
        :func:`effective_sample_size` of the traced chains' post-warm-up draws;
        None when nothing is traced or fewer than 4 draws are kept.
    rhat : ndarray of shape (d,) or None
        :func:`split_rhat` of the same trace.
    n_diverged : int
        Chains whose final state or log-density is not finite (with a warning).

    Examples
    --------
    >>> import torch
    >>> from skgebm.samplers import MALA
    >>> _, diag = MALA(n_steps=20).sample(lambda z: -z.square().sum(-1) / 2, torch.zeros(8, 2))
    >>> diag.n_warmup, diag.ess.shape
    (10, (2,))
    """

    acceptance_rate: float | None
    step_size: float
    n_steps: int
    n_warmup: int
    ess: np.ndarray | None = None
    rhat: np.ndarray | None = None
    n_diverged: int = 0


class _State(NamedTuple):
    """Chain states with the log density and gradient cached at ``z``."""

    z: torch.Tensor
    log_p: torch.Tensor
    grad: torch.Tensor
    velocity: torch.Tensor | None = None


def _log_prob_and_grad(log_prob, z):
    """Evaluate ``log_prob`` and its gradient at a detached copy of ``z``.

    Gradients are taken with respect to ``z`` only, so parameters of the target
    never receive a ``.grad``, and no graph outlives the call.
    """
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        log_p = log_prob(z)
        if not isinstance(log_p, torch.Tensor) or log_p.shape != z.shape[:1]:
            shape = getattr(log_p, "shape", type(log_p).__name__)
            raise ValueError(
                f"log_prob must return a tensor of shape (n_chains,) = {tuple(z.shape[:1])}, "
                f"got {shape}."
            )
        (grad,) = torch.autograd.grad(log_p.sum(), inputs=z)
    return log_p.detach(), grad


def _normal_like(z, generator):
    """Standard normal noise shaped like ``z``, drawn from ``generator`` only."""
    return torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)


def _is_number(value, kind=numbers.Real):
    return isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)


def _check(name, value, valid, requirement):
    """Raise a ValueError naming the offending parameter unless ``valid``."""
    if not valid:
        raise ValueError(f"{name} must be {requirement}, got {value!r}.")


class _Trace:
    """Post-warm-up states of the first chains, kept on the host in float64.

    Draws are moved to the host in blocks, so tracing costs one device sync per
    block rather than one per step.
    """

    block_size = 256

    def __init__(self, n_chains, n_draws, dim):
        self.n_chains = n_chains
        self.draws = np.empty((n_chains, n_draws, dim))
        self.block = []
        self.n_stored = 0

    def append(self, z):
        self.block.append(z[: self.n_chains].clone())
        if len(self.block) == self.block_size:
            self._flush()

    def _flush(self):
        block = torch.stack(self.block, dim=1).to("cpu", torch.float64).numpy()
        self.draws[:, self.n_stored : self.n_stored + block.shape[1]] = block
        self.n_stored += block.shape[1]
        self.block = []

    def diagnostics(self):
        """ESS and split R-hat per dimension of the whole trace."""
        if self.block:
            self._flush()
        return effective_sample_size(self.draws), split_rhat(self.draws)


class BaseSampler(BaseEstimator, metaclass=ABCMeta):
    """Batched MCMC on an unnormalized density over R^d, many chains in parallel.

    Subclasses implement one transition in ``_step``; this class runs the chains,
    adapts the step size during warm-up when the subclass provides an
    ``_adapter``, and records acceptance and convergence diagnostics. All
    randomness comes from the ``generator`` passed to :meth:`sample`.

    See Also
    --------
    make_sampler : Build a sampler from its name.

    Examples
    --------
    Every sampler runs the same way, on any differentiable log-density:

    >>> import torch
    >>> from skgebm.samplers import HMC, BaseSampler
    >>> sampler = HMC(n_steps=20, n_leapfrog=3)
    >>> isinstance(sampler, BaseSampler)
    True
    >>> z, diagnostics = sampler.sample(
    ...     lambda z: -z.square().sum(-1) / 2, torch.zeros(16, 2),
    ...     generator=torch.Generator().manual_seed(0))
    >>> z.shape, diagnostics.n_warmup
    (torch.Size([16, 2]), 10)
    """

    _min_traced_draws = 4

    def sample(self, log_prob, z0, generator=None, *, cuda_graphs=False):
        """Run ``n_steps`` transitions of every chain from ``z0``.

        Parameters
        ----------
        log_prob : callable
            Maps ``z`` of shape ``(n_chains, d)`` to the unnormalized log
            density, a tensor of shape ``(n_chains,)``, differentiable in ``z``.
        z0 : torch.Tensor of shape (n_chains, d)
            Initial states; their device and floating dtype are used throughout.
            ``log_prob(z0)`` must be finite.
        generator : torch.Generator, default=None
            Source of all random numbers, on the device of ``z0``; None uses
            torch's global generator.
        cuda_graphs : bool, default=False
            With ``z0`` and ``generator`` on a CUDA device, replay the steps after
            the warm-up from a CUDA graph (see :class:`~skgebm._graphs.CapturedStep`),
            one launch a step instead of one per kernel of ``log_prob`` and its
            gradient; ``log_prob`` must then be capturable (tensor operations only,
            no host synchronisation). The chains draw the same random numbers.

        Returns
        -------
        z : torch.Tensor of shape (n_chains, d)
            Final states, detached.
        diagnostics : SamplerDiagnostics
        """
        self._check_params()
        _check("log_prob", log_prob, callable(log_prob), "callable")
        _check(
            "z0",
            getattr(z0, "shape", z0),
            isinstance(z0, torch.Tensor) and z0.ndim == 2 and z0.is_floating_point(),
            "a floating-point torch.Tensor of shape (n_chains, d)",
        )
        n_warmup = self.n_steps // 2 if self.n_warmup is None else self.n_warmup
        _check("n_warmup", n_warmup, n_warmup <= self.n_steps, f"<= n_steps={self.n_steps}")

        state = self._init_state(log_prob, z0.detach().clone(), generator)
        if not torch.isfinite(state.log_p).all():
            raise ValueError("log_prob(z0) must be finite for every chain.")
        # float64 keeps the adaptation accurate; a 0-d tensor does not promote the states
        step_size = torch.tensor(float(self.step_size), dtype=torch.float64, device=z0.device)

        adapter = self._adapter(step_size) if n_warmup > 0 else None
        for _ in range(n_warmup):
            state, accept_prob = self._step(log_prob, state, step_size, generator)
            if adapter is not None:
                step_size = adapter.update(accept_prob.mean())
        if adapter is not None:
            step_size = adapter.final_step_size

        n_draws = self.n_steps - n_warmup
        n_traced = min(self.trace_chains, z0.shape[0])
        traced = n_traced > 0 and n_draws >= self._min_traced_draws
        trace = _Trace(n_traced, n_draws, z0.shape[1]) if traced else None
        accept_probs = []
        step = CapturedStep(self._transition(log_prob, generator), generator, enabled=cuda_graphs)
        for _ in range(n_draws):
            *fields, accept_prob = step(*(f for f in state if f is not None), step_size)
            state = _State(*fields)
            if accept_prob is not None:
                accept_probs.append(accept_prob.mean())
            if trace is not None:
                trace.append(state.z)
        if step.graph is not None:  # the graph's outputs: overwritten by a replay
            state = _State(*(f if f is None else f.clone() for f in state))

        n_diverged = _count_diverged(state, step_size)
        ess, rhat = trace.diagnostics() if trace is not None else (None, None)
        diagnostics = SamplerDiagnostics(
            acceptance_rate=torch.stack(accept_probs).mean().item() if accept_probs else None,
            step_size=step_size.item(),
            n_steps=self.n_steps,
            n_warmup=n_warmup,
            ess=ess,
            rhat=rhat,
            n_diverged=n_diverged,
        )
        return state.z, diagnostics

    def _check_params(self):
        _check(
            "step_size",
            self.step_size,
            _is_number(self.step_size) and self.step_size > 0,
            "a finite float > 0",
        )
        _check(
            "n_steps",
            self.n_steps,
            _is_number(self.n_steps, numbers.Integral) and self.n_steps >= 0,
            "an int >= 0",
        )
        _check(
            "n_warmup",
            self.n_warmup,
            self.n_warmup is None
            or (_is_number(self.n_warmup, numbers.Integral) and self.n_warmup >= 0),
            "None or an int >= 0",
        )
        _check(
            "trace_chains",
            self.trace_chains,
            _is_number(self.trace_chains, numbers.Integral) and self.trace_chains >= 0,
            "an int >= 0",
        )

    def _init_state(self, log_prob, z, generator):
        return _State(z, *_log_prob_and_grad(log_prob, z))

    def _transition(self, log_prob, generator):
        """:meth:`_step` on tensors only, as a CUDA graph records it: the state's
        fields then the step size in, the new state's fields and the acceptance out."""

        def mcmc_step(*tensors):
            *fields, step_size = tensors
            state, accept_prob = self._step(log_prob, _State(*fields), step_size, generator)
            return (*state, accept_prob)

        return mcmc_step

    def _adapter(self, step_size):
        """Step-size adapter for the warm-up, or None to keep ``step_size`` fixed."""
        return None

    @abstractmethod
    def _step(self, log_prob, state, step_size, generator):
        """One transition of all chains.

        Returns the new :class:`_State` and the per-chain acceptance
        probability ``min(1, alpha)``, or None for an unadjusted sampler.
        """
