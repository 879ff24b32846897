"""Image models: the convolutional networks, image_shape, and mixed precision."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from skgebm import GEBMEstimator
from skgebm.networks import (
    ImageView,
    build_base,
    build_energy,
    dcgan_generator,
    sngan_energy,
)
from skgebm.networks._conv import WIDTH, n_stages

DIGITS = load_digits().data[:200]
#: Tiny image settings: seconds on a CPU, for contracts rather than quality.
IMAGE = dict(
    base="dcgan",
    energy="sngan",
    image_shape=(1, 8, 8),
    latent_dim=8,
    max_iter=6,
    batch_size=16,
    n_burst_steps=2,
    n_partition_samples=256,
    n_mcmc_steps=2,
    validation_fraction=None,
    device="cpu",
)


@pytest.mark.parametrize(
    "shape, expected",
    [((3, 32, 32), 3), ((1, 8, 8), 1), ((1, 28, 28), 2), ((3, 64, 32), 3), ((1, 7, 7), 0)],
)
def test_stages_halve_both_sides_down_to_four_to_seven(shape, expected):
    assert n_stages(shape) == expected
    _, height, width = shape
    smallest = min(height, width) // 2**expected
    assert 4 <= smallest <= 7 or expected == 0


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8), (2, 28, 20), (1, 5, 5)])
def test_networks_map_flat_rows_to_flat_rows(shape):
    n_pixels = int(np.prod(shape))
    generator = dcgan_generator(16, shape)
    energy = sngan_energy(shape)
    x = generator(torch.randn(3, 16))
    assert x.shape == (3, n_pixels)
    assert energy(x).shape == (3, 1)


def test_cifar_size_networks_have_the_papers_channels():
    """32x32: a 4x4x512 start, transposed convolutions to 256, 128, 64 (Miyato et al.)."""
    generator = dcgan_generator(128, (3, 32, 32))
    assert generator[0].out_features == 4 * 4 * 8 * WIDTH
    deconvs = [m for m in generator if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in deconvs] == [256, 128, 64]
    assert all(m.stride == (2, 2) and m.kernel_size == (4, 4) for m in deconvs)
    convs = [m for m in sngan_energy((3, 32, 32)) if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 64, 128, 128, 256, 256, 512]
    assert [m.stride[0] for m in convs] == [1, 2, 1, 2, 1, 2, 1]


def test_every_energy_layer_is_spectrally_normalised():
    generator = torch.Generator().manual_seed(0)
    energy = build_energy("sngan", 64, image_shape=(1, 8, 8), generator=generator).network
    layers = [m for m in energy if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    energy.train()
    with torch.no_grad():
        for _ in range(300):  # power iterations converge on the largest singular value
            energy(torch.zeros(1, 64))
    for layer in layers:
        matrix = layer.weight.reshape(layer.weight.shape[0], -1)
        assert torch.linalg.matrix_norm(matrix, ord=2).item() == pytest.approx(1.0, rel=1e-2)


def test_image_view_lays_out_channels_last_without_changing_values():
    x = torch.randn(2, 3 * 4 * 4)
    plain, last = ImageView((3, 4, 4))(x), ImageView((3, 4, 4), channels_last=True)(x)
    assert last.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(plain, last, rtol=0, atol=0)
    torch.testing.assert_close(nn.Flatten()(last), x, rtol=0, atol=0)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(base="dcgan", image_shape=None), "needs image_shape"),
        (dict(base="generator", energy="sngan", image_shape=None), "needs image_shape"),
        (dict(energy="sngan", image_shape=(1, 8, 7)), "56 pixels but the data have 64"),
        (dict(base="dcgan", image_shape=(8, 8)), "three positive integers"),
        (dict(base="dcgan", image_shape=(1, 8, 8.0)), "three positive integers"),
        (dict(base="dcgan", image_shape=(1, -8, -8)), "three positive integers"),
    ],
)
def test_bad_image_shape_is_a_clear_value_error(params, message):
    with pytest.raises(ValueError, match=message):
        GEBMEstimator(**{**IMAGE, **params}).fit(DIGITS)


@pytest.mark.parametrize(
    "settings, expected",
    [
        (IMAGE, 1e-4),  # the reference implementation's step for images
        ({**IMAGE, "energy": "mlp"}, 1e-4),
        ({**IMAGE, "base": "generator"}, 1e-4),
        ({**IMAGE, "base": "generator", "energy": "mlp", "image_shape": None}, 1e-3),
        ({**IMAGE, "learning_rate": 3e-4}, 3e-4),
    ],
    ids=["dcgan-sngan", "dcgan", "sngan", "mlp", "given"],
)
def test_auto_learning_rate_is_the_reference_step_for_the_image_networks(settings, expected):
    est = GEBMEstimator(**{**settings, "max_iter": 1}, random_state=0).fit(DIGITS)
    [energy_group] = est.net_.optimizer_.param_groups
    [base_group] = est.net_.optimizer_base_.param_groups
    assert energy_group["lr"] == base_group["lr"] == est.learning_rate_ == expected
    assert est.base_learning_rate_ == expected  # a KALE-trained base steps with the energy


def test_image_gebm_fits_scores_and_samples_digits():
    est = GEBMEstimator(**IMAGE, random_state=0).fit(DIGITS)
    assert isinstance(est.base_.generator[0], nn.Linear)
    assert est.base_.latent_dim == 8
    assert est.gradient_penalty_ == 1.0  # the reference value for images
    assert est.base_loss_ == "kale"
    assert est.precision_ == "float32"  # "auto" on a CPU
    scores = est.score_samples(DIGITS[:10])
    assert scores.shape == (10,) and np.isfinite(scores).all()
    samples = est.sample(5, random_state=0)
    assert samples.shape == (5, 64) and np.isfinite(samples).all()
    again = GEBMEstimator(**IMAGE, random_state=0).fit(DIGITS)
    np.testing.assert_array_equal(again.sample(5, random_state=0), samples)


def test_image_gebm_saves_and_loads_with_its_batch_norm_and_spectral_state(tmp_path):
    from skgebm.persistence import load, save

    est = GEBMEstimator(**IMAGE, random_state=0).fit(DIGITS)
    save(est, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt")
    assert loaded.image_shape == (1, 8, 8)
    np.testing.assert_array_equal(loaded.score_samples(DIGITS), est.score_samples(DIGITS))
    np.testing.assert_array_equal(
        loaded.sample(5, random_state=2), est.sample(5, random_state=2)
    )


def test_dcgan_latent_dim_defaults_to_the_papers():
    base = build_base(
        "dcgan", 64, image_shape=(1, 8, 8), generator=torch.Generator().manual_seed(0)
    )
    assert base.latent_dim == 128


def test_sampling_batch_norm_uses_running_statistics():
    """In eval mode a chain's sample does not depend on the other chains in its batch."""
    est = GEBMEstimator(**IMAGE, random_state=0).fit(DIGITS)
    z = torch.randn(6, 8)
    est.base_.eval()
    with torch.no_grad():
        together = est.base_(z)
        alone = torch.cat([est.base_(z[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone)


def test_autocast_leaves_the_outputs_and_an_explicit_density_in_full_precision():
    generator = torch.Generator().manual_seed(0)
    flow = build_base("flow", 4, hidden_layer_sizes=(8,), generator=generator)
    mlp_energy = build_energy("mlp", 4, hidden_layer_sizes=(8,), generator=generator)
    image_energy = build_energy("sngan", 64, image_shape=(1, 8, 8), generator=generator)
    x, images = torch.randn(10, 4), torch.randn(3, 64)
    exact = flow.log_prob(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(flow.log_prob(x), exact, rtol=0, atol=0)
        assert flow(x).dtype == torch.float32
        assert mlp_energy(x).dtype == torch.float32
        assert image_energy(images).dtype == torch.float32


def test_bfloat16_training_and_sampling(fast_params):
    """The mixed-precision path end to end (an MLP here: bf16 convolutions are slow on a CPU)."""
    X = np.random.RandomState(0).normal(size=(200, 3))
    params = {**fast_params, "base": "generator", "precision": "bfloat16", "max_iter": 10}
    est = GEBMEstimator(**params, random_state=0).fit(X)
    assert est.precision_ == "bfloat16"
    assert est.net_.autocast_dtype is torch.bfloat16
    assert np.isfinite(est.net_.history[:, "train_loss"]).all()
    samples = est.sample(20, random_state=0)
    assert samples.dtype == np.float64 and np.isfinite(samples).all()
    exact = GEBMEstimator(**{**params, "precision": "float32"}, random_state=0).fit(X)
    assert exact.precision_ == "float32"
    assert not np.array_equal(exact.sample(20, random_state=0), samples)


@pytest.mark.parametrize(
    "base, held_out", [("flow", True), ("gaussian", True), ("generator", False)]
)
def test_auto_validation_holds_out_data_for_an_explicit_base_only(fast_params, base, held_out):
    X = np.random.RandomState(0).normal(size=(100, 2))
    est = GEBMEstimator(**{**fast_params, "base": base}, random_state=0).fit(X)
    assert ("valid_loss" in est.net_.history[-1]) is held_out
    explicit = GEBMEstimator(
        **{**fast_params, "base": base, "validation_fraction": 0.2}, random_state=0
    ).fit(X)
    assert "valid_loss" in explicit.net_.history[-1]


def test_partial_fit_runs_max_iter_as_set_between_calls(fast_params):
    X = np.random.RandomState(0).normal(size=(100, 2))
    params = {**fast_params, "validation_fraction": None}
    est = GEBMEstimator(**params, random_state=0).fit(X)
    assert est.n_iter_ == params["max_iter"]
    est.set_params(max_iter=7).partial_fit(X)
    assert est.n_iter_ == params["max_iter"] + 7


@pytest.mark.gpu
def test_image_gebm_on_cuda_trains_in_bfloat16_and_scores_as_on_the_cpu(tmp_path):
    from skgebm.persistence import load, save

    est = GEBMEstimator(**{**IMAGE, "device": "cuda"}, random_state=0).fit(DIGITS)
    assert est.precision_ == ("bfloat16" if torch.cuda.is_bf16_supported() else "float32")
    assert next(est.energy_.parameters()).is_cuda
    conv = next(m for m in est.energy_.modules() if isinstance(m, nn.Conv2d))
    weight = conv.parametrizations.weight.original  # the trained tensor behind the norm
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert est.net_.optimizer_.param_groups[0]["fused"]
    samples = est.sample(50, random_state=0)
    assert samples.shape == (50, 64) and np.isfinite(samples).all()
    scores = est.score_samples(DIGITS)
    save(est, tmp_path / "model.pt")
    on_cpu = load(tmp_path / "model.pt", device="cpu")
    np.testing.assert_allclose(on_cpu.score_samples(DIGITS), scores, rtol=1e-5, atol=1e-5)
    assert on_cpu.sample(5, random_state=0).shape == (5, 64)


@pytest.mark.gpu
def test_a_model_scores_the_same_on_cpu_and_cuda(fast_params, tmp_path):
    """The partition's latents come from a CPU generator: scores do not depend on the device."""
    from skgebm.persistence import load, save

    X = np.random.RandomState(0).normal(size=(200, 2))
    est = GEBMEstimator(**fast_params, random_state=0).fit(X)
    save(est, tmp_path / "model.pt")
    on_cuda = load(tmp_path / "model.pt", device="cuda")
    assert next(on_cuda.energy_.parameters()).is_cuda
    np.testing.assert_allclose(on_cuda.score_samples(X), est.score_samples(X), rtol=1e-9)
    assert on_cuda.log_partition() == pytest.approx(est.log_partition(), rel=1e-9)
    samples = on_cuda.sample(100, random_state=0)
    assert samples.shape == (100, 2) and np.isfinite(samples).all()


@pytest.mark.slow
def test_the_energy_improves_the_conv_generator_on_digits():
    """The gallery's convolutional GEBM (500 of its 2,000 iterations, about two minutes on
    one thread): MCMC on the energy brings the samples closer to held-out digits than
    the generator's own, and the generator has not collapsed (at the former step of
    1e-3, one seed in three reached an MMD² of 0.055 after 2,000 iterations)."""
    from sklearn.model_selection import train_test_split

    from skgebm.metrics import median_heuristic, mmd2

    X = load_digits().data
    X = (X + np.random.RandomState(0).uniform(size=X.shape)) / 17
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    est = GEBMEstimator(base="dcgan", energy="sngan", image_shape=(1, 8, 8), max_iter=500,
                        device="cpu", random_state=0).fit(X_train)
    bandwidth = median_heuristic(X_test)

    def mean_mmd2(temperature):
        est.set_params(temperature=temperature)
        return np.mean([mmd2(est.sample(len(X_test), random_state=draw), X_test,
                             bandwidth=bandwidth) for draw in range(3)])

    base, gebm = mean_mmd2(float("inf")), mean_mmd2(1.0)
    assert base < 0.02  # measured 0.0107 over 5 draws
    assert gebm < 0.85 * base  # measured 0.0072
