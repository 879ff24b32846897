"""GPU throughput: GEBM training iterations and latent MCMC, skgebm against plain PyTorch.

The reference is the paper's recipe written literally: fp32, eager, no autocast, the
same networks (:func:`~skgebm.networks.dcgan_generator` and
:func:`~skgebm.networks.sngan_energy`, latent dimension 128, energy clamped below at
-10). It is compared with :class:`~skgebm.GEBMEstimator` at ``precision="float32"`` and
``"bfloat16"`` (what ``"auto"`` picks for these networks on a GPU; on a CPU bf16
autocast is slow, so that row needs ``--bf16-on-cpu``), each with its training and
sampling steps replayed from CUDA graphs (the default, ``cuda_graphs=True``) and, in
the rows marked "eager", without them.

Training: one iteration is 5 energy steps (KALE with a learned log-partition and a
gradient penalty on interpolates) and 1 generator step, minibatches of 128, Adam with
learning rate 2e-4 and betas (0.5, 0.999). An estimator iteration is one energy step,
so a reference iteration is 5 of them. The data are 2,048 random images: the cost does
not depend on the pixels. The reference runs ``--warmup`` iterations, then is timed over
``--iterations``; the estimator is fitted for ``--iterations`` iterations (construction
and first-call overheads), then ``partial_fit``, which runs as many more, is timed.
``images/s`` counts the data images the energy steps consume (5 x 128 per iteration).

MCMC: kinetic (underdamped) Langevin on the latent target
``log pi(z) = -|z|^2 / 2 - E(G(z))``, networks in eval mode, step size 0.05, friction 1,
chains run in chunks of 4,096 as the estimator does. The reference is the plain Euler
update ``v <- (1 - gamma h) v + h grad + sqrt(2 gamma h) xi``, ``z <- z + h v``, with
the gradient from ``torch.autograd.grad``. Each method is timed at ``--mcmc-steps``
steps and at three times as many, and the rate is the extra chain-steps over the extra
time: the marginal cost of a step, without what a call does once (skgebm's ``sample``
resamples the chains' starts from 8 base latents per chain by the model's weights,
reads the log-density at the start and the end, takes a first gradient and captures
its graph once per chunk: about four steps' worth). A chain-step is one step of one
chain.

Peak memory is the device's ``max_memory_allocated`` during the timed call (``–`` on a
CPU); the last column of each table is the reference's time over this method's (above 1
is faster than the reference). Run from the repository root::

    python benchmarks/gpu_throughput.py --device cuda --json gpu_throughput.json
    python benchmarks/gpu_throughput.py --device cpu --image-size 8 --channels 1 \\
        --iterations 3 --chains 64 256 --mcmc-steps 2
"""

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn

from _common import format_text_table, write_json
from skgebm import GEBMEstimator
from skgebm.networks import Energy, GeneratorBase, dcgan_generator, sngan_energy

LATENT_DIM = 128
BATCH_SIZE = 128
N_ENERGY_STEPS = 5
LEARNING_RATE = 2e-4
BETAS = (0.5, 0.999)
ENERGY_MIN = -10.0
N_DATA_ROWS = 2048
MCMC_CHUNK = 4096
STEP_SIZE = 0.05
FRICTION = 1.0


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(function, device):
    """Seconds and peak device memory in MiB (``None`` on a CPU) of ``function()``.

    The device is synchronized before the clock is read, so the time covers the kernels
    ``function`` queued, not only their launch.
    """
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return seconds, peak


def build_networks(image_shape, device):
    """The generator and the clamped energy of the paper, as skgebm builds them."""
    generator = GeneratorBase(dcgan_generator(LATENT_DIM, image_shape), LATENT_DIM)
    energy = Energy(sngan_energy(image_shape), ENERGY_MIN)
    return generator.to(device), energy.to(device)


class ReferenceLoop:
    """The paper's training iteration written plainly: fp32, eager, no autocast.

    Nothing is read back to the host, so the GPU never waits for Python.
    """

    def __init__(self, generator, energy, data, gradient_penalty):
        self.generator, self.energy, self.data = generator, energy, data
        self.gradient_penalty = gradient_penalty
        self.log_partition = nn.Parameter(torch.zeros((), device=data.device))
        self.energy_optimizer = torch.optim.Adam(
            [*energy.parameters(), self.log_partition], lr=LEARNING_RATE, betas=BETAS
        )
        self.generator_optimizer = torch.optim.Adam(
            generator.parameters(), lr=LEARNING_RATE, betas=BETAS
        )

    def latents(self):
        return torch.randn(BATCH_SIZE, LATENT_DIM, device=self.data.device)

    def energy_step(self):
        """KALE: ``mean(E(x) + A) + mean(exp(-(E(G(z)) + A))) - 1``, plus the penalty."""
        index = torch.randint(len(self.data), (BATCH_SIZE,), device=self.data.device)
        x_data = self.data[index]
        with torch.no_grad():
            x_base = self.generator(self.latents())
        e_data, e_base = self.energy(x_data), self.energy(x_base)
        a = self.log_partition
        loss = (e_data + a).mean() + torch.exp(-(e_base + a)).mean() - 1
        if self.gradient_penalty > 0:
            t = torch.rand(BATCH_SIZE, 1, device=self.data.device)
            x_hat = (t * x_data + (1 - t) * x_base).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(x_hat).sum(), x_hat, create_graph=True)
            loss = loss + self.gradient_penalty * grad.square().sum(1).mean()
        self.energy_optimizer.zero_grad()
        loss.backward()
        self.energy_optimizer.step()

    def generator_step(self):
        """``-log mean exp(-E(G(z)))``; only the generator's optimizer steps."""
        energies = self.energy(self.generator(self.latents()))
        loss = -(torch.logsumexp(-energies, 0) - math.log(BATCH_SIZE))
        self.generator_optimizer.zero_grad()
        loss.backward()
        self.generator_optimizer.step()

    def iteration(self):
        for _ in range(N_ENERGY_STEPS):
            self.energy_step()
        self.generator_step()


def time_reference_training(generator, energy, data, args, device):
    """Seconds per iteration and peak MiB of :class:`ReferenceLoop`, after a warm-up."""
    loop = ReferenceLoop(generator.train(), energy.train(), data, args.gradient_penalty)
    for _ in range(args.warmup):
        loop.iteration()

    def run():
        for _ in range(args.iterations):
            loop.iteration()

    seconds, peak = measure(run, device)
    return seconds / args.iterations, peak


def reference_chains(generator, energy, n_chains, n_steps, device):
    """The paper's kinetic Langevin sampler on the latents, written plainly."""

    def log_pi(z):
        return -0.5 * z.square().sum(1) - energy(generator(z))

    noise_scale = math.sqrt(2 * FRICTION * STEP_SIZE)
    for start in range(0, n_chains, MCMC_CHUNK):
        z = torch.randn(min(MCMC_CHUNK, n_chains - start), LATENT_DIM, device=device)
        v = torch.randn_like(z)
        for _ in range(n_steps):
            z.requires_grad_(True)
            (grad,) = torch.autograd.grad(log_pi(z).sum(), z)
            v = (1 - FRICTION * STEP_SIZE) * v + STEP_SIZE * grad
            v = v + noise_scale * torch.randn_like(v)
            z = (z + STEP_SIZE * v).detach()


def marginal_rates(run, args, device):
    """Chain-steps per second of ``run(n_chains, n_steps)`` past its fixed cost, and its
    peak MiB, for each of ``args.chains``.

    Timed at ``args.mcmc_steps`` and at three times as many steps: the rate is the
    extra chain-steps over the extra seconds; the peak memory is that of the longer run.
    """
    n_steps, results = args.mcmc_steps, []
    for n_chains in args.chains:
        short, _ = measure(lambda: run(n_chains, n_steps), device)
        long, peak = measure(lambda: run(n_chains, 3 * n_steps), device)
        results.append((n_chains * 2 * n_steps / (long - short), peak))
    return results


def time_reference_mcmc(generator, energy, args, device):
    """Chain-steps per second and peak MiB of :func:`reference_chains`, per chain count."""
    generator.eval()
    energy.eval()
    reference_chains(generator, energy, min(args.chains), 1, device)  # warm the kernels
    return marginal_rates(
        lambda n_chains, n_steps: reference_chains(generator, energy, n_chains, n_steps, device),
        args,
        device,
    )


def make_estimator(precision, cuda_graphs, image_shape, args):
    """The estimator set to the reference's recipe: no bursts, EMA, validation or scaling."""
    return GEBMEstimator(
        base="dcgan",
        energy="sngan",
        image_shape=image_shape,
        precision=precision,
        cuda_graphs=cuda_graphs,
        batch_size=BATCH_SIZE,
        max_iter=N_ENERGY_STEPS * args.iterations,
        n_energy_steps=N_ENERGY_STEPS,
        n_burst_steps=0,
        burst_every=0,
        gradient_penalty=args.gradient_penalty,
        learning_rate=LEARNING_RATE,
        validation_fraction=None,
        ema_decay=0.0,
        standardize=False,
        device=args.device,
        random_state=0,
    )


def time_estimator_training(estimator, X, device):
    """Seconds per reference iteration and peak MiB of ``partial_fit`` after a first fit.

    The iterations ``partial_fit`` ran are read from ``n_iter_``, not assumed.
    """
    estimator.fit(X)
    n_iter = estimator.n_iter_
    seconds, peak = measure(lambda: estimator.partial_fit(X), device)
    return seconds / ((estimator.n_iter_ - n_iter) / N_ENERGY_STEPS), peak


def time_estimator_mcmc(estimator, args, device):
    """Chain-steps per second and peak MiB of ``sample``'s steps, per chain count."""
    estimator.set_params(sampler="kinetic", temperature=1.0, mcmc_step_size=STEP_SIZE)
    estimator.set_params(n_mcmc_steps=1).sample(min(args.chains), random_state=0)  # warm up

    def run(n_chains, n_steps):
        estimator.set_params(n_mcmc_steps=n_steps).sample(n_chains, random_state=0)

    return marginal_rates(run, args, device)


def training_results(training):
    """One record per method; ``speedup`` is the reference's time over the method's."""
    reference_seconds, _ = training["reference fp32"]
    return [
        {
            "method": method,
            "ms_per_iteration": 1e3 * seconds,
            "images_per_second": N_ENERGY_STEPS * BATCH_SIZE / seconds,
            "peak_memory_mib": peak,
            "speedup": reference_seconds / seconds,
        }
        for method, (seconds, peak) in training.items()
    ]


def mcmc_results(mcmc, chains):
    """One record per method and chain count; ``speedup`` against the reference's rate."""
    return [
        {
            "method": method,
            "n_chains": n_chains,
            "chain_steps_per_second": rate,
            "peak_memory_mib": peak,
            "speedup": rate / reference_rate,
        }
        for method, rates in mcmc.items()
        for n_chains, (rate, peak), (reference_rate, _) in zip(
            chains, rates, mcmc["reference fp32"]
        )
    ]


def format_memory(peak):
    return "–" if peak is None else f"{peak:,.0f}"


def training_table(results):
    header = ["method", "ms/iteration", "images/s", "peak MiB", "reference/this"]
    rows = [
        [
            r["method"],
            f"{r['ms_per_iteration']:,.1f}",
            f"{r['images_per_second']:,.0f}",
            format_memory(r["peak_memory_mib"]),
            f"{r['speedup']:.2f}",
        ]
        for r in results
    ]
    return format_text_table(header, rows)


def mcmc_table(results, chains):
    """A row per method; per chain count, chain-steps/s, peak MiB and the speed-up."""
    header = ["method"]
    for n_chains in chains:
        header += [f"{n_chains:,} chains steps/s", "peak MiB", "reference/this"]
    rows = {}
    for r in results:
        rows.setdefault(r["method"], [r["method"]]).extend(
            [
                f"{r['chain_steps_per_second']:,.0f}",
                format_memory(r["peak_memory_mib"]),
                f"{r['speedup']:.2f}",
            ]
        )
    return format_text_table(header, list(rows.values()))


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({torch.get_num_threads()} threads)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=3, help="untimed reference iterations first")
    parser.add_argument("--gradient-penalty", type=float, default=1.0)
    parser.add_argument("--chains", type=int, nargs="+", default=[1000, 50_000])
    parser.add_argument("--mcmc-steps", type=int, default=20)
    parser.add_argument("--bf16-on-cpu", action="store_true", help="also time bfloat16 on a CPU")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args()
    device = torch.device(args.device)
    image_shape = (args.channels, args.image_size, args.image_size)
    precisions = ["float32"]
    if device.type == "cuda" or args.bf16_on_cpu:
        precisions.append("bfloat16")
    torch.manual_seed(0)

    data = torch.rand(N_DATA_ROWS, math.prod(image_shape), device=device)
    generator, energy = build_networks(image_shape, device)
    training = {"reference fp32": time_reference_training(generator, energy, data, args, device)}
    mcmc = {"reference fp32": time_reference_mcmc(generator, energy, args, device)}
    X = data.cpu().numpy()
    del data, generator, energy  # out of the estimators' peak memory
    for precision in precisions:
        for cuda_graphs in (True, False) if device.type == "cuda" else (True,):
            estimator = make_estimator(precision, cuda_graphs, image_shape, args)
            method = f"skgebm {precision}" + ("" if cuda_graphs else ", eager")
            training[method] = time_estimator_training(estimator, X, device)
            mcmc[method] = time_estimator_mcmc(estimator, args, device)
            del estimator

    training, mcmc = training_results(training), mcmc_results(mcmc, args.chains)
    print(
        f"{device_name(device)}, torch {torch.__version__}; images "
        f"{'x'.join(map(str, image_shape))}, batch {BATCH_SIZE}, latent {LATENT_DIM}, "
        f"gradient penalty {args.gradient_penalty}; {args.iterations} timed iterations "
        f"({args.warmup} untimed first); kinetic Langevin, {args.mcmc_steps} and "
        f"{3 * args.mcmc_steps} steps differenced"
    )
    print("\ntraining (an iteration: 5 energy steps and 1 generator step)")
    print(training_table(training))
    print("\nlatent MCMC")
    print(mcmc_table(mcmc, args.chains))
    if args.json:
        settings = vars(args) | {
            "json": str(args.json),
            "device_name": device_name(device),
            "torch": torch.__version__,
        }
        write_json(args.json, {"settings": settings, "training": training, "mcmc": mcmc})


if __name__ == "__main__":
    main()
