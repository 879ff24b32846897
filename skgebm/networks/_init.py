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
    the matching uniform draw; the parameters zuko keeps in a ``ParameterList`` (the
    element-wise transforms of a one-feature flow) its standard normal draw; spectral
    normalization's power-iteration vectors are re-drawn and, as PyTorch's constructor
    does, iterated 15 times on the drawn weights. Parameters of other shapes (norm
    scales) keep their deterministic defaults.

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
            if isinstance(submodule, nn.ParameterList):
                parameter.normal_(generator=generator)
            elif parameter.dim() >= 2:
                nn.init.kaiming_uniform_(parameter, a=math.sqrt(5), generator=generator)
        weight = _raw_weight(submodule, parametrizations)
        bias = getattr(submodule, "bias", None)
        if isinstance(bias, nn.Parameter) and weight is not None and weight.dim() >= 2:
            fan_in = weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(bias, -bound, bound, generator=generator)
    for submodule in module.modules():  # once every weight is drawn
        parametrizations = getattr(submodule, "parametrizations", None) or {}
        if "weight" in parametrizations:
            weight = parametrizations["weight"].original
            for parametrization in parametrizations["weight"]:
                _reset_spectral_vectors(parametrization, weight, generator)
    return module


def _raw_weight(submodule, parametrizations):
    if "weight" in parametrizations:
        return parametrizations["weight"].original
    weight = getattr(submodule, "weight", None)
    return weight if isinstance(weight, nn.Parameter) else None


def _reset_spectral_vectors(parametrization, weight, generator):
    """Re-draw the power-iteration vectors of a spectral-norm parametrisation and
    converge them on ``weight``: from random vectors the first forward passes would
    divide by an underestimated norm (layers 1.2-1.5 times over their bound)."""
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
    parametrization._power_method(parametrization._reshape_weight_to_matrix(weight), 15)
