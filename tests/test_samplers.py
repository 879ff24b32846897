"""Tests of the MCMC samplers against targets with known moments.

Statistical checks use fixed seeds and z-scores computed from the Monte-Carlo
standard error: with many independent chains, the final states are independent
draws, so the standard error of a sample mean is exact (up to convergence).
Several z-scores are checked at once, hence thresholds around 4.5 rather than 2.
"""

import doctest
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.base import clone

import skgebm.samplers
from skgebm.exceptions import SamplingDivergenceWarning
from skgebm.samplers import (
    HMC,
    MALA,
    ULA,
    KineticLangevin,
    SamplerDiagnostics,
    _adaptation,
    _base,
    _diagnostics,
    _langevin,
    _metropolis,
    effective_sample_size,
    make_sampler,
    split_rhat,
)
from skgebm.samplers._base import _State
from skgebm.samplers._metropolis import _accept_reject, _mala_log_alpha

Z_MAX = 4.5
DTYPE = torch.float64


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Run on one thread: the tensors are small, and intra-op threads only add overhead."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def generator(seed):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- targets


class Target:
    """An unnormalized density with known mean and covariance and an exact sampler."""

    def __init__(self, log_prob, mean, cov, sample):
        self.log_prob = log_prob
        self.mean = torch.as_tensor(mean, dtype=DTYPE)
        self.cov = torch.as_tensor(cov, dtype=DTYPE)
        self.sample = sample  # (n, generator) -> exact draws

    @property
    def dim(self):
        return self.mean.shape[0]


def correlated_gaussian(dim=10, seed=123):
    """Gaussian with a random rotation, scales from 0.5 to 2 and a non-zero mean."""
    rotation, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator(seed), dtype=DTYPE))
    variances = torch.logspace(math.log10(0.25), math.log10(4.0), dim, dtype=DTYPE)
    cov = rotation @ torch.diag(variances) @ rotation.T
    mean = torch.linspace(-1, 1, dim, dtype=DTYPE)
    precision = torch.linalg.inv(cov)
    cholesky = torch.linalg.cholesky(cov)

    def log_prob(z):
        centered = z - mean
        return -0.5 * ((centered @ precision) * centered).sum(-1)

    def sample(n, gen):
        return mean + torch.randn(n, dim, generator=gen, dtype=DTYPE) @ cholesky.T

    return Target(log_prob, mean, cov, sample)


MIXTURE_WEIGHTS = torch.tensor([0.3, 0.7], dtype=DTYPE)
MIXTURE_MEANS = torch.tensor([[-3.0, 0.0], [3.0, 1.0]], dtype=DTYPE)
MIXTURE_COVS = torch.tensor([[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 2.0]]], dtype=DTYPE)


def gaussian_mixture():
    """Two Gaussians about 7 standard deviations apart, weights 0.3 and 0.7."""
    precisions = torch.linalg.inv(MIXTURE_COVS)
    cholesky = torch.linalg.cholesky(MIXTURE_COVS)
    log_weights = MIXTURE_WEIGHTS.log() - cholesky.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    mean = MIXTURE_WEIGHTS @ MIXTURE_MEANS
    second_moment = (
        MIXTURE_WEIGHTS[:, None, None]
        * (MIXTURE_COVS + MIXTURE_MEANS[:, :, None] * MIXTURE_MEANS[:, None, :])
    ).sum(0)

    def log_prob(z):  # up to the constant log(2 pi)
        centered = z[:, None] - MIXTURE_MEANS
        squared_distances = ((centered[..., None, :] @ precisions)[..., 0, :] * centered).sum(-1)
        return torch.logsumexp(log_weights - squared_distances / 2, dim=-1)

    def sample(n, gen):
        labels = (torch.rand(n, generator=gen, dtype=DTYPE) > MIXTURE_WEIGHTS[0]).long()
        noise = torch.randn(n, 2, generator=gen, dtype=DTYPE)
        return MIXTURE_MEANS[labels] + (noise[:, None] @ cholesky[labels].mT)[:, 0]

    return Target(log_prob, mean, second_moment - torch.outer(mean, mean), sample)


BANANA_SCALE, BANANA_TWIST = 2.0, 0.25


def banana():
    """Haario's twisted Gaussian: z1 ~ N(0, a^2), z2 = x2 - b (z1^2 - a^2), x2 ~ N(0, 1).

    Its mean is 0 and its covariance diag(a^2, 1 + 2 b^2 a^4) in closed form.
    """
    a, b = BANANA_SCALE, BANANA_TWIST

    def log_prob(z):
        return (
            -z[:, 0].square() / (2 * a**2) - (z[:, 1] + b * (z[:, 0].square() - a**2)).square() / 2
        )

    def sample(n, gen):
        x = torch.randn(n, 2, generator=gen, dtype=DTYPE)
        z1 = a * x[:, 0]
        return torch.stack([z1, x[:, 1] - b * (z1.square() - a**2)], dim=1)

    return Target(log_prob, [0.0, 0.0], [[a**2, 0.0], [0.0, 1 + 2 * b**2 * a**4]], sample)


TARGETS = {"gaussian": correlated_gaussian, "mixture": gaussian_mixture, "banana": banana}


def moment_z_scores(z, mean, cov):
    """z-scores of the sample mean and of the sample second central moments.

    The second moments are centred at the true mean, so each entry is a plain
    average of iid products whose standard error is estimated from the draws.
    """
    z, mean, cov = (torch.as_tensor(x, dtype=DTYPE) for x in (z, mean, cov))
    n = z.shape[0]
    z_mean = (z.mean(0) - mean) / (z.std(0) / math.sqrt(n))
    centered = z - mean
    products = centered[:, :, None] * centered[:, None, :]
    z_cov = (products.mean(0) - cov) / (products.std(0) / math.sqrt(n))
    return z_mean.abs().max().item(), z_cov.abs().max().item()


def assert_moments(z, target):
    assert torch.isfinite(z).all()
    z_mean, z_cov = moment_z_scores(z, target.mean, target.cov)
    assert z_mean < Z_MAX, f"mean off by {z_mean:.1f} standard errors"
    assert z_cov < Z_MAX, f"covariance off by {z_cov:.1f} standard errors"


def initial_states(name, target, n, gen):
    """Starting points away from the target, where a local sampler can still reach it.

    Local samplers cannot cross the low-density gap between the two mixture
    components in any practical number of steps, so mixture chains start at the
    component means in the right proportions: the test checks the shape of each
    mode and that no mass moves between them (fixing the proportions makes the
    standard errors used in the z-scores conservative). The Gaussian target starts
    from a Gaussian 1.5 times wider. The banana starts from the Gaussian with its
    mean and covariance, right in moments but wrong in shape: MALA is not
    geometrically ergodic where the gradient grows faster than linearly, as in
    the banana's tails, and among 20,000 over-dispersed chains a few stay stuck
    there for thousands of steps, inflating the variance by several standard errors.
    """
    if name == "mixture":
        n_first = round(MIXTURE_WEIGHTS[0].item() * n)
        return torch.cat(
            [MIXTURE_MEANS[0].expand(n_first, 2), MIXTURE_MEANS[1].expand(n - n_first, 2)]
        )
    spread = 1.0 if name == "banana" else 1.5
    return target.mean + spread * target.cov.diagonal().sqrt() * torch.randn(
        n, target.dim, generator=gen, dtype=DTYPE
    )


def standard_normal_log_prob(z):
    return -z.square().sum(-1) / 2


# ------------------------------------------------------- MALA and HMC are exact


METROPOLIS = {
    "mala": lambda **kw: MALA(**kw),
    "hmc": lambda **kw: HMC(n_leapfrog=5, **kw),
}


def run_to_convergence(sampler_name, target_name, n_chains, n_steps, seed=0):
    target = TARGETS[target_name]()
    gen = generator(seed)
    z0 = initial_states(target_name, target, n_chains, gen)
    sampler = METROPOLIS[sampler_name](step_size=0.1, n_steps=n_steps)
    z, diag = sampler.sample(target.log_prob, z0, generator=gen)
    return target, z, diag


# HMC iterations cost n_leapfrog=5 gradients, MALA steps one.
FAST_STEPS = {"mala": 400, "hmc": 150}


@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("sampler_name", METROPOLIS)
def test_metropolis_recovers_target_moments(sampler_name, target_name):
    # Chains start away from the target (see initial_states) and adapt their step
    # size during the first half; the final states of 2000 independent chains are
    # then independent draws whose mean and covariance must match the target.
    target, z, diag = run_to_convergence(sampler_name, target_name, 2000, FAST_STEPS[sampler_name])
    assert_moments(z, target)
    # adaptation targets 0.574 (MALA) / 0.8 (HMC); the averaged step size of a short
    # warm-up is conservative, so only degenerate rates are ruled out here
    assert 0.3 < diag.acceptance_rate < 0.99


@pytest.mark.slow
@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("sampler_name", METROPOLIS)
def test_metropolis_recovers_target_moments_precisely(sampler_name, target_name):
    # Ten times more chains: standard errors shrink by ~3, so a bias of about
    # 1.5% of a standard deviation would already fail the test.
    steps = 2 * FAST_STEPS[sampler_name]
    for seed in range(2):
        target, z, _ = run_to_convergence(sampler_name, target_name, 20000, steps, seed)
        assert_moments(z, target)


# Fixed step sizes chosen so that a sizeable fraction of proposals is rejected:
# invariance then really depends on the Metropolis-Hastings correction.
INVARIANCE_STEP_SIZES = {
    ("mala", "gaussian"): 0.4,
    ("mala", "mixture"): 0.85,
    ("mala", "banana"): 0.85,
    ("hmc", "gaussian"): 0.6,
    ("hmc", "mixture"): 0.7,
    ("hmc", "banana"): 0.8,
}


def check_invariance(sampler_name, target_name, n_chains, n_steps, seed):
    target = TARGETS[target_name]()
    gen = generator(seed)
    z0 = target.sample(n_chains, gen)
    sampler = METROPOLIS[sampler_name](
        step_size=INVARIANCE_STEP_SIZES[sampler_name, target_name],
        n_steps=n_steps,
        adapt_step_size=False,
    )
    z, diag = sampler.sample(target.log_prob, z0, generator=gen)
    assert 0.2 < diag.acceptance_rate < 0.95
    assert_moments(z, target)
    reference = target.sample(n_chains, gen)
    for i in range(target.dim):
        assert stats.ks_2samp(z[:, i].numpy(), reference[:, i].numpy()).pvalue > 1e-3


@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("sampler_name", METROPOLIS)
def test_metropolis_leaves_target_invariant(sampler_name, target_name):
    check_invariance(sampler_name, target_name, n_chains=2000, n_steps=30, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("sampler_name", METROPOLIS)
def test_metropolis_leaves_target_invariant_long_run(sampler_name, target_name):
    check_invariance(sampler_name, target_name, n_chains=20000, n_steps=200, seed=1)


def quartic_log_prob(z):
    return -z.pow(4).sum(-1) / 4 + torch.sin(2 * z).sum(-1)


@pytest.mark.parametrize("step_size", [0.01, 0.3, 2.0])
def test_mala_ratio_satisfies_detailed_balance(step_size):
    # pi(x) q(y|x) alpha(x, y) == pi(y) q(x|y) alpha(y, x) for every pair, with
    # the Langevin proposal density q written independently with scipy.
    x, y = torch.meshgrid(*2 * [torch.linspace(-2.5, 2.5, 41, dtype=DTYPE)], indexing="ij")
    x, y = x.reshape(-1, 1), y.reshape(-1, 1)
    state_x = _State(x, *_base._log_prob_and_grad(quartic_log_prob, x))
    state_y = _State(y, *_base._log_prob_and_grad(quartic_log_prob, y))
    h = torch.tensor(step_size, dtype=DTYPE)

    def log_flux(a, b):  # log pi(a) + log q(b | a) + log alpha(a, b)
        log_q = stats.norm.logpdf(
            b.z[:, 0], a.z[:, 0] + step_size * a.grad[:, 0], math.sqrt(2 * step_size)
        )
        log_alpha = _mala_log_alpha(a, b, h).clamp(max=0)
        return a.log_p.numpy() + log_q + log_alpha.numpy()

    forward, backward = log_flux(state_x, state_y), log_flux(state_y, state_x)
    finite = np.isfinite(forward)
    assert finite.mean() > 0.5
    np.testing.assert_allclose(forward[finite], backward[finite], rtol=0, atol=1e-8)


def test_mala_rejects_overshooting_steps():
    # On N(0, 0.1^2 I) a step size of 0.05 = 5 sigma^2 makes every Langevin
    # proposal overshoot: an uncorrected or wrongly corrected MALA would accept
    # them and explode, while the exact ratio rejects almost all of them.
    sigma = 0.1
    gen = generator(0)
    z0 = sigma * torch.randn(1000, 5, generator=gen, dtype=DTYPE)
    z, diag = MALA(step_size=5 * sigma**2, n_steps=50, adapt_step_size=False).sample(
        lambda z: -z.square().sum(-1) / (2 * sigma**2), z0, generator=gen
    )
    assert diag.acceptance_rate < 0.05
    assert torch.isfinite(z).all()
    assert abs(z.std().item() / sigma - 1) < 0.05


def test_mala_and_hmc_accept_everything_as_step_size_vanishes():
    # The Metropolis-Hastings error of MALA and of the leapfrog integrator vanish
    # with the step size (at fixed trajectory length L h for HMC). A stale
    # gradient inside the leapfrog would keep an O(1) energy error instead.
    target = correlated_gaussian()
    z0 = target.sample(200, generator(0))
    for sampler in [
        MALA(step_size=1e-4, n_steps=5, adapt_step_size=False),
        HMC(step_size=0.01, n_leapfrog=100, n_steps=5, adapt_step_size=False),
    ]:
        _, diag = sampler.sample(target.log_prob, z0, generator=generator(1))
        assert diag.acceptance_rate > 0.99


def gradient(log_prob, z):
    z = z.detach().requires_grad_(True)
    return torch.autograd.grad(log_prob(z).sum(), z)[0]


def banana_state(n_chains=50, seed=0):
    target = banana()  # not quadratic: a gradient taken at the wrong point shows
    z = target.sample(n_chains, generator(seed))
    return target, _State(z, target.log_prob(z), gradient(target.log_prob, z))


@pytest.mark.parametrize("sampler", [MALA(), HMC(n_leapfrog=1), HMC(n_leapfrog=4)])
def test_proposals_cache_fresh_log_density_and_gradient(sampler):
    # An accepted proposal's cached values seed the next step; a stale gradient
    # (the reference HMC's defect) would silently bias the chains.
    target, state = banana_state()
    h = torch.tensor(0.3, dtype=DTYPE)
    proposal, _ = sampler._propose(target.log_prob, state, h, generator(1))
    torch.testing.assert_close(proposal.log_p, target.log_prob(proposal.z))
    torch.testing.assert_close(proposal.grad, gradient(target.log_prob, proposal.z))


@pytest.mark.parametrize("n_leapfrog", [1, 4])
def test_hmc_proposal_is_a_leapfrog_trajectory(n_leapfrog):
    # Textbook leapfrog (kick-drift-kick per step, recomputing every gradient)
    # from the same momentum, which is the proposal's first draw from the generator.
    target, state = banana_state()
    h = 0.3
    proposal, log_alpha = HMC(n_leapfrog=n_leapfrog)._propose(
        target.log_prob, state, torch.tensor(h, dtype=DTYPE), generator(1)
    )
    momentum = torch.randn(state.z.shape, generator=generator(1), dtype=DTYPE)
    z, p = state.z, momentum
    for _ in range(n_leapfrog):
        p = p + h / 2 * gradient(target.log_prob, z)
        z = z + h * p
        p = p + h / 2 * gradient(target.log_prob, z)

    def hamiltonian(z, p):
        return -target.log_prob(z) + p.square().sum(-1) / 2

    torch.testing.assert_close(proposal.z, z)
    torch.testing.assert_close(log_alpha, hamiltonian(state.z, momentum) - hamiltonian(z, p))


# ---------------------------------------------------------- unadjusted samplers


def final_states(sampler, log_prob, z0, seed=1):
    z, _ = sampler.sample(log_prob, z0, generator=generator(seed))
    return z


def test_ula_stationary_variance_matches_closed_form():
    # ULA on N(0, s^2) is an AR(1) chain z' = (1 - h / s^2) z + sqrt(2 h) xi whose
    # stationary variance is s^2 / (1 - h / (2 s^2)): biased, the bias shrinking with h.
    s = 1.5
    z0 = s * torch.randn(5000, 4, generator=generator(0), dtype=DTYPE)
    errors = []
    for h in [1.0, 0.25]:
        z = final_states(
            ULA(step_size=h, n_steps=200), lambda z: -z.square().sum(-1) / (2 * s**2), z0
        )
        variance, expected = z.square().mean().item(), s**2 / (1 - h / (2 * s**2))
        standard_error = expected * math.sqrt(2 / z.numel())
        assert abs(variance - expected) < Z_MAX * standard_error
        errors.append(abs(variance - s**2) / standard_error)
    assert errors[0] > 20  # a 29% bias at h = 1.0, far beyond Monte-Carlo error
    assert errors[1] < errors[0] / 3  # 6% bias at h = 0.25


def test_kinetic_langevin_is_exact_on_gaussians():
    # BAOAB samples the positions of a Gaussian target without bias at any stable
    # step size (Leimkuhler & Matthews, 2013), unlike ULA at the same step size.
    z0 = torch.randn(5000, 4, generator=generator(0), dtype=DTYPE)
    for h in [0.5, 1.5]:
        z = final_states(KineticLangevin(step_size=h, n_steps=100), standard_normal_log_prob, z0)
        assert abs(z.square().mean().item() - 1) < Z_MAX * math.sqrt(2 / z.numel())


def baoab_mean(z0, scales, step_size, friction, n_steps):
    """Mean position of BAOAB chains on N(0, diag(scales^2)) started at (z0, v ~ N(0, I)).

    On a Gaussian target each BAOAB step is linear in (z, v) plus zero-mean
    noise, so the mean follows the noiseless map: B, A, O (friction only), A, B.
    """
    h, decay = step_size, math.exp(-friction * step_size)
    means = []
    for scale in scales:
        kick = np.array([[1.0, 0.0], [-h / 2 / scale**2, 1.0]])
        drift = np.array([[1.0, h / 2], [0.0, 1.0]])
        damp = np.diag([1.0, decay])
        step = kick @ drift @ damp @ drift @ kick
        means.append((np.linalg.matrix_power(step, n_steps) @ [z0, 0.0])[0])
    return np.array(means)


@pytest.mark.parametrize("friction", [0.2, 1.0, 5.0])
def test_kinetic_langevin_mean_follows_damped_dynamics(friction):
    # The chains' mean oscillates and decays at the rate the friction sets; a
    # sampler ignoring its friction, or dropping the velocity between steps,
    # would follow another path (at these settings they differ by > 0.3, the
    # standard error is 0.02).
    scales = torch.tensor([0.5, 1.0, 2.0], dtype=DTYPE)
    z0 = torch.full((3000, 3), 2.0, dtype=DTYPE)
    sampler = KineticLangevin(step_size=0.3, n_steps=10, friction=friction)
    z = final_states(sampler, lambda z: -(z / scales).square().sum(-1) / 2, z0)
    expected = baoab_mean(2.0, scales.tolist(), 0.3, friction, 10)
    standard_error = z.std(0).numpy() / math.sqrt(z.shape[0])
    assert np.all(np.abs(z.mean(0).numpy() - expected) < Z_MAX * standard_error)


def log_cosh_log_prob(z):
    return -2 * torch.log(torch.cosh(z)).sum(-1)


def log_cosh_second_moment():
    density = lambda x: np.cosh(x) ** -2.0  # noqa: E731
    return (
        integrate.quad(lambda x: x**2 * density(x), -40, 40)[0]
        / integrate.quad(density, -40, 40)[0]
    )


def kinetic_bias_z_scores(step_sizes, n_chains, seed=0):
    """z-scores of E[z^2] under pi(z) ~ cosh(z)^-2, a non-Gaussian target with bounded gradient."""
    expected = log_cosh_second_moment()
    z0 = torch.randn(n_chains, 4, generator=generator(seed), dtype=DTYPE)
    scores = []
    for h in step_sizes:
        sampler = KineticLangevin(step_size=h, n_steps=round(40 / h), trace_chains=0)
        squares = final_states(sampler, log_cosh_log_prob, z0, seed + 1).square().flatten()
        scores.append(
            (squares.mean().item() - expected)
            / (squares.std().item() / math.sqrt(squares.numel()))
        )
    return scores


def test_kinetic_langevin_bias_shrinks_with_step_size():
    # On a non-Gaussian target BAOAB has an O(h^2) bias: clear at a coarse step
    # size (beyond the linear stability limit 2 / max|grad^2 log pi| = 1.41 at
    # the mode), below Monte-Carlo error at half of it.
    coarse, fine = kinetic_bias_z_scores([1.5, 0.75], n_chains=5000)
    assert coarse > 10
    assert abs(fine) < Z_MAX


@pytest.mark.slow
def test_kinetic_langevin_bias_shrinks_with_step_size_precisely():
    scores = kinetic_bias_z_scores([1.5, 1.0, 0.5, 0.25], n_chains=50000)
    assert scores[0] > 30
    assert all(abs(score) < Z_MAX for score in scores[2:])


# ------------------------------------------------------------------ adaptation


def adapted_acceptance(sampler, target, n_chains=500, seed=0):
    gen = generator(seed)
    z0 = target.mean + torch.randn(n_chains, target.dim, generator=gen, dtype=DTYPE)
    _, diag = sampler.sample(target.log_prob, z0, generator=gen)
    return diag


@pytest.mark.parametrize("initial_step_size", [1e-3, 0.1, 5.0])
@pytest.mark.parametrize("target_accept", [0.574, 0.8])
def test_mala_adapts_to_target_acceptance(initial_step_size, target_accept):
    sampler = MALA(
        step_size=initial_step_size, n_steps=400, n_warmup=300, target_accept=target_accept
    )
    diag = adapted_acceptance(sampler, correlated_gaussian())
    assert abs(diag.acceptance_rate - target_accept) < 0.05


def spread_gaussian(dim=50):
    """Independent Gaussian coordinates with standard deviations from 0.5 to 2."""
    scales = torch.linspace(0.5, 2.0, dim, dtype=DTYPE)
    return Target(
        lambda z: -(z / scales).square().sum(-1) / 2,
        torch.zeros(dim),
        torch.diag(scales.square()),
        lambda n, gen: scales * torch.randn(n, dim, generator=gen, dtype=DTYPE),
    )


@pytest.mark.parametrize("target_accept", [0.65, 0.8])
def test_hmc_adapts_to_target_acceptance(target_accept):
    # With a fixed number of leapfrog steps, HMC's acceptance on a Gaussian with a
    # few distinct scales is a jagged function of the step size (trajectories
    # resonate with the periods 2 pi sigma), and dual averaging, which matches the
    # *average* acceptance of its iterates, can then settle off target. Many
    # distinct scales smooth the curve, as in realistic targets.
    sampler = HMC(
        step_size=0.1, n_steps=300, n_warmup=200, n_leapfrog=10, target_accept=target_accept
    )
    diag = adapted_acceptance(sampler, spread_gaussian())
    assert abs(diag.acceptance_rate - target_accept) < 0.05


def test_adaptation_freezes_averaged_step_size():
    # Without adaptation the step size is reported unchanged; with it, the frozen
    # value is the dual-averaging average of the warm-up iterates.
    target = correlated_gaussian()
    z0 = target.sample(100, generator(0))
    _, fixed = MALA(step_size=0.3, n_steps=10, adapt_step_size=False).sample(target.log_prob, z0)
    assert fixed.step_size == 0.3
    adapter = _adaptation.DualAveraging(torch.tensor(0.3, dtype=DTYPE), target_accept=0.574)
    for accept_prob in [0.9, 0.2, 0.6]:
        adapter.update(torch.tensor(accept_prob, dtype=DTYPE))
    # Hoffman & Gelman (2014), Algorithm 5, by hand.
    mu, error, log_avg = math.log(3.0), 0.0, 0.0
    for m, accept_prob in enumerate([0.9, 0.2, 0.6], start=1):
        error = (1 - 1 / (m + 10)) * error + (0.574 - accept_prob) / (m + 10)
        log_h = mu - math.sqrt(m) / 0.05 * error
        log_avg = m**-0.75 * log_h + (1 - m**-0.75) * log_avg
    assert adapter.final_step_size.item() == pytest.approx(math.exp(log_avg), rel=1e-12)


@pytest.mark.parametrize(
    "sampler", [MALA(n_steps=60, n_warmup=40), HMC(n_steps=30, n_warmup=20, n_leapfrog=3)]
)
def test_step_size_is_adapted_during_warmup_then_frozen(sampler, monkeypatch):
    # Record the step size and mean acceptance of every transition, then replay
    # the warm-up through DualAveraging: the warm-up must use its iterates, the
    # rest its average, and the reported acceptance only the post-warm-up steps.
    steps = []
    transition = type(sampler)._step

    def recording_step(self, log_prob, state, step_size, generator):
        state, accept_prob = transition(self, log_prob, state, step_size, generator)
        steps.append((step_size.item(), accept_prob.mean().item()))
        return state, accept_prob

    monkeypatch.setattr(type(sampler), "_step", recording_step)
    target = correlated_gaussian()
    z0 = target.sample(200, generator(0))
    _, diag = sampler.sample(target.log_prob, z0, generator=generator(1))

    warmup, after = steps[: sampler.n_warmup], steps[sampler.n_warmup :]
    adapter = _adaptation.DualAveraging(torch.tensor(0.1, dtype=DTYPE), sampler.target_accept)
    assert warmup[0][0] == pytest.approx(0.1, rel=1e-12)
    for m, (_, accept_prob) in enumerate(warmup, start=1):
        iterate = adapter.update(torch.tensor(accept_prob, dtype=DTYPE)).item()
        if m < len(warmup):
            assert warmup[m][0] == pytest.approx(iterate, rel=1e-12)
    frozen = adapter.final_step_size.item()
    assert abs(math.log(frozen / iterate)) > 0.01  # the average, not the last iterate
    assert diag.step_size == pytest.approx(frozen, rel=1e-12)
    assert all(step_size == pytest.approx(frozen, rel=1e-12) for step_size, _ in after)
    assert diag.acceptance_rate == pytest.approx(np.mean([a for _, a in after]), rel=1e-12)


# ------------------------------------------------------- robustness and plumbing


@pytest.mark.parametrize("sampler_name", METROPOLIS)
def test_non_finite_proposals_are_rejected(sampler_name):
    # The target is -inf outside the unit box and NaN in part of it: such
    # proposals must be rejected, never written into the chains.
    def log_prob(z):
        inside = (z.abs() < 1).all(-1)
        value = torch.where(inside, -z.square().sum(-1), -torch.inf)
        return torch.where(z[:, 0] > 0.9, torch.nan, value)

    z0 = 0.3 * torch.randn(500, 3, generator=generator(0), dtype=DTYPE).clamp(-2, 2)
    z, diag = METROPOLIS[sampler_name](step_size=0.5, n_steps=40, adapt_step_size=False).sample(
        log_prob, z0, generator=generator(1)
    )
    assert torch.isfinite(z).all()
    assert (z.abs() < 1).all() and (z[:, 0] <= 0.9).all()
    assert 0 < diag.acceptance_rate < 1


@pytest.mark.parametrize("name", ["ula", "kinetic"])
def test_unadjusted_chains_that_diverge_are_counted_and_reported(name):
    # on N(0, I) a step of 3 overshoots geometrically: never silent overflow or NaN
    z0 = torch.randn(50, 2, generator=generator(0))
    message = "50 of 50 chains ended at a non-finite"
    with pytest.warns(SamplingDivergenceWarning, match=message) as caught:
        _, diag = make_sampler(name, step_size=3.0, n_steps=100).sample(
            standard_normal_log_prob, z0, generator=generator(1)
        )
    assert diag.n_diverged == 50 and caught[0].filename == __file__
    assert issubclass(SamplingDivergenceWarning, RuntimeWarning)  # its class until now


@pytest.mark.parametrize("name", ["ula", "kinetic", "mala", "hmc"])
def test_stable_chains_report_no_divergence(name, recwarn):
    z0 = torch.randn(50, 2, generator=generator(0))
    step_size = 3.0 if name in ("mala", "hmc") else 0.1  # rejection keeps them finite
    _, diag = make_sampler(name, step_size=step_size, n_steps=100).sample(
        standard_normal_log_prob, z0, generator=generator(1)
    )
    assert diag.n_diverged == 0 and not recwarn.list


def test_accept_reject_keeps_cached_values_consistent():
    current = _State(torch.zeros(4, 2), torch.zeros(4), torch.zeros(4, 2))
    proposal = _State(
        torch.ones(4, 2),
        torch.tensor([1.0, float("nan"), 1.0, 1.0]),
        torch.tensor([[2.0, 2.0], [2.0, 2.0], [float("inf"), 2.0], [2.0, 2.0]]),
    )
    log_alpha = torch.tensor([torch.inf, 0.0, 0.0, -torch.inf])
    state, accept_prob = _accept_reject(current, proposal, log_alpha, generator(0))
    accepted = torch.tensor([True, False, False, False])
    assert torch.equal(state.z, torch.where(accepted[:, None], proposal.z, current.z))
    assert torch.equal(state.log_p, torch.where(accepted, 1.0, 0.0))
    assert torch.equal(state.grad, torch.where(accepted[:, None], 2.0, 0.0).expand(4, 2))
    assert torch.equal(accept_prob, accepted.float())


SAMPLERS = {
    "ula": dict(step_size=0.1, n_steps=20),
    "kinetic": dict(step_size=0.1, n_steps=20),
    "mala": dict(step_size=0.1, n_steps=20),
    "hmc": dict(step_size=0.1, n_steps=20, n_leapfrog=3),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_randomness_comes_only_from_the_generator(name):
    sampler = make_sampler(name, **SAMPLERS[name])
    z0 = torch.randn(50, 3, generator=generator(0))
    global_state = torch.get_rng_state()
    z_a, _ = sampler.sample(standard_normal_log_prob, z0, generator=generator(7))
    z_b, _ = sampler.sample(standard_normal_log_prob, z0, generator=generator(7))
    z_c, _ = sampler.sample(standard_normal_log_prob, z0, generator=generator(8))
    assert torch.equal(torch.get_rng_state(), global_state)
    assert torch.equal(z_a, z_b)
    assert not torch.equal(z_a, z_c)


@pytest.mark.parametrize("name", SAMPLERS)
def test_works_under_no_grad_without_touching_parameters(name):
    energy = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.SiLU(), torch.nn.Linear(8, 1))

    def log_prob(z):
        return -z.square().sum(-1) / 2 - energy(z)[:, 0]

    z0 = torch.randn(20, 3, generator=generator(0))
    with torch.no_grad():
        z, _ = make_sampler(name, **SAMPLERS[name]).sample(log_prob, z0, generator=generator(1))
    assert not z.requires_grad and z.grad_fn is None
    assert torch.isfinite(z).all()
    assert all(parameter.grad is None for parameter in energy.parameters())


@given(
    name=st.sampled_from(sorted(SAMPLERS)),
    n_chains=st.integers(1, 6),
    dim=st.integers(1, 4),
    n_steps=st.integers(0, 6),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_shapes_dtypes_and_identity(name, n_chains, dim, n_steps, dtype, seed):
    z0 = torch.randn(n_chains, dim, generator=generator(seed), dtype=dtype)
    params = {**SAMPLERS[name], "n_steps": n_steps}
    z, diag = make_sampler(name, **params).sample(
        standard_normal_log_prob, z0, generator=generator(seed)
    )
    assert z.shape == z0.shape and z.dtype == dtype and z.device == z0.device
    assert torch.isfinite(z).all()
    if n_steps == 0:
        assert torch.equal(z, z0)
    assert isinstance(diag, SamplerDiagnostics) and diag.n_steps == n_steps
    assert (diag.acceptance_rate is None) == (
        name in ("ula", "kinetic") or n_steps == diag.n_warmup
    )


def test_diagnostics_of_a_run():
    # chains started at exact draws of a well-conditioned target mix quickly, so
    # R-hat must be close to 1
    z0 = torch.randn(200, 10, generator=generator(0), dtype=DTYPE)
    _, diag = MALA(step_size=0.3, n_steps=400, trace_chains=32).sample(
        standard_normal_log_prob, z0, generator=generator(1)
    )
    assert diag.n_warmup == 200 and diag.ess.shape == diag.rhat.shape == (10,)
    assert np.all(diag.rhat < 1.1) and np.all((diag.ess > 10) & (diag.ess < 32 * 200 * 4))
    for params in [dict(trace_chains=0), dict(n_steps=202, n_warmup=200)]:
        _, diag = MALA(**params).sample(standard_normal_log_prob, z0)
        assert diag.ess is None and diag.rhat is None


def test_sampler_is_a_scikit_learn_style_estimator():
    sampler = HMC(step_size=0.2, n_leapfrog=4)
    assert clone(sampler).get_params() == sampler.get_params()
    assert sampler.get_params()["n_warmup"] is None
    assert isinstance(make_sampler("kinetic"), KineticLangevin)
    with pytest.raises(ValueError, match=r"'hmc', 'kinetic', 'mala', 'ula'"):
        make_sampler("nuts")


@pytest.mark.parametrize(
    "sampler, param",
    [
        (ULA(step_size=0.0), "step_size"),
        (ULA(step_size=float("nan")), "step_size"),
        (MALA(step_size="0.1"), "step_size"),
        (MALA(n_steps=-1), "n_steps"),
        (MALA(n_steps=2.5), "n_steps"),
        (HMC(n_steps=10, n_warmup=11), "n_warmup"),
        (HMC(n_warmup=-1), "n_warmup"),
        (HMC(n_leapfrog=0), "n_leapfrog"),
        (MALA(target_accept=1.0), "target_accept"),
        (MALA(adapt_step_size="yes"), "adapt_step_size"),
        (KineticLangevin(friction=0.0), "friction"),
        (ULA(trace_chains=-1), "trace_chains"),
        (ULA(trace_chains=True), "trace_chains"),
    ],
)
def test_bad_parameters_raise_value_error(sampler, param):
    with pytest.raises(ValueError, match=param):
        sampler.sample(standard_normal_log_prob, torch.zeros(2, 2))


def test_bad_inputs_raise_value_error():
    sampler = MALA(n_steps=2)
    with pytest.raises(ValueError, match="z0"):
        sampler.sample(standard_normal_log_prob, torch.zeros(3))
    with pytest.raises(ValueError, match="z0"):
        sampler.sample(standard_normal_log_prob, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="log_prob"):
        sampler.sample("normal", torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"log_prob must return .* \(n_chains,\)"):
        sampler.sample(lambda z: -z.square() / 2, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="finite"):
        sampler.sample(lambda z: torch.log(z[:, 0]), torch.zeros(3, 2))


# ----------------------------------------------------------------- ESS, R-hat


def ar1_chains(rho, n_chains, n_draws, dim, seed):
    rng = np.random.default_rng(seed)
    innovations = rng.normal(size=(n_chains, n_draws, dim))
    chains = np.empty_like(innovations)
    chains[:, 0] = innovations[:, 0] / math.sqrt(1 - rho**2)  # stationary start
    for t in range(1, n_draws):
        chains[:, t] = rho * chains[:, t - 1] + innovations[:, t]
    return chains


def test_ess_of_iid_draws_is_the_number_of_draws():
    draws = np.random.default_rng(0).normal(size=(4, 1000, 5))
    np.testing.assert_allclose(effective_sample_size(draws), 4000, rtol=0.2)


@pytest.mark.parametrize("rho", [0.5, 0.9, -0.5])
def test_ess_of_ar1_chains_matches_theory(rho):
    # The integrated autocorrelation time of an AR(1) chain is (1 + rho) / (1 - rho).
    n_chains, n_draws = 8, 4000
    ess = effective_sample_size(ar1_chains(rho, n_chains, n_draws, dim=3, seed=0))
    expected = n_chains * n_draws * (1 - rho) / (1 + rho)
    np.testing.assert_allclose(ess, expected, rtol=0.25)


def test_rhat_separates_mixed_from_stuck_chains():
    draws = np.random.default_rng(0).normal(size=(8, 1000, 2))
    assert np.all(np.abs(split_rhat(draws) - 1) < 0.01)
    stuck = draws + np.arange(8)[:, None, None]  # chains at different locations
    assert np.all(split_rhat(stuck) > 1.1)
    drifting = draws[:1] + np.linspace(0, 3, 1000)[None, :, None]  # one chain, still moving
    assert np.all(split_rhat(drifting) > 1.1)
    # Stuck chains also carry little information about the mean.
    assert np.all(effective_sample_size(stuck) < 100)
    # Chains that agree in location but not in spread: only the tail (folded) R-hat
    # of the distances to the median sees them.
    spread = draws * np.array([1, 1, 1, 1, 1, 1, 1, 3])[:, None, None]
    assert np.all(split_rhat(spread) > 1.05)


def test_rhat_flags_a_diverging_unadjusted_chain():
    # ULA with step 3 on N(0, 1) oscillates with growing amplitude about the mode:
    # the halves of each chain agree in location, not in spread
    # (in float64 the states, about 1e30, stay finite: nothing else flags them)
    z0 = torch.randn(64, 1, generator=generator(0), dtype=torch.float64)
    _, diag = ULA(step_size=3.0, n_steps=100, n_warmup=50).sample(
        standard_normal_log_prob, z0, generator=generator(1)
    )
    assert diag.n_diverged == 0 and np.all(diag.rhat > 1.1)


def test_diagnostics_edge_cases():
    with pytest.raises(ValueError, match="n_draws >= 4"):
        split_rhat(np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="shape"):
        effective_sample_size(np.zeros((10, 2)))
    constant = np.ones((2, 10, 1))
    assert np.isnan(split_rhat(constant)).all() and np.isnan(effective_sample_size(constant)).all()


@pytest.mark.parametrize(
    "module", [skgebm.samplers, _adaptation, _base, _diagnostics, _langevin, _metropolis]
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 or module is _base
    assert result.failed == 0
