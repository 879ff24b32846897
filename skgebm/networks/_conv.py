"""Convolutional networks for images: the SNGAN family of the GEBM paper.

Images travel through the estimator as flat rows, scikit-learn's convention; these
networks view a row as an image of shape ``image_shape = (C, H, W)`` and give flat
rows back. Their depth follows the image size: every stage halves (energy) or doubles
(generator) the side, from the image down to a side of 4 to 7. A 32x32 image gets the
three stages of the paper's CIFAR-10 networks (Miyato et al., 2018, Table 3); an 8x8
one (scikit-learn's digits) gets one, a small version of the same design.
"""

import math

import torch
from torch import nn

__all__ = ["ImageView", "dcgan_generator", "n_stages", "sngan_energy"]

#: Channels of the first energy stage and of the generator's last; every stage doubles
#: them away from the image (64 to 512 over the three stages of a 32x32 image).
WIDTH = 64


class ImageView(nn.Module):
    """View flat rows ``(n, C*H*W)`` as images ``(n, C, H, W)``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.
    channels_last : bool, default=False
        Lay the images out channels-last in memory, the layout that tensor-core
        convolutions on a GPU read fastest.
    """

    def __init__(self, image_shape, channels_last=False):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.channels_last = channels_last

    def forward(self, x):
        images = x.reshape(len(x), *self.image_shape)
        if self.channels_last:
            return images.contiguous(memory_format=torch.channels_last)
        return images


def n_stages(image_shape):
    """Stride-2 stages of an image: halve both sides while they are even and stay >= 4.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.

    Returns
    -------
    n_stages : int
    """
    _, height, width = image_shape
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 4:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages


def dcgan_generator(latent_dim, image_shape, *, channels_last=False):
    """The SNGAN paper's DCGAN generator, from a latent to flat image rows.

    A linear map to ``(8 WIDTH, h, w)`` at the smallest side, then per stage a
    stride-2 transposed convolution (kernel 4) halving the channels, each followed by
    batch normalisation and ReLU, and a 3x3 convolution to the image's channels. The
    output is linear, not the paper's ``tanh``: the estimator standardizes pixels.
    Batch norm normalizes with batch statistics in training mode (every training
    step) and with running averages in eval mode (validation and sampling), where a
    chain's image must not depend on the other chains in its batch.

    Parameters
    ----------
    latent_dim : int
        Dimension of the latent.
    image_shape : tuple of int
        ``(C, H, W)`` of the images.
    channels_last : bool, default=False
        Channels-last layout of the activations (see :class:`ImageView`).

    Returns
    -------
    generator : torch.nn.Sequential
        Maps ``(n, latent_dim)`` to ``(n, C*H*W)``.
    """
    n_channels, height, width = image_shape
    stages = n_stages(image_shape)
    channels = WIDTH * 2**stages
    start = (channels, height // 2**stages, width // 2**stages)
    layers = [
        nn.Linear(latent_dim, math.prod(start)),
        ImageView(start, channels_last=channels_last),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
    ]
    for _ in range(stages):
        layers += [
            nn.ConvTranspose2d(channels, channels // 2, 4, stride=2, padding=1),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(),
        ]
        channels //= 2
    layers += [nn.Conv2d(channels, n_channels, 3, padding=1), nn.Flatten()]
    return nn.Sequential(*layers)


def sngan_energy(image_shape, *, channels_last=False):
    """The SNGAN paper's convolutional critic, as an energy of flat image rows.

    Per stage a 3x3 convolution and a stride-2 4x4 convolution (``WIDTH`` channels at
    first, doubled by every stage), then a 3x3 convolution and a linear head; LeakyReLU
    (slope 0.1) between them and spectral normalisation on every layer, which bounds
    the network's Lipschitz constant.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` of the images.
    channels_last : bool, default=False
        Channels-last layout of the activations (see :class:`ImageView`).

    Returns
    -------
    network : torch.nn.Sequential
        Maps ``(n, C*H*W)`` to ``(n, 1)``.
    """
    spectral_norm = nn.utils.parametrizations.spectral_norm
    n_channels, height, width = image_shape
    stages = n_stages(image_shape)
    layers = [ImageView(image_shape, channels_last=channels_last)]
    fan_in = n_channels
    for stage in range(stages):
        channels = WIDTH * 2**stage
        layers += [
            spectral_norm(nn.Conv2d(fan_in, channels, 3, padding=1)),
            nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(channels, channels, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.1),
        ]
        fan_in = channels
    channels = WIDTH * 2**stages
    side = (height // 2**stages) * (width // 2**stages)
    layers += [
        spectral_norm(nn.Conv2d(fan_in, channels, 3, padding=1)),
        nn.LeakyReLU(0.1),
        nn.Flatten(),
        spectral_norm(nn.Linear(channels * side, 1)),
    ]
    return nn.Sequential(*layers)
