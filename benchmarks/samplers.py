"""Throughput of the latent MCMC samplers: chain-steps per second against the chain count.

Each sampler runs ``--n-steps`` transitions (no warm-up) for 1, 100 and 10,000
parallel chains on two targets:

- ``gaussian``: a correlated 10-D Gaussian, where a step costs little more than the
  sampler's own arithmetic;
- ``gebm``: the latent posterior ``N(z; 0, I) exp(-E(G(z)))`` of a GEBM with the
  estimator's default networks on 10 features (a 3-transform neural spline flow and
  a 128x128 MLP energy, untrained: the cost of a step does not depend on the
  weights).

A chain-step is one transition of one chain; HMC counts one transition per
trajectory of ``n_leapfrog`` gradient evaluations. ``--device cuda`` runs the same on
a GPU::

    python benchmarks/samplers.py --json samplers.json
"""

import argparse
import time
from pathlib import Path

import torch

from _common import format_text_table, write_json
from skgebm.networks import build_base, build_energy
from skgebm.samplers import make_sampler

CHAINS = (1, 100, 10_000)
SAMPLERS = {
    "ula": {},
    "kinetic": {},
    "mala": {},
    "hmc": {"n_leapfrog": 5},
}


def gaussian_target(dim, device):
    generator = torch.Generator().manual_seed(0)
    factor = torch.randn(dim, dim, generator=generator) / dim**0.5
    precision = (factor @ factor.T + torch.eye(dim)).to(device)

    def log_prob(z):
        return -0.5 * ((z @ precision) * z).sum(-1)

    return log_prob


def gebm_target(dim, device):
    generator = torch.Generator().manual_seed(0)
    base = build_base("flow", dim, generator=generator).to(device).eval()
    energy = build_energy("mlp", dim, generator=generator).to(device).eval()
    for parameter in [*base.parameters(), *energy.parameters()]:
        parameter.requires_grad_(False)

    def log_prob(z):
        return -0.5 * z.square().sum(-1) - energy(base(z))

    return log_prob


TARGETS = {"gaussian": gaussian_target, "gebm": gebm_target}


def chain_steps_per_second(sampler, log_prob, n_chains, dim, device):
    z0 = torch.randn(n_chains, dim, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    sampler.sample(log_prob, z0, generator=generator)  # warm the caches and kernels
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    sampler.sample(log_prob, z0, generator=generator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n_chains * sampler.n_steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-steps", type=int, default=20)
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args()
    device = torch.device(args.device)

    results, rows = [], []
    for target_name, make_target in TARGETS.items():
        log_prob = make_target(args.dim, device)
        for sampler_name, params in SAMPLERS.items():
            sampler = make_sampler(sampler_name, n_steps=args.n_steps, n_warmup=0, **params)
            rates = [
                chain_steps_per_second(sampler, log_prob, n, args.dim, device) for n in CHAINS
            ]
            rows.append([target_name, sampler_name, *(f"{rate:,.0f}" for rate in rates)])
            results.append(
                {"target": target_name, "sampler": sampler_name}
                | {f"chains_{n}": rate for n, rate in zip(CHAINS, rates)}
            )
    print(
        f"chain-steps per second, {args.n_steps} steps, dim {args.dim}, {device} "
        f"({torch.get_num_threads()} threads)"
    )
    print(format_text_table(["target", "sampler", *(f"{n:,} chains" for n in CHAINS)], rows))
    if args.json:
        write_json(args.json, {"settings": vars(args) | {"json": str(args.json)}, "results": results})


if __name__ == "__main__":
    main()
