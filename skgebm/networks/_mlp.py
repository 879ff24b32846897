"""Multilayer perceptrons for tabular energies and generators."""

from torch import nn

__all__ = ["mlp"]


def mlp(in_features, hidden_layer_sizes, out_features, *, spectral_norm=False):
    """Build a SiLU multilayer perceptron.

    SiLU keeps the energy smooth, so its gradients (used by Langevin samplers and by the
    gradient penalty) are continuous.

    Parameters
    ----------
    in_features : int
        Input width.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers.
    out_features : int
        Output width.
    spectral_norm : bool, default=False
        Wrap every linear layer in :func:`torch.nn.utils.parametrizations.spectral_norm`
        (a 1-Lipschitz control of the network).

    Returns
    -------
    network : torch.nn.Sequential
    """
    widths = [in_features, *hidden_layer_sizes, out_features]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = nn.Linear(fan_in, fan_out)
        if spectral_norm:
            linear = nn.utils.parametrizations.spectral_norm(linear)
        layers.append(linear)
        if i < len(widths) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)
