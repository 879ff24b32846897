"""Resolve the ``base`` and ``energy`` parameters of an estimator into modules."""

import copy
import math
from numbers import Integral

import torch
import zuko
from torch import nn

from ._bases import FlowBase, GaussianBase, GeneratorBase
from ._conv import dcgan_generator, sngan_energy
from ._energy import Energy
from ._fourier import FourierFeatures
from ._init import reset_parameters
from ._mixture import MixtureFlowBase
from ._mlp import mlp
from ._spline import NSF

__all__ = ["FLOWS", "build_base", "build_energy"]

#: Flow families a ``base="flow"`` can use, by name (zuko's, the spline flow with
#: faster splines).
FLOWS = {"nsf": NSF, "maf": zuko.flows.MAF, "realnvp": zuko.flows.RealNVP}

#: Latent dimension of ``base="dcgan"`` by default (the paper's, for CIFAR-10).
DCGAN_LATENT_DIM = 128


def build_base(
    base,
    n_features,
    *,
    flow="nsf",
    n_flow_transforms=3,
    latent_dim=None,
    hidden_layer_sizes=(64, 64),
    neutral_start=True,
    image_shape=None,
    channels_last=False,
    n_components=1,
    generator,
):
    """Build the base distribution named by ``base``.

    Parameters
    ----------
    base : {"flow", "gaussian", "generator", "dcgan"}, zuko.flows.Flow or torch.nn.Module
        ``"flow"``: a zuko flow of family ``flow`` with coupling-style inverses (two
        passes), so sampling costs as little as density evaluation in any dimension,
        with ``neutral_start``, composed with a learned affine map and started as that
        map (each transform's last layer is zero, the identity), so
        ``initialize_from_data`` makes it the data's Gaussian fit.
        ``"gaussian"``: a full-covariance :class:`GaussianBase`.
        ``"generator"``: an MLP generator from a ``latent_dim`` normal latent.
        ``"dcgan"``: the convolutional generator of images of ``image_shape``
        (:func:`~skgebm.networks.dcgan_generator`). A zuko
        flow or a :class:`FlowBase`/:class:`GeneratorBase` is used as given (deep
        copied); any other module is a generator and needs ``latent_dim``.
    n_features : int
        Data dimension.
    flow : {"nsf", "maf", "realnvp"}, default="nsf"
        Flow family for ``base="flow"``.
    n_flow_transforms : int, default=3
        Number of flow transforms.
    latent_dim : int or None
        Latent dimension of a generator; ``None`` means ``n_features``, or 128 for
        ``"dcgan"``.
    hidden_layer_sizes : sequence of int
        Hidden widths of the flow's conditioners or of the MLP generator.
    neutral_start : bool, default=True
        Give a built-in flow the affine map and start its transforms at the identity;
        ``False`` keeps zuko's flow as initialized, without the affine map, whose full
        covariance overfits when there are about as many features as rows.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of the images of ``base="dcgan"``, whose product is ``n_features``.
    channels_last : bool, default=False
        Channels-last activations of ``base="dcgan"`` (faster convolutions on a GPU).
    n_components : int, default=1
        With more than one, ``base="flow"`` is a :class:`MixtureFlowBase`: its flow,
        started at the identity, over a Gaussian mixture of this many components
        (``initialize_from_mixture`` makes it a fitted mixture) instead of the affine map.
    generator : torch.Generator
        Source of the initial weights of built-in networks.

    Returns
    -------
    base : FlowBase, GaussianBase, MixtureFlowBase or GeneratorBase
    """
    if isinstance(base, (FlowBase, GaussianBase, GeneratorBase, MixtureFlowBase)):
        return copy.deepcopy(base)
    if isinstance(base, zuko.flows.Flow):
        return FlowBase(copy.deepcopy(base), n_features)
    if isinstance(base, nn.Module):
        if latent_dim is None:
            raise ValueError(
                "A user generator module needs latent_dim, the dimension of its input."
            )
        return GeneratorBase(copy.deepcopy(base), _positive_int(latent_dim, "latent_dim"))
    hidden = _hidden_sizes(hidden_layer_sizes, "base_hidden_layer_sizes")
    if base == "flow":
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}.")
        if flow == "realnvp" and n_features < 2:
            raise ValueError(
                "flow='realnvp' couples two halves of the features and needs at least 2 "
                f"of them; got {n_features} feature(s). Use flow='nsf' for one feature."
            )
        options = {"hidden_features": hidden, "transforms": n_flow_transforms}
        if flow != "realnvp":
            options["passes"] = 2
        with torch.random.fork_rng(devices=[]):
            flow = reset_parameters(FLOWS[flow](n_features, **options), generator)
        if neutral_start or n_components > 1:
            for transform in flow.transform.transforms:
                _zero_last_linear(transform)
        if n_components > 1:
            return MixtureFlowBase(flow, n_features, n_components)
        return FlowBase(flow, n_features, affine=neutral_start)
    if base == "gaussian":
        return GaussianBase(n_features)
    if base in ("generator", "dcgan"):
        default_dim = n_features if base == "generator" else DCGAN_LATENT_DIM
        latent_dim = _positive_int(default_dim if latent_dim is None else latent_dim, "latent_dim")
        with torch.random.fork_rng(devices=[]):
            if base == "generator":
                network = mlp(latent_dim, hidden, n_features)
            else:
                shape = check_image_shape(image_shape, n_features, "base='dcgan'")
                network = dcgan_generator(latent_dim, shape, channels_last=channels_last)
            module = GeneratorBase(network, latent_dim)
        return reset_parameters(module, generator)
    raise ValueError(
        "base must be 'flow', 'gaussian', 'generator', 'dcgan', a zuko flow or a "
        f"torch.nn.Module, got {base!r}."
    )


def build_energy(
    energy,
    n_features,
    *,
    hidden_layer_sizes=(128, 128),
    spectral_norm=False,
    minimum=-10.0,
    fourier_scale=None,
    neutral_start=True,
    image_shape=None,
    channels_last=False,
    generator,
):
    """Build the energy named by ``energy``, clamped below at ``minimum``.

    Parameters
    ----------
    energy : {"mlp", "sngan"} or torch.nn.Module
        ``"mlp"`` builds a SiLU MLP; ``"sngan"`` the spectrally normalised
        convolutional critic of images of ``image_shape``
        (:func:`~skgebm.networks.sngan_energy`); a module (deep copied) maps
        ``(n, ...)`` to ``(n,)``.
    n_features : int
        Data dimension.
    hidden_layer_sizes : sequence of int
        Hidden widths of the MLP.
    spectral_norm : bool
        Spectral normalisation of the MLP's layers.
    minimum : float or None
        Lower clamp of the energy.
    fourier_scale : float or None, default=None
        Put :class:`FourierFeatures` of this frequency scale before the built-in MLP,
        half as many frequencies as its first hidden layer has units (as many as
        features without a hidden layer); ``None`` feeds it the raw features.
    neutral_start : bool, default=True
        Start the built-in MLP's output layer at zero, so a GEBM starts as its base
        (not with spectral normalisation, where a zero weight has no spectral norm).
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of the images of ``energy="sngan"``.
    channels_last : bool, default=False
        Channels-last activations of ``energy="sngan"``.
    generator : torch.Generator
        Source of the initial weights of the built-in networks.

    Returns
    -------
    energy : Energy
    """
    if isinstance(energy, Energy):
        return copy.deepcopy(energy)
    if isinstance(energy, nn.Module):
        return Energy(copy.deepcopy(energy), minimum)
    if energy == "sngan":
        shape = check_image_shape(image_shape, n_features, "energy='sngan'")
        with torch.random.fork_rng(devices=[]):
            network = sngan_energy(shape, channels_last=channels_last)
        return Energy(reset_parameters(network, generator), minimum)
    if energy != "mlp":
        raise ValueError(
            f"energy must be 'mlp', 'sngan' or a torch.nn.Module, got {energy!r}."
        )
    hidden = _hidden_sizes(hidden_layer_sizes, "energy_hidden_layer_sizes")
    features = None
    if fourier_scale is not None:
        n_frequencies = max(1, hidden[0] // 2) if hidden else n_features
        features = FourierFeatures(
            n_features, n_frequencies, fourier_scale, generator=generator
        )
    n_inputs = n_features if features is None else features.out_features
    with torch.random.fork_rng(devices=[]):
        network = mlp(n_inputs, hidden, 1, spectral_norm=spectral_norm)
    reset_parameters(network, generator)
    if features is not None:
        network = nn.Sequential(features, network)
    if neutral_start and not spectral_norm:
        _zero_last_linear(network)
    return Energy(network, minimum)


@torch.no_grad()
def _zero_last_linear(module):
    """Zero the output of ``module``: its last linear layer (torch's or zuko's), or,
    without one (zuko's element-wise transform of a single feature), its parameters.

    A zuko transform whose parameters are zero is the identity."""
    layers = [
        layer
        for layer in module.modules()
        if isinstance(getattr(layer, "weight", None), nn.Parameter) and layer.weight.dim() == 2
    ]
    parameters = [layers[-1].weight, layers[-1].bias] if layers else module.parameters()
    for parameter in parameters:
        if parameter is not None:
            parameter.zero_()


def check_image_shape(image_shape, n_features, network):
    """``image_shape`` as a tuple ``(C, H, W)`` of ``n_features`` pixels in all.

    Parameters
    ----------
    image_shape : tuple of int or None
        The shape to check.
    n_features : int
        Features of a flat image row.
    network : str
        What needs the shape, for the error message.

    Returns
    -------
    image_shape : tuple of int
    """
    if image_shape is None:
        raise ValueError(
            f"{network} needs image_shape=(channels, height, width) to view the "
            f"{n_features} features of a row as an image."
        )
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(
        isinstance(size, Integral) and not isinstance(size, bool) and size > 0 for size in shape
    ):
        raise ValueError(
            f"image_shape must be three positive integers (channels, height, width), got "
            f"{image_shape!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={shape} holds {math.prod(shape)} pixels but the data have "
            f"{n_features} features."
        )
    return tuple(int(size) for size in shape)


def _positive_int(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _hidden_sizes(value, name):
    return tuple(_positive_int(size, f"each of {name}") for size in value)
