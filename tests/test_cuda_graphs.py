"""Training steps replayed from CUDA graphs (``cuda_graphs=True``) compute what eager steps do."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skgebm import GEBMEstimator, _graphs
from skgebm._graphs import GRAPH_WARMUP_STEPS, GraphedStep
from skgebm.samplers import make_sampler

from . import test_images

DIGITS = load_digits().data[:256]
#: The image settings of the image tests, on the GPU, long enough to capture both steps.
IMAGE = {
    **test_images.IMAGE,
    "max_iter": 40,
    "batch_size": 32,
    "n_energy_steps": 2,
    "n_burst_steps": 0,
    "precision": "float32",
    "n_partition_samples": 1024,
    "device": "cuda",
}


class CountingStep(GraphedStep):
    """A :class:`GraphedStep` that counts its captures and replays, by kind of step."""

    captures, replays = [], []

    def __init__(self, step, *args, **kwargs):
        super().__init__(step, *args, **kwargs)
        self.kind = step.__name__
        CountingStep.captures.append(self.kind)

    def __call__(self, *inputs):
        CountingStep.replays.append(self.kind)
        return super().__call__(*inputs)


@pytest.fixture
def counting_steps(monkeypatch):
    CountingStep.captures, CountingStep.replays = [], []
    monkeypatch.setattr(_graphs, "GraphedStep", CountingStep)
    return CountingStep


@pytest.mark.gpu
def test_a_replayed_step_draws_what_eager_calls_draw():
    """Each replay advances the registered generator as an eager call does: fresh
    numbers every step, the same sequence as without the graph."""
    generator = torch.Generator(device="cuda").manual_seed(0)

    def step(x):
        return x + torch.rand(5, generator=generator, device="cuda")

    x = torch.arange(5.0, device="cuda")
    graphed = GraphedStep(step, [x], generator, [])
    replays = [graphed(x).clone() for _ in range(3)]
    generator.manual_seed(0)
    for replay in replays:
        torch.testing.assert_close(replay, step(x), rtol=0, atol=0)
    assert not torch.equal(replays[0], replays[1])


@pytest.mark.gpu
def test_replayed_optimizer_steps_equal_eager_ones():
    """A capturable Adam's steps replayed from the graph, on new inputs each time, land
    on the weights of the same steps run eagerly."""

    def make():
        layer = torch.nn.Linear(4, 1, device="cuda")
        layer.load_state_dict({k: torch.ones_like(v) for k, v in layer.state_dict().items()})
        optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, capturable=True)
        return layer, optimizer

    def steps(layer, optimizer):
        def step(x):
            loss = (layer(x) - 1).square().mean()
            loss.backward()
            optimizer.step()
            return loss.detach()

        return step

    batches = torch.randn(6, 8, 4, device="cuda", generator=torch.Generator("cuda").manual_seed(0))
    eager, eager_optimizer = make()
    for x in batches:
        eager_optimizer.zero_grad(set_to_none=True)
        steps(eager, eager_optimizer)(x)
    graphed, optimizer = make()
    for x in batches[:2]:  # the warm-up creates the optimizer's state
        optimizer.zero_grad(set_to_none=True)
        steps(graphed, optimizer)(x)
    step = GraphedStep(steps(graphed, optimizer), batches[:1], torch.Generator("cuda"), [optimizer])
    for x in batches[2:]:
        step(x)
    for ours, theirs in zip(graphed.parameters(), eager.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_steps_are_not_captured_on_a_cpu(fast_params, counting_steps):
    X = np.random.RandomState(0).normal(size=(100, 2))
    est = GEBMEstimator(**{**fast_params, "base": "generator"}, random_state=0).fit(X)
    assert est.cuda_graphs and est.n_iter_ == fast_params["max_iter"]
    est.sample(10, random_state=0)
    assert counting_steps.captures == []


@pytest.mark.gpu
@pytest.mark.parametrize("gradient_penalty", [0.0, 1.0])
def test_graphed_training_matches_eager_training(counting_steps, gradient_penalty):
    """Same seed, about the same model (cuDNN's gradients are not bit-reproducible, and 40
    Adam steps carry differences of 1e-7 to 1e-3): the replayed steps draw the
    interpolates of the gradient penalty from the fit's generator as the eager ones do."""
    params = {**IMAGE, "gradient_penalty": gradient_penalty}
    graphed = GEBMEstimator(**params, random_state=0).fit(DIGITS)
    assert sorted(set(counting_steps.captures)) == ["_base_step", "_energy_step"]
    warmup = GRAPH_WARMUP_STEPS
    assert counting_steps.replays.count("_energy_step") == IMAGE["max_iter"] - warmup
    assert counting_steps.replays.count("_base_step") == IMAGE["max_iter"] // 2 - warmup
    assert graphed.net_._steps == {}  # released with their memory after training
    eager = GEBMEstimator(**params, cuda_graphs=False, random_state=0).fit(DIGITS)
    losses = [graphed.net_.history[:, "train_loss"], eager.net_.history[:, "train_loss"]]
    np.testing.assert_allclose(*losses, rtol=2e-2)
    x = torch.as_tensor((DIGITS - graphed.location_) / graphed.scale_, device="cuda")
    with torch.no_grad():
        energies = [est.energy_(x.float()).cpu().numpy() for est in (graphed, eager)]
    np.testing.assert_allclose(*energies, rtol=2e-2, atol=2e-2)
    assert graphed.log_partition() == pytest.approx(eager.log_partition(), abs=1e-2)


@pytest.mark.gpu
def test_graphs_are_captured_again_after_the_state_is_restored(counting_steps):
    """Early stopping restores the optimizers' state as new tensors: the steps after it
    run on a fresh capture, not on the old tensors."""
    X = np.random.RandomState(0).normal(size=(2000, 2))
    params = dict(max_iter=400, batch_size=64, n_iter_no_change=2, device="cuda")
    est = GEBMEstimator(**params, validation_fraction=0.2, random_state=0).fit(X)
    assert counting_steps.captures.count("_energy_step") >= 2
    assert np.isfinite(est.score_samples(X)).all()


@pytest.mark.gpu
def test_a_step_that_cannot_be_captured_warns_and_trains_eagerly(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("capture refused")

    monkeypatch.setattr(_graphs, "GraphedStep", refuse)
    with pytest.warns(RuntimeWarning, match="could not be captured.*capture refused"):
        est = GEBMEstimator(**IMAGE, random_state=0).fit(DIGITS)
    assert est.n_iter_ == IMAGE["max_iter"]
    assert np.isfinite(est.sample(10, random_state=0)).all()


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["kinetic", "mala", "hmc"])
def test_replayed_mcmc_steps_equal_eager_ones(counting_steps, name):
    """The steps after the warm-up (the adapted step size frozen) are replayed, and the
    chains end where eager steps with the same generator take them."""
    covariance = torch.tensor([[1.0, 0.8], [0.8, 1.0]], device="cuda")
    precision = torch.linalg.inv(covariance)

    def log_prob(z):
        return -0.5 * ((z @ precision) * z).sum(1)

    sampler = make_sampler(name, step_size=0.2, n_steps=40)
    z0 = torch.randn(1000, 2, device="cuda", generator=torch.Generator("cuda").manual_seed(1))
    runs = []
    for cuda_graphs in (True, False):
        generator = torch.Generator("cuda").manual_seed(0)
        runs.append(sampler.sample(log_prob, z0, generator, cuda_graphs=cuda_graphs))
    (z, diagnostics), (z_eager, diagnostics_eager) = runs
    n_draws = diagnostics.n_steps - diagnostics.n_warmup
    assert counting_steps.replays == ["mcmc_step"] * (n_draws - GRAPH_WARMUP_STEPS)
    torch.testing.assert_close(z, z_eager, rtol=1e-5, atol=1e-5)
    assert diagnostics.acceptance_rate == pytest.approx(diagnostics_eager.acceptance_rate)
    np.testing.assert_allclose(diagnostics.ess, diagnostics_eager.ess, rtol=1e-4)


@pytest.mark.gpu
def test_an_image_gebm_samples_the_same_with_and_without_graphs(counting_steps):
    est = GEBMEstimator(**{**IMAGE, "n_mcmc_steps": 10}, random_state=0).fit(DIGITS)
    counting_steps.replays = []
    samples = est.sample(300, random_state=0)
    assert counting_steps.replays == ["mcmc_step"] * (10 - GRAPH_WARMUP_STEPS)
    eager = est.set_params(cuda_graphs=False).sample(300, random_state=0)
    np.testing.assert_allclose(samples, eager, rtol=1e-4, atol=1e-4)


def test_the_autotuner_is_on_only_while_training_on_a_gpu(monkeypatch):
    from skgebm._training import autotuned_convolutions

    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    with autotuned_convolutions("cpu"):
        assert not torch.backends.cudnn.benchmark
    with pytest.raises(KeyboardInterrupt):
        with autotuned_convolutions("cuda"):
            assert torch.backends.cudnn.benchmark
            raise KeyboardInterrupt
    assert not torch.backends.cudnn.benchmark  # restored, even after an interruption
