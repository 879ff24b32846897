"""Reproducible parameter initialisation from a ``torch.Generator``.

PyTorch layers draw their initial weights from the global RNG. An estimator must not
touch that state, so modules are built inside :func:`torch.random.fork_rng` and then
re-drawn here from the fit's own generator, with the same distributions PyTorch uses.
"""

import math

import torch
from torch import nn

__all__ = ["reset_parameters"]


@torch.no_grad()
def reset_parameters(module, generator):
    """Re-draw every weight of ``module`` from ``generator``.

    Weight matrices and kernels get PyTorch's default Kaiming-uniform draw, their biases
    the matching uniform draw; spectral-norm power-iteration vectors are re-drawn too.
    Parameters of other shapes (norm scales) keep their deterministic defaults.

    Parameters
    ----------
    module : torch.nn.Module
        The module, changed in place.
    generator : torch.Generator
        The source of randomness, on the module's device.

    Returns
    -------
    module : torch.nn.Module
        The same module.
    """
    for submodule in module.modules():
        parametrizations = getattr(submodule, "parametrizations", None) or {}
        for name, parameter in submodule.named_parameters(recurse=False):
            if parameter.dim() >= 2:
                nn.init.kaiming_uniform_(parameter, a=math.sqrt(5), generator=generator)
        weight = _raw_weight(submodule, parametrizations)
        bias = getattr(submodule, "bias", None)
        if isinstance(bias, nn.Parameter) and weight is not None and weight.dim() >= 2:
            fan_in = weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(bias, -bound, bound, generator=generator)
        if "weight" in parametrizations:
            for parametrization in parametrizations["weight"]:
                _reset_spectral_vectors(parametrization, generator)
    return module


def _raw_weight(submodule, parametrizations):
    if "weight" in parametrizations:
        return parametrizations["weight"].original
    weight = getattr(submodule, "weight", None)
    return weight if isinstance(weight, nn.Parameter) else None


def _reset_spectral_vectors(parametrization, generator):
    """Re-draw the power-iteration vectors of a spectral-norm parametrisation."""
    if not hasattr(parametrization, "_u"):
        return
    for name in ("_u", "_v"):
        vector = getattr(parametrization, name)
        vector.copy_(
            nn.functional.normalize(
                torch.randn(vector.shape, generator=generator, device=vector.device),
                dim=0,
                eps=parametrization.eps,
            )
        )
