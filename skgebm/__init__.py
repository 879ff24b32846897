"""skgebm: Generalized Energy-Based Models for scikit-learn.

A GEBM (Arbel, Zhou & Gretton, ICLR 2021) is a base distribution reweighted by a
learned energy, ``Q(dx) ∝ exp(-E(x)/T) B(dx)``, trained with the KALE objective and
sampled by MCMC in the base's latent space.
"""

from ._gebm import GEBMEstimator
from .exceptions import TrainingDivergedError
from .outlier import GEBMOutlierDetector

__version__ = "0.1.0.dev0"

__all__ = ["GEBMEstimator", "GEBMOutlierDetector", "TrainingDivergedError", "__version__"]
