"""Networks of a GEBM: energies, bases, and the builders that resolve their names."""

from ._bases import FlowBase, GeneratorBase
from ._build import build_base, build_energy
from ._energy import Energy
from ._init import reset_parameters
from ._mlp import mlp

__all__ = [
    "Energy",
    "FlowBase",
    "GeneratorBase",
    "build_base",
    "build_energy",
    "mlp",
    "reset_parameters",
]
