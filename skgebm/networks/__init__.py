"""Networks of a GEBM: energies, bases, and the builders that resolve their names."""

from ._bases import FlowBase, GaussianBase, GeneratorBase
from ._build import build_base, build_energy
from ._conv import ImageView, dcgan_generator, sngan_energy
from ._energy import Energy
from ._fourier import FourierFeatures
from ._init import reset_parameters
from ._mixture import MixtureFlowBase, select_mixture
from ._mlp import mlp
from ._spline import NSF

__all__ = [
    "Energy",
    "FlowBase",
    "FourierFeatures",
    "GaussianBase",
    "GeneratorBase",
    "ImageView",
    "MixtureFlowBase",
    "NSF",
    "build_base",
    "build_energy",
    "dcgan_generator",
    "mlp",
    "reset_parameters",
    "select_mixture",
    "sngan_energy",
]
