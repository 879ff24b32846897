"""Random Fourier features: the input layer that lets an MLP energy be sharp."""

import torch
from torch import nn

__all__ = ["FourierFeatures"]


class FourierFeatures(nn.Module):
    """Map ``x`` to ``[x, sin(x W), cos(x W)]`` with fixed Gaussian frequencies ``W``.

    An MLP on a few raw coordinates learns smooth functions first and sharp ones
    hardly at all (the spectral bias of Tancik et al., 2020, "Fourier features let
    networks learn high frequency functions in low dimensional domains"). A flow base
    fitted by maximum likelihood leaves exactly the sharp part of a low-dimensional
    density (thin rings, the gaps between modes) for the energy to correct; these
    features make it learnable. ``x`` itself is kept, so smooth trends need no
    frequency.

    Parameters
    ----------
    in_features : int
        Input width.
    n_frequencies : int
        Columns of ``W``; the output has ``in_features + 2 * n_frequencies`` columns.
    scale : float
        Standard deviation of the frequencies, in radians per (standardized) unit.
    generator : torch.Generator
        Source of ``W``, which stays fixed (a buffer, saved with the model).
    """

    def __init__(self, in_features, n_frequencies, scale, *, generator):
        super().__init__()
        self.scale = scale
        frequencies = torch.randn(
            in_features, n_frequencies, generator=generator, device=generator.device
        )
        self.register_buffer("frequencies", scale * frequencies)

    @property
    def out_features(self):
        return self.frequencies.shape[0] + 2 * self.frequencies.shape[1]

    def forward(self, x):
        phase = x @ self.frequencies
        return torch.cat([x, torch.sin(phase), torch.cos(phase)], dim=-1)
