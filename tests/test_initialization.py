"""Where training starts, and where early stopping may end: the data's Gaussian fit."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.covariance import ShrunkCovariance
from sklearn.mixture import GaussianMixture

from skgebm import GEBMEstimator, GEBMOutlierDetector
from skgebm._fitting import _build_network
from skgebm._training import ITERATIONS_PER_EPOCH, GEBMNet
from skgebm.networks import build_base, build_energy
from skgebm.exceptions import CollinearFeaturesWarning
from skgebm.networks._bases import SHRINKAGES


@pytest.fixture(scope="module")
def correlated():
    rng = np.random.RandomState(0)
    return rng.normal(size=(400, 3)) @ [[1.0, 0.5, 0.0], [0.0, 1.0, -0.8], [0.0, 0.0, 0.3]]


def _gaussian_fit_log_density(X, points, ridge):
    """The maximum-likelihood Gaussian of ``X`` with ``ridge`` added to its variances."""
    covariance = np.cov(X.T, bias=True) + np.diag(ridge)
    return multivariate_normal(X.mean(0), covariance).logpdf(points)


@pytest.mark.parametrize(
    "base, flow, n_features",
    [("gaussian", "nsf", 3), ("flow", "nsf", 3), ("flow", "maf", 3), ("flow", "realnvp", 3),
     ("flow", "nsf", 1)],
)
def test_explicit_base_starts_at_the_gaussian_fit(correlated, base, flow, n_features):
    X = torch.as_tensor(correlated[:, :n_features], dtype=torch.float64)
    module = build_base(base, n_features, flow=flow, generator=torch.Generator()).double()
    module.initialize_from_data(X)
    expected = _gaussian_fit_log_density(X.numpy(), X.numpy(), np.full(n_features, 1e-3))
    with torch.no_grad():
        np.testing.assert_allclose(module.log_prob(X).numpy(), expected, rtol=1e-6)
        z = torch.randn(100_000, n_features, generator=torch.Generator().manual_seed(0))
        samples = module(z.double()).numpy()
    np.testing.assert_allclose(np.cov(samples.T, bias=True), np.cov(X.T, bias=True), atol=0.03)


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_builtin_energy_starts_flat_unless_spectrally_normalised(spectral_norm):
    energy = build_energy("mlp", 3, spectral_norm=spectral_norm, generator=torch.Generator())
    values = energy(torch.randn(50, 3, generator=torch.Generator().manual_seed(1)))
    assert torch.isfinite(values).all()
    assert (values.abs().max() == 0) != spectral_norm


@pytest.mark.parametrize("flow", ["maf", "nsf"])
def test_a_one_feature_flow_is_drawn_from_the_generator_alone(flow):
    # zuko keeps a one-feature flow's element-wise parameters in a ParameterList,
    # drawn from the global generator: they must be drawn again from the fit's
    states = []
    for global_seed in (0, 1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(global_seed)
            base = build_base("flow", 1, flow=flow, neutral_start=False, generator=_seeded())
        states.append(base.state_dict())
    for key, value in states[0].items():
        torch.testing.assert_close(value, states[1][key], rtol=0, atol=0)


@pytest.mark.parametrize(
    "name, n_features, image_shape", [("mlp", 3, None), ("sngan", 64, (1, 8, 8))]
)
def test_spectrally_normalised_layers_start_normalised(name, n_features, image_shape):
    # as torch's constructor leaves them: power iterations run on the drawn weights
    energy = build_energy(
        name, n_features, spectral_norm=True, image_shape=image_shape, generator=_seeded()
    ).eval()
    norms = [
        torch.linalg.matrix_norm(module.weight.reshape(len(module.weight), -1), ord=2)
        for module in energy.modules()
        if "weight" in (getattr(module, "parametrizations", None) or {})
    ]
    assert norms and all(0.9 < norm < 1.1 for norm in norms), norms


def _seeded():
    return torch.Generator().manual_seed(0)


def test_random_start_keeps_the_initial_weights(correlated):
    # the outlier detector's start: zuko's flow as initialized, no affine map, and a
    # non-constant energy
    X = torch.as_tensor(correlated, dtype=torch.float32)
    base = build_base("flow", 3, neutral_start=False, generator=_seeded())
    energy = build_energy("mlp", 3, neutral_start=False, generator=_seeded())
    assert base.affine is None
    with torch.no_grad():
        assert base(X).sub(X).abs().max() > 1e-2  # not the identity
        assert energy(X).std() > 0
    reference = build_base("flow", 3, neutral_start=False, generator=_seeded())
    with torch.no_grad():
        torch.testing.assert_close(base.log_prob(X), reference.log_prob(X))


def test_detector_keeps_the_random_start_and_the_estimator_the_data_fit(correlated):
    params = {"max_iter": 1, "validation_fraction": None, "random_state": 0}
    assert GEBMOutlierDetector(**params).fit(correlated).net_.base_.affine is None
    assert GEBMEstimator(**params).fit(correlated).net_.base_.affine is not None


def test_untrained_model_is_the_gaussian_fit(correlated):
    # one iteration at a vanishing learning rate: the score is the start's (without the
    # tail component)
    est = GEBMEstimator(max_iter=1, learning_rate=1e-12, validation_fraction=None,
                        n_partition_samples=4096, tail_weight=0, random_state=0).fit(correlated)
    np.testing.assert_allclose(
        est.score_samples(correlated[:50]),
        # the ridge is added in standardized units
        _gaussian_fit_log_density(correlated, correlated[:50], 1e-3 * correlated.var(0)),
        atol=1e-4,
    )


def test_overfitting_training_gives_back_the_start(monkeypatch, correlated):
    # every epoch validates worse than the start: early stopping restores the start
    validation_losses = GEBMNet._validation_losses

    def worse_after_start(self, x_data):
        losses = validation_losses(self, x_data)
        return {name: loss + self.n_iter_ for name, loss in losses.items()}

    monkeypatch.setattr(GEBMNet, "_validation_losses", worse_after_start)
    est = GEBMEstimator(max_iter=1000, n_iter_no_change=2, n_partition_samples=4096,
                        random_state=0).fit(correlated)
    # two epochs until the base freezes, two more for the energy alone
    assert est.n_iter_ == 4 * ITERATIONS_PER_EPOCH and est.net_.base_frozen_
    start = GEBMEstimator(max_iter=1, learning_rate=1e-12, n_partition_samples=4096,
                          random_state=0).fit(correlated)
    np.testing.assert_allclose(
        est.score_samples(correlated), start.score_samples(correlated), atol=1e-5
    )


def _base_worsens_model_improves(net, losses):
    """Validation losses bent so that the base only gets worse, the model only better."""
    return {"valid_loss": losses["valid_loss"] - net.n_iter_,
            "valid_base_loss": losses["valid_base_loss"] + net.n_iter_}


def test_base_freezes_at_its_best_while_the_energy_goes_on(monkeypatch, correlated):
    validation_losses = GEBMNet._validation_losses

    def diverging(self, x_data):
        return _base_worsens_model_improves(self, validation_losses(self, x_data))

    monkeypatch.setattr(GEBMNet, "_validation_losses", diverging)
    params = dict(max_iter=600, n_iter_no_change=2, n_partition_samples=4096, random_state=0)
    est = GEBMEstimator(**params).fit(correlated)
    start = GEBMEstimator(**{**params, "max_iter": 1, "learning_rate": 1e-12}).fit(correlated)
    # maximum likelihood steps the base every iteration, until it freezes at epoch 2
    assert est.n_iter_ == 600 and est.net_.base_frozen_
    assert est.net_.n_base_steps_ == 2 * ITERATIONS_PER_EPOCH
    for key, value in est.base_.state_dict().items():  # the start's base
        torch.testing.assert_close(value, start.base_.state_dict()[key], atol=1e-8, rtol=0)
    assert not np.allclose(est.score_samples(correlated), start.score_samples(correlated))


def test_validation_samples_a_frozen_base_once_and_scores_as_if_sampled_each_time(
    monkeypatch, correlated
):
    # the base freezes at epoch 2 (as above); from then on every validation reuses its
    # samples, which must be the ones a fresh draw gives, to the bit
    validation_losses = GEBMNet._validation_losses
    used = []  # (frozen, the samples) at each validation, kept alive

    def checked(self, x_data):
        losses = validation_losses(self, x_data)
        with torch.no_grad():
            fresh = self.base_(self._valid_latents)
        samples = self._valid_base_samples()
        assert torch.equal(samples, fresh)
        used.append((self.base_frozen_, samples))
        return _base_worsens_model_improves(self, losses)

    monkeypatch.setattr(GEBMNet, "_validation_losses", checked)
    params = dict(max_iter=300, n_iter_no_change=2, n_partition_samples=4096, random_state=0)
    est = GEBMEstimator(**params).fit(correlated)
    assert est.net_.base_frozen_
    frozen = {id(samples) for is_frozen, samples in used if is_frozen}
    learning = {id(samples) for is_frozen, samples in used if not is_frozen}
    assert len(used) == 300 // ITERATIONS_PER_EPOCH + 1  # the start and 12 epochs
    assert len(frozen) == 1 and len(learning) == 3  # the start and epochs 1-2

    # and the fit is the one that samples the base at every validation
    cached = GEBMNet._valid_base_samples

    def sampled_each_time(self):
        self._valid_base = None  # forget the samples: drawn again from the latents
        return cached(self)

    monkeypatch.setattr(GEBMNet, "_valid_base_samples", sampled_each_time)
    resampled = GEBMEstimator(**params).fit(correlated)
    assert resampled.net_.history[:, "valid_loss"] == est.net_.history[:, "valid_loss"]
    np.testing.assert_array_equal(
        resampled.score_samples(correlated), est.score_samples(correlated)
    )


def test_training_stops_on_the_model_while_the_base_still_learns(monkeypatch, correlated):
    # the model's validation only gets worse, the base's keeps improving: training
    # stops on the model's loss and restores the start, the base never frozen
    validation_losses = GEBMNet._validation_losses

    def improving_base(self, x_data):
        losses = validation_losses(self, x_data)
        return {"valid_loss": losses["valid_loss"] + self.n_iter_,
                "valid_base_loss": losses["valid_base_loss"] - self.n_iter_}

    monkeypatch.setattr(GEBMNet, "_validation_losses", improving_base)
    params = dict(max_iter=300, n_iter_no_change=2, n_partition_samples=4096, random_state=0)
    est = GEBMEstimator(**params).fit(correlated)
    assert est.n_iter_ == 2 * ITERATIONS_PER_EPOCH and not est.net_.base_frozen_
    start = GEBMEstimator(**{**params, "max_iter": 1, "learning_rate": 1e-12}).fit(correlated)
    np.testing.assert_allclose(
        est.score_samples(correlated), start.score_samples(correlated), atol=1e-5
    )


def test_partial_fit_does_not_stop_early(correlated):
    est = GEBMEstimator(max_iter=100, n_partition_samples=1024, random_state=0).fit(correlated)
    assert "valid_loss" in est.net_.history[-1]
    est.partial_fit(correlated)
    assert est.n_iter_ == 200 and "valid_loss" not in est.net_.history[-1]


@pytest.mark.parametrize(
    "params, n_features",
    [({"base": "flow", "energy_fourier_scale": 1.0}, 2), ({"base": "gaussian"}, 2),
     ({"base": "generator"}, 2),
     ({"base": "dcgan", "energy": "sngan", "image_shape": (1, 8, 8)}, 64)],
)
def test_networks_are_drawn_on_the_cpu_then_moved_to_the_device(params, n_features):
    # torch draws a CPU tensor only from a CPU generator: drawing a GPU fit's freshly
    # built (CPU) networks from a CUDA generator failed. The meta device stands in for
    # CUDA here; it has no generator at all.
    estimator = GEBMEstimator(**params)
    estimator._start_at_data_fit = True
    settings = estimator._training_settings()
    on_cpu = _build_network(n_features, settings=settings, seed=0, device="cpu", verbose=0)
    on_meta = _build_network(n_features, settings=settings, seed=0, device="meta", verbose=0)
    for part in ("module_", "base_", "criterion_"):
        cpu_state = getattr(on_cpu, part).state_dict()
        meta_state = getattr(on_meta, part).state_dict()
        assert cpu_state.keys() == meta_state.keys()
        for name, tensor in meta_state.items():
            assert tensor.device.type == "meta", (part, name)
            assert tensor.shape == cpu_state[name].shape


def test_few_rows_for_the_dimension_shrink_the_starting_covariance():
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(30, 30)) / np.sqrt(30)
    X, X_test = rng.normal(size=(45, 30)) @ mixing, rng.normal(size=(1000, 30)) @ mixing
    module = build_base("gaussian", 30, generator=torch.Generator()).double()
    module.initialize_from_data(torch.as_tensor(X))
    tril = module.scale_tril().detach().numpy()
    # the start is one of sklearn's shrunk covariances (plus the ridge), and not the
    # maximum-likelihood one, which held-out rows rate far lower
    candidates = {
        shrinkage: ShrunkCovariance(shrinkage=shrinkage).fit(X).covariance_ + 1e-3 * np.eye(30)
        for shrinkage in SHRINKAGES
    }
    chosen = [a for a, c in candidates.items() if np.allclose(tril @ tril.T, c, atol=1e-9)]
    assert len(chosen) == 1 and chosen[0] > 0
    held_out = {
        a: multivariate_normal(X.mean(0), c).logpdf(X_test).mean() for a, c in candidates.items()
    }
    assert held_out[chosen[0]] > held_out[0.0] + 10
    assert held_out[chosen[0]] > max(held_out.values()) - 1


def test_a_few_extreme_rows_do_not_buy_a_shrinkage():
    # four rows of 500 off a thin line gain 7 nats per row on average from shrinkage,
    # all of it theirs: the start stays the maximum-likelihood fit
    rng = np.random.RandomState(0)
    line = rng.normal(size=500)
    X = np.c_[line, line + 0.05 * rng.normal(size=500)]
    X[::125, 1] += 3.0
    module = build_base("gaussian", 2, generator=torch.Generator()).double()
    module.initialize_from_data(torch.as_tensor(X))
    expected = _gaussian_fit_log_density(X, X, np.full(2, 1e-3))
    with torch.no_grad():
        np.testing.assert_allclose(module.log_prob(torch.as_tensor(X)).numpy(), expected, rtol=1e-6)


def test_an_exact_linear_relation_lowers_the_variance_floor():
    # a column that is the sum of two others: held-out rows keep the relation, so the
    # start takes GaussianMixture's floor (1e-6), not the default 1e-3, which would cost
    # 0.5 log(1e-3 / 1e-6) = 3.5 nats per row
    rng = np.random.RandomState(0)
    u, u_test = rng.normal(size=(300, 2)), rng.normal(size=(1000, 2))
    X, X_test = np.c_[u, u.sum(1)], np.c_[u_test, u_test.sum(1)]
    module = build_base("gaussian", 3, generator=torch.Generator()).double()
    module.initialize_from_data(torch.as_tensor(X))
    with torch.no_grad():
        held_out = module.log_prob(torch.as_tensor(X_test)).mean().item()
    expected = _gaussian_fit_log_density(X, X_test, np.full(3, 1e-6)).mean()
    assert held_out == pytest.approx(expected, abs=1e-6)
    assert held_out > _gaussian_fit_log_density(X, X_test, np.full(3, 1e-3)).mean() + 3


def test_an_exact_linear_relation_scores_like_scikit_learns_gaussian_fit():
    rng = np.random.RandomState(0)
    u, u_test = rng.normal(size=(300, 2)), rng.normal(size=(1000, 2))
    X, X_test = np.c_[u, u.sum(1)], np.c_[u_test, u_test.sum(1)]
    with pytest.warns(CollinearFeaturesWarning, match="features 0, 1, 2 is constant"):
        gebm = GEBMEstimator(max_iter=50, random_state=0, device="cpu").fit(X)
    gaussian = GaussianMixture(random_state=0).fit(X)
    assert gebm.score(X_test) > gaussian.score(X_test) - 0.5
