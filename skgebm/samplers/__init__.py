"""Batched MCMC samplers for differentiable unnormalized densities on R^d.

Every sampler runs many chains in parallel on the device of the initial states
and draws its randomness from an explicit :class:`torch.Generator`.
"""

from ._base import BaseSampler, SamplerDiagnostics
from ._diagnostics import effective_sample_size, split_rhat
from ._langevin import ULA, KineticLangevin
from ._metropolis import HMC, MALA

__all__ = [
    "HMC",
    "MALA",
    "ULA",
    "BaseSampler",
    "KineticLangevin",
    "SamplerDiagnostics",
    "effective_sample_size",
    "make_sampler",
    "split_rhat",
]

_SAMPLERS = {"ula": ULA, "kinetic": KineticLangevin, "mala": MALA, "hmc": HMC}


def make_sampler(name, **params):
    """Build a sampler from its name, so that estimators can take a string option.

    Parameters
    ----------
    name : {"ula", "kinetic", "mala", "hmc"}
        :class:`ULA`, :class:`KineticLangevin`, :class:`MALA` or :class:`HMC`.
    **params
        Constructor parameters of that sampler.

    Returns
    -------
    sampler : BaseSampler

    Examples
    --------
    >>> from skgebm.samplers import make_sampler
    >>> make_sampler("mala", step_size=0.05, n_steps=10)
    MALA(n_steps=10, step_size=0.05)
    """
    if name not in _SAMPLERS:
        raise ValueError(f"Unknown sampler {name!r}; valid choices are {sorted(_SAMPLERS)}.")
    return _SAMPLERS[name](**params)
