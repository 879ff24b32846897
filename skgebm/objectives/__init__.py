"""Objectives that train the energy (and base) of a GEBM."""

from ._kale import KALE, gradient_penalty, logmeanexp

__all__ = ["KALE", "gradient_penalty", "logmeanexp"]
