"""Networks of a GEBM: energies, bases, and the builders that resolve their names."""

from ._bases import FlowBase, GaussianBase, GeneratorBase
from ._build import build_base, build_energy
from ._energy import Energy
from ._fourier import FourierFeatures
from ._init import reset_parameters
from ._mlp import mlp

__all__ = [
    "Energy",
    "FlowBase",
    "FourierFeatures",
    "GaussianBase",
    "GeneratorBase",
    "build_base",
    "build_energy",
    "mlp",
    "reset_parameters",
]
