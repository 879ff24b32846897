"""Float64 copies of a trained GEBM's networks, as scoring reads them.

``score_samples`` and the choice between two trainings (:mod:`skgebm._fitting`) score
in double precision, with the log-partition estimated on base samples drawn from a CPU
generator, so that a model scores the same on every device.
"""

import copy
import math

import torch

# Rows per forward pass when scoring or sampling, so memory stays bounded.
_CHUNK = 2048


def _scoring_networks(net, n_partition_samples, seed):
    """Float64 copies of ``net``'s energy and base, and the energies of partition samples.

    The ``n_partition_samples`` latents come from a CPU generator seeded with ``seed``,
    so that a model scores the same on every device.
    """
    energy = copy.deepcopy(net.module_).double().eval()
    base = copy.deepcopy(net.base_).double().eval()
    generator = torch.Generator().manual_seed(seed)
    energies = []
    with torch.no_grad():
        for start in range(0, n_partition_samples, _CHUNK):
            size = min(_CHUNK, n_partition_samples - start)
            z = torch.randn(size, base.latent_dim, generator=generator)
            energies.append(energy(base(z.to(net.device).double())))
    return energy, base, torch.cat(energies)


def _log_mean_standard_error(log_weights):
    """Standard error of ``logmeanexp(log_weights)`` as an estimate of the log of the
    weights' mean: ``sqrt(1 / ESS - 1 / n)`` by the delta method, with ``ESS`` Kish's
    effective sample size of the weights."""
    weights = torch.exp(log_weights - log_weights.max())
    effective_size = float(weights.sum() ** 2 / weights.square().sum())
    return math.sqrt(max(1.0 / effective_size - 1.0 / len(weights), 0.0))
