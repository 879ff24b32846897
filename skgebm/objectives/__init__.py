"""Objectives that train the energy (and the base) of a GEBM.

Every objective trains the energy ``E`` of the same model ``Q ∝ exp(-E) B``, so the
networks, the samplers and the normalized scoring are shared; they differ in how the
energy learns from data: a variational bound (KALE), maximum likelihood with MCMC
negatives (CD), the Fisher divergence (DSM, SSM), or classification against the base
(NCE, FCE).
"""

from ._base import BASE_LOSSES, EnergyObjective
from ._contrastive_divergence import ContrastiveDivergence
from ._functional import gradient_penalty, logmeanexp, model_score, weighted_mmd2
from ._kale import KALE
from ._nce import NCE
from ._score_matching import DenoisingScoreMatching, SlicedScoreMatching

__all__ = [
    "BASE_LOSSES",
    "OBJECTIVES",
    "ContrastiveDivergence",
    "DenoisingScoreMatching",
    "EnergyObjective",
    "KALE",
    "NCE",
    "SlicedScoreMatching",
    "gradient_penalty",
    "logmeanexp",
    "model_score",
    "weighted_mmd2",
]

#: Objectives by the name ``GEBMEstimator(objective=...)`` takes. "fce" is NCE whose
#: base is trained adversarially (resolved by the estimator's ``base_loss="auto"``).
OBJECTIVES = {
    "kale": KALE,
    "cd": ContrastiveDivergence,
    "dsm": DenoisingScoreMatching,
    "ssm": SlicedScoreMatching,
    "nce": NCE,
    "fce": NCE,
}
