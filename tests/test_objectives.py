"""The objective family: each loss is right in closed form, and each learns a density."""

import math

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from skgebm import GEBMEstimator
from skgebm.datasets import make_eight_gaussians, make_two_moons
from skgebm.networks import GaussianBase
from skgebm.objectives import (
    NCE,
    ContrastiveDivergence,
    DenoisingScoreMatching,
    KALE,
    SlicedScoreMatching,
    model_score,
    weighted_mmd2,
)
from skgebm.metrics import median_heuristic
from skgebm.networks import GeneratorBase

OBJECTIVES = ["kale", "cd", "dsm", "ssm", "nce", "fce"]


class QuadraticEnergy(torch.nn.Module):
    """E(x) = a |x|^2 / 2: with a standard normal base the model is N(0, 1 / (1 + a))."""

    def __init__(self, a):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a)))

    def forward(self, x):
        return self.a * x.square().sum(-1) / 2


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_weighted_mmd2_with_equal_weights_is_the_textbook_estimate():
    rng = np.random.RandomState(0)
    x, y = rng.normal(size=(200, 3)), rng.normal(size=(300, 3)) + 0.5
    gamma = 1 / (2 * median_heuristic(y) ** 2)
    k = lambda a, b: np.exp(-gamma * ((a[:, None] - b[None]) ** 2).sum(-1))  # noqa: E731
    k_yy = k(y, y)
    expected = k(x, x).mean() + (k_yy.sum() - 300) / (300 * 299) - 2 * k(x, y).mean()
    got = weighted_mmd2(torch.as_tensor(x), torch.zeros(200, dtype=torch.float64),
                        torch.as_tensor(y))
    assert got.item() == pytest.approx(expected, rel=1e-10)


def test_weighted_mmd2_sees_the_reweighted_model():
    """Weights exp(-E) that remove a base's spurious mode bring it to the data."""
    rng = np.random.RandomState(0)
    y = torch.as_tensor(rng.normal(size=(500, 2)))
    good, spurious = rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 6.0
    x = torch.as_tensor(np.concatenate([good, spurious]))
    flat = weighted_mmd2(x, torch.zeros(1000, dtype=torch.float64), y)
    energy = torch.cat([torch.zeros(500), torch.full((500,), 30.0)]).double()
    corrected = weighted_mmd2(x, -energy, y)
    alone = weighted_mmd2(x[:500], torch.zeros(500, dtype=torch.float64), y)
    assert corrected.item() == pytest.approx(alone.item(), abs=1e-9)
    assert flat.item() > 0.1 > 0.01 > corrected.item()


def test_weighted_mmd2_is_finite_on_one_reference_row():
    """A tiny held-out split can leave one row: no pairs, no median, still a number."""
    x = torch.randn(50, 2, generator=generator(0))
    value = weighted_mmd2(x, torch.zeros(50), torch.zeros(1, 2))
    assert torch.isfinite(value)
    closer = weighted_mmd2(0.1 * x, torch.zeros(50), torch.zeros(1, 2))
    assert closer < value


def test_generator_validation_loss_falls_as_the_generator_nears_the_data():
    """The held-out KALE of a zero energy is 0 whatever the generator: no criterion."""
    x_data = torch.randn(400, 2, generator=generator(0))
    z = torch.randn(4096, 2, generator=generator(1))
    energy = QuadraticEnergy(0.0)
    bases = [GeneratorBase(Shift(shift), 2) for shift in (3.0, 1.0, 0.0)]
    losses = [KALE().validation_loss(energy, base, x_data, base(z)).item() for base in bases]
    assert losses[0] > losses[1] > losses[2]
    assert abs(losses[2]) < 0.01


class Shift(torch.nn.Module):
    def __init__(self, shift):
        super().__init__()
        self.shift = shift

    def forward(self, z):
        return z + self.shift


def test_model_score_is_base_score_minus_energy_gradient():
    base = GaussianBase(3)
    with torch.no_grad():
        base.loc.fill_(0.5)
    x = torch.randn(10, 3, generator=generator())
    score, _ = model_score(QuadraticEnergy(2.0), base, x)
    torch.testing.assert_close(score, -(x - 0.5) - 2.0 * x)


@pytest.mark.parametrize(
    "objective",
    [
        DenoisingScoreMatching(noise_scale=0.05),
        SlicedScoreMatching(),
        NCE(gradient_penalty=0.0),
        KALE(gradient_penalty=0.0),
    ],
    ids=["dsm", "ssm", "nce", "kale"],
)
def test_loss_is_minimised_at_the_data_precision(objective):
    # data N(0, 0.5^2 I), base N(0, I): the model exp(-a|x|^2/2) b is the data at a = 3
    gen = generator(0)
    x_data = 0.5 * torch.randn(20000, 2, generator=gen)
    x_base = torch.randn(20000, 2, generator=gen)
    base = GaussianBase(2)
    grid = np.linspace(1.0, 5.0, 17)
    losses = []
    for a in grid:
        energy = QuadraticEnergy(a)
        with torch.no_grad():  # A = log Z = log E_b exp(-E) = -(d / 2) log(1 + a)
            objective.log_partition.fill_(-math.log(1 + a))
        loss, _ = objective.energy_loss(energy, base, x_data, x_base, generator(1))
        losses.append(loss.item())
    assert abs(grid[int(np.argmin(losses))] - 3.0) <= 0.25


def test_nce_loss_at_chance_is_two_log_two():
    loss, stat = NCE(gradient_penalty=0.0).energy_loss(
        lambda x: x.sum(-1) * 0, None, torch.zeros(8, 2), torch.ones(8, 2), None
    )
    assert loss.item() == pytest.approx(2 * math.log(2)) and stat == loss


def test_contrastive_divergence_replay_buffer():
    base, energy = GaussianBase(2), QuadraticEnergy(0.0)
    cd = ContrastiveDivergence(n_steps=3, reinit_prob=0.0, buffer_size=50)
    x = cd.negative_samples(energy, base, 50, generator(0))
    assert x.shape == (50, 2) and cd.chains.shape == (50, 2)
    before = cd.chains.clone()
    cd.negative_samples(energy, base, 10, generator(1))
    changed = (cd.chains != before).any(-1)
    assert changed.sum() == 10  # the chains drawn, each once, and only they moved
    # with a flat energy the chains target the base, N(0, I): persistent chains stay there
    for seed in range(30):
        cd.negative_samples(energy, base, 50, generator(seed))
    assert abs(cd.chains.var().item() - 1.0) < 0.35


def test_contrastive_divergence_restarts_chains_that_ran_off():
    base, energy = GaussianBase(2), QuadraticEnergy(0.0)
    cd = ContrastiveDivergence(n_steps=3, reinit_prob=0.0, buffer_size=50)
    cd.negative_samples(energy, base, 50, generator(0))
    cd.chains[:5] = math.inf
    x = cd.negative_samples(energy, base, 50, generator(1))
    assert torch.isfinite(x).all() and torch.isfinite(cd.chains).all()


def test_contrastive_divergence_negatives_are_nan_when_the_energy_is():
    # a NaN loss is what sends the trainer to its last finite state
    base, energy = GaussianBase(2), QuadraticEnergy(math.nan)
    cd = ContrastiveDivergence(n_steps=3, buffer_size=50)
    assert torch.isnan(cd.negative_samples(energy, base, 20, generator(0))).all()


class _BatchNormBase(torch.nn.Module):
    """A Gaussian base through batch normalization, as in the DCGAN generator."""

    latent_dim = 2

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(2)

    def forward(self, z):
        return self.norm(z)


def test_contrastive_divergence_chains_run_in_evaluation_mode():
    # in training mode batch statistics would couple the chains and the running
    # statistics would learn the chains' latents instead of N(0, I)
    base, energy = _BatchNormBase(), QuadraticEnergy(1.0)
    cd = ContrastiveDivergence(n_steps=5, buffer_size=50)
    cd.negative_samples(energy, base, 20, generator(0))
    assert base.training and energy.training
    assert base.norm.num_batches_tracked == 0
    assert torch.equal(base.norm.running_mean, torch.zeros(2))


def test_contrastive_divergence_loss_pushes_data_energy_down():
    energy, base = QuadraticEnergy(1.0), GaussianBase(2)
    cd = ContrastiveDivergence(n_steps=5, gradient_penalty=0.0, energy_l2=0.0)
    x_data = 0.5 * torch.randn(256, 2, generator=generator())
    loss, gap = cd.energy_loss(energy, base, x_data, None, generator(1))
    loss.backward()
    # data are narrower than the model N(0, 1/2): the likelihood wants a larger a
    assert gap.item() < 0 and energy.a.grad.item() < 0


SETTINGS = dict(
    base="gaussian",
    max_iter=150,
    batch_size=128,
    n_burst_steps=5,
    energy_hidden_layer_sizes=(32, 32),
    n_partition_samples=4096,
    n_cd_steps=5,
    learning_rate=3e-3,
    device="cpu",
    random_state=0,
)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("make_data", [make_eight_gaussians, make_two_moons])
def test_each_objective_improves_on_its_gaussian_base(objective, make_data):
    # the Gaussian base cannot represent the modes; each energy must add held-out
    # likelihood on top of it (the truth is ~1.3 nats above the Gaussian on 8 Gaussians)
    X = make_data(2000, random_state=0)
    est = GEBMEstimator(objective=objective, **SETTINGS).fit(X[:1000])
    gebm = est.score(X[1000:])
    base = est.set_params(temperature=float("inf")).score(X[1000:])
    assert np.isfinite(gebm) and gebm > base + 0.1, (gebm, base)


def test_grid_search_compares_objectives_on_held_out_likelihood():
    X = make_two_moons(600, random_state=0)
    params = {**SETTINGS, "max_iter": 60}
    search = GridSearchCV(GEBMEstimator(**params), {"objective": ["kale", "nce"]}, cv=2)
    search.fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and search.best_params_["objective"] in ("kale", "nce")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"objective": "dsm", "base": "generator"}, "density"),
        ({"objective": "fce", "base_loss": "mle"}, "adversarially"),
        ({"objective": "nope"}, "objective"),
    ],
)
def test_bad_objective_settings(params, match):
    X = make_two_moons(100, random_state=0)
    with pytest.raises(ValueError, match=match):
        GEBMEstimator(**{**SETTINGS, "max_iter": 2, **params}).fit(X)
