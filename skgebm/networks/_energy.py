"""The energy of a GEBM: a network with a scalar output, clamped from below."""

from torch import nn

__all__ = ["Energy"]


class Energy(nn.Module):
    """Scalar energy ``E(x) = max(f(x), minimum)``.

    The lower clamp (``-10`` in the reference implementation) stops the energy from
    running to minus infinity on the data, which is what the KALE objective rewards
    when the energy is unconstrained.

    Parameters
    ----------
    network : torch.nn.Module
        Maps a batch ``(n, ...)`` to ``(n,)`` or ``(n, 1)`` values.
    minimum : float or None, default=-10.0
        The clamp; ``None`` disables it.
    """

    def __init__(self, network, minimum=-10.0):
        super().__init__()
        self.network = network
        self.minimum = minimum

    def forward(self, x):
        # under autocast the network computes in lower precision; the objectives do not
        energy = self.network(x).reshape(len(x)).to(x.dtype)
        if self.minimum is not None:
            energy = energy.clamp_min(self.minimum)
        return energy
