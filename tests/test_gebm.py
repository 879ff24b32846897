"""GEBMEstimator: numbers (normalization, likelihood, seeds), inference and errors."""

import copy
import math
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_moons
from torch import nn
from torch.utils.data import TensorDataset

from skgebm import GEBMEstimator, TrainingDivergedError
from skgebm._fitting import _split_rows
from skgebm._gebm import _resampled_latents
from skgebm._scoring import _log_mean_standard_error
from skgebm._training import ITERATIONS_PER_EPOCH, EarlyStopping
from skgebm.datasets import eight_gaussians_log_density, make_eight_gaussians
from skgebm.exceptions import PartitionEstimateWarning, SamplingDivergenceWarning


@pytest.fixture(scope="module")
def moons():
    X, _ = make_moons(600, noise=0.1, random_state=0)
    return X * [2.0, 3.0] + [10.0, -5.0]  # not standardized: the scaling is internal


@pytest.fixture(scope="module")
def fitted(moons):
    params = dict(
        max_iter=300,
        batch_size=128,
        base_hidden_layer_sizes=(32, 32),
        energy_hidden_layer_sizes=(32, 32),
        n_partition_samples=2**15,
        n_mcmc_steps=20,
        device="cpu",
    )
    return GEBMEstimator(random_state=0, **params).fit(moons)


def _grid_integral(estimator, X, temperature, n=300):
    low, high = X.min(axis=0), X.max(axis=0)
    pad = 0.75 * (high - low)
    axes = [np.linspace(lo - p, hi + p, n) for lo, hi, p in zip(low, high, pad)]
    xx, yy = np.meshgrid(*axes)
    grid = np.c_[xx.ravel(), yy.ravel()]
    estimator.set_params(temperature=temperature)
    density = np.exp(estimator.score_samples(grid))
    cell = np.prod([a[1] - a[0] for a in axes])
    return density.sum() * cell


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_density_integrates_to_one(fitted, moons, temperature):
    estimator = pickle.loads(pickle.dumps(fitted))
    assert _grid_integral(estimator, moons, temperature) == pytest.approx(1.0, abs=0.05)


def test_temperature_is_read_at_inference(fitted, moons):
    estimator = pickle.loads(pickle.dumps(fitted))
    net = estimator.net_
    scores = {t: estimator.set_params(temperature=t).score_samples(moons) for t in (1.0, 0.5)}
    assert estimator.net_ is net
    assert not np.allclose(scores[1.0], scores[0.5])
    # T = inf is the base alone: its exact log-density, with the scaling's Jacobian
    base_only = estimator.set_params(temperature=float("inf"), tail_weight=0).score_samples(moons)
    x = torch.as_tensor((moons - estimator.location_) / estimator.scale_, dtype=torch.float32)
    with torch.no_grad():
        expected = estimator.base_.log_prob(x).double().numpy() - np.log(estimator.scale_).sum()
    np.testing.assert_allclose(base_only, expected, atol=1e-4)


def test_log_partition_is_a_logmeanexp_over_base_energies(fitted):
    assert fitted.log_partition(float("inf")) == 0.0
    values = [fitted.log_partition(t) for t in (0.5, 1.0, 2.0)]
    assert all(np.isfinite(values))
    assert fitted.log_partition(1.0) == fitted.log_partition(1.0)


def test_n_partition_samples_is_read_at_inference(fitted):
    # an inference setting: changed after scoring, it changes the estimate as if it
    # had been set before (the cache of base energies is rebuilt)
    estimator = pickle.loads(pickle.dumps(fitted))
    full = estimator.log_partition()
    few = estimator.set_params(n_partition_samples=16).log_partition()
    fresh = pickle.loads(pickle.dumps(fitted)).set_params(n_partition_samples=16)
    assert few == fresh.log_partition() and few != full
    assert estimator.set_params(n_partition_samples=2**15).log_partition() == full
    with pytest.raises(ValueError, match="n_partition_samples"):
        estimator.set_params(n_partition_samples=0).log_partition()


@pytest.mark.parametrize("temperature", [0.0, -1.0, -math.inf, math.nan, "1"])
def test_log_partition_checks_its_temperature(fitted, temperature):
    with pytest.raises(ValueError, match="temperature"):
        fitted.log_partition(temperature)


def test_log_partition_standard_error_matches_the_spread_of_repeated_estimates():
    # log-normal weights: the estimate's spread over independent draws is what the
    # delta method predicts from one draw
    generator = torch.Generator().manual_seed(0)
    draws = torch.randn(400, 2000, generator=generator, dtype=torch.float64) * 1.5
    estimates = torch.logsumexp(draws, dim=1) - math.log(2000)
    predicted = np.mean([_log_mean_standard_error(d) for d in draws])
    assert predicted == pytest.approx(estimates.std().item(), rel=0.15)
    assert _log_mean_standard_error(torch.zeros(100, dtype=torch.float64)) == 0.0
    one = torch.tensor([0.0] + [-1000.0] * 99, dtype=torch.float64)  # one sample carries it
    assert _log_mean_standard_error(one) == pytest.approx(math.sqrt(1 - 1 / 100))


class _Well(nn.Module):
    """A narrow well at (2, 2) (standardized units), ``depth`` deep and ``width`` wide,
    flat elsewhere."""

    def __init__(self, depth, width=0.05):
        super().__init__()
        self.depth, self.width = depth, width

    def forward(self, x):
        return -self.depth * torch.exp(-(x - 2.0).square().sum(dim=1) / (2 * self.width**2))


@pytest.mark.parametrize("depth, warns", [(0.5, False), (12.0, True)])
def test_a_partition_estimate_carried_by_a_few_samples_is_reported(depth, warns):
    X = np.random.RandomState(0).normal(size=(300, 2))
    est = GEBMEstimator(base="gaussian", energy=_Well(depth), energy_min=None, max_iter=1,
                        random_state=0, device="cpu").fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.score(X)
        est.log_partition(float("inf"))  # the base alone: no estimate, no warning
    reported = [w for w in caught if w.category is PartitionEstimateWarning]
    # a 12-deep well holds 2e-5 of the base's mass and e^12 times its weight: a sample
    # or two of 65,536 carry the estimate
    assert len(reported) == warns
    assert all("standard error is 0.48 nats" in str(w.message) for w in reported)
    # raised three calls deep (score, score_samples, log_partition), it names this line
    assert all(w.filename == __file__ for w in reported)


def test_samples_without_mcmc_are_base_samples(fitted):
    estimator = pickle.loads(pickle.dumps(fitted))
    plain = estimator.set_params(n_mcmc_steps=0, temperature=1.0).sample(50, random_state=3)
    base = estimator.set_params(n_mcmc_steps=20, temperature=float("inf")).sample(
        50, random_state=3
    )
    np.testing.assert_array_equal(plain, base)


def test_sample_shape_units_and_diagnostics(fitted, moons):
    X, diagnostics = fitted.sample(400, random_state=1, return_diagnostics=True)
    assert X.shape == (400, 2) and X.dtype == np.float64
    assert np.all(np.isfinite(X))
    # samples come back in the data's units, not standardized ones
    assert np.all(np.abs(X.mean(axis=0) - moons.mean(axis=0)) < 0.5 * moons.std(axis=0))
    assert diagnostics.n_steps == 20


def test_samples_follow_the_density_the_model_scores(fitted, moons):
    # At temperature 0.1 the energy moves mass between the two moons, which local
    # chains started at base draws do not do in 100 steps (the mean of the first
    # coordinate was 9 standard errors off). Reference: base draws weighted by the
    # model's density ratio, exp(score_samples at T minus at T=inf).
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(tail_weight=0.0)
    base = estimator.set_params(temperature=float("inf")).sample(20000, random_state=1)
    log_base = estimator.score_samples(base)
    estimator.set_params(temperature=0.1, sampler="mala", n_mcmc_steps=100)
    log_ratio = estimator.score_samples(base) - log_base
    weights = np.exp(log_ratio - log_ratio.max())
    weights /= weights.sum()
    assert 1 / np.sum(weights**2) > 5000  # the reference is itself precise

    def features(X):
        Z = (X - moons.mean(axis=0)) / moons.std(axis=0)
        return np.c_[Z, Z**2]

    samples = features(estimator.sample(4000, random_state=2))
    standard_error = samples.std(axis=0) / np.sqrt(len(samples))
    reference = weights @ features(base)
    assert np.all(np.abs(samples.mean(axis=0) - reference) < 4 * standard_error)
    # and the test can fail: the model's moments are far from the base's
    shift = np.abs(features(base).mean(axis=0) - reference) / standard_error
    assert shift.max() > 10


def test_chain_starts_are_resampled_by_weight_and_skip_non_finite_ones():
    generator = torch.Generator().manual_seed(0)

    def log_weight(z):  # weight 1 on the right half-plane, 3 above too, NaN below left
        right = torch.where(z[:, 0] > 0, 0.0, torch.nan)
        return right + torch.where(z[:, 1] > 0, math.log(3.0), 0.0)

    z = _resampled_latents(4000, log_weight, 2, generator)
    assert z.shape == (4000, 2) and torch.all(z[:, 0] > 0)
    assert (z[:, 1] > 0).float().mean().item() == pytest.approx(0.75, abs=0.02)
    assert len(torch.unique(z, dim=0)) > 2000  # eight candidates a chain, few repeats
    nowhere = _resampled_latents(50, lambda z: torch.full((len(z),), torch.nan), 2, generator)
    assert torch.all(torch.isfinite(nowhere))  # no weight at all: plain base draws


@pytest.mark.parametrize("sampler", ["kinetic", "mala"])
def test_chains_an_unadjusted_step_throws_out_are_reported(fitted, moons, sampler):
    # a step of 3 throws kinetic Langevin's chains deep into the latent's tails, where
    # no base draw starts; MALA's Metropolis test rejects those moves
    estimator = pickle.loads(pickle.dumps(fitted))
    estimator.set_params(sampler=sampler, mcmc_step_size=3.0, temperature=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = estimator.sample(200, random_state=1)
    reported = [w for w in caught if issubclass(w.category, SamplingDivergenceWarning)]
    far = np.abs(X - moons.mean(axis=0)).max(axis=1) > 10 * moons.std(axis=0).max()
    if sampler == "kinetic":
        assert len(reported) == 1 and far.mean() > 0.5
        message = str(reported[0].message)
        n_escaped = int(message.split(" of 200 MCMC chains ")[0])
        assert n_escaped >= far.sum() and "KineticLangevin" in message
    else:
        assert not reported and not far.any()


def test_same_seed_same_results_different_seed_different(moons, fast_params):
    def run(seed):
        est = GEBMEstimator(random_state=seed, **fast_params).fit(moons)
        return est.sample(20, random_state=seed), est.score_samples(moons[:50])

    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0]) and not np.allclose(a[1], c[1])


def test_fit_leaves_global_torch_rng_alone(moons, fast_params):
    state = torch.get_rng_state()
    GEBMEstimator(random_state=0, **fast_params).fit(moons).sample(10)
    assert torch.equal(state, torch.get_rng_state())


def test_pickle_round_trip(fitted, moons):
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.score_samples(moons), fitted.score_samples(moons))
    np.testing.assert_array_equal(loaded.sample(30, random_state=0), fitted.sample(30, random_state=0))


def test_generator_base_scores_are_a_log_density_ratio(moons, fast_params):
    params = {**fast_params, "max_iter": 100, "n_partition_samples": 4096}
    est = GEBMEstimator(base="generator", latent_dim=2, random_state=0, **params).fit(moons)
    scores = est.score_samples(moons)
    assert np.all(np.isfinite(scores))
    # exp(score) is dQ/dB: it has mean one under base samples (up to Monte Carlo error)
    base_samples = est.set_params(temperature=float("inf")).sample(20000, random_state=5)
    est.set_params(temperature=1.0)
    ratio = np.exp(est.score_samples(base_samples))
    assert ratio.mean() == pytest.approx(1.0, abs=4 * ratio.std() / np.sqrt(len(ratio)) + 0.02)
    # a ratio of two densities has no units: no Jacobian of the standardization
    assert np.all(est.set_params(temperature=float("inf")).score_samples(moons) == 0.0)


def _holds_tensors(value):
    if isinstance(value, dict):
        return any(_holds_tensors(item) for item in value.values())
    return isinstance(value, (torch.Tensor, nn.Module))


def test_pickle_holds_the_networks_once_in_device_mapped_state(fitted):
    # skorch maps only its fitted attributes to the CPU when unpickling: a tensor
    # pickled elsewhere (the constructor's networks, running sums) would keep a GPU
    # fit from loading on a CPU
    state = fitted.net_.__getstate__()
    assert [name for name, value in state.items() if _holds_tensors(value)] == []
    net = pickle.loads(pickle.dumps(fitted)).net_
    assert net.module is net.module_ and net.base is net.base_
    assert net.criterion is net.criterion_


def test_progress_bar_counts_an_epoch_of_iterations(moons, fast_params, capsys):
    # an epoch is 25 iterations and one validation batch, not a pass over the data
    est = GEBMEstimator(random_state=0, **{**fast_params, "verbose": 1}).fit(moons)
    assert dict(est.net_.callbacks_)["ProgressBar"].batches_per_epoch == 26
    assert "n_iter" in capsys.readouterr().out  # the per-epoch losses are printed


def test_dataframe_feature_names(moons, fast_params):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(moons, columns=["a", "b"])
    est = GEBMEstimator(random_state=0, **fast_params).fit(frame)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b"])
    assert est.score_samples(frame).shape == (len(frame),)
    with pytest.raises(ValueError, match="feature names"):
        est.score_samples(frame.rename(columns={"a": "c"}))


def test_partial_fit_continues_training(moons, fast_params):
    est = GEBMEstimator(random_state=0, **fast_params).fit(moons)
    energy = {k: v.clone() for k, v in est.energy_.state_dict().items()}
    est.partial_fit(moons)
    assert est.n_iter_ == 2 * fast_params["max_iter"]
    assert len(est.net_.history) == 2 * math.ceil(fast_params["max_iter"] / ITERATIONS_PER_EPOCH)
    assert any(not torch.equal(v, est.energy_.state_dict()[k]) for k, v in energy.items())


@pytest.mark.parametrize("base_learning_rate, base_moves", [(None, True), (1e-12, False)])
def test_base_learning_rate_steps_the_base_only(moons, fast_params, base_learning_rate,
                                                base_moves):
    params = {**fast_params, "validation_fraction": None, "random_state": 0}
    start = GEBMEstimator(**{**params, "max_iter": 1, "learning_rate": 1e-12}).fit(moons)
    est = GEBMEstimator(**params, base_learning_rate=base_learning_rate).fit(moons)
    assert [group["lr"] for group in est.net_.optimizer_base_.param_groups] == [
        base_learning_rate or est.learning_rate_
    ]
    moved = [not torch.allclose(a, b, atol=1e-6) for a, b in
             zip(start.base_.parameters(), est.base_.parameters())]
    assert any(moved) == base_moves
    assert not all(torch.allclose(a, b) for a, b in
                   zip(start.energy_.parameters(), est.energy_.parameters()))


@pytest.mark.parametrize(
    "base, base_loss, factor",
    [("flow", "auto", 3), ("gaussian", "mle", 3), ("flow", "kale", 1), ("generator", "auto", 1)],
)
def test_auto_base_learning_rate_is_faster_for_a_maximum_likelihood_base(
    moons, fast_params, base, base_loss, factor
):
    params = {**fast_params, "max_iter": 1, "validation_fraction": None}
    est = GEBMEstimator(**params, base=base, base_loss=base_loss, learning_rate=2e-3)
    est.fit(moons)
    assert est.base_learning_rate == "auto"
    [group] = est.net_.optimizer_base_.param_groups
    assert group["lr"] == pytest.approx(factor * 2e-3) == est.base_learning_rate_
    assert est.base_loss_ == ("mle" if factor == 3 else "kale")


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_fitted_weights_are_the_moving_average_of_the_trained_weights(
    moons, fast_params, ema_decay, monkeypatch
):
    from skgebm._training import GEBMNet

    trained = []  # weights of the energy, log-partition and base before and after each step

    def weights(net):
        return [p.detach().clone() for p in net._averaged_parameters()]

    train_step = GEBMNet.train_step

    def recording(self, batch, **kwargs):
        if not trained:
            trained.append(weights(self))
        result = train_step(self, batch, **kwargs)
        trained.append(weights(self))
        return result

    monkeypatch.setattr(GEBMNet, "train_step", recording)
    params = {**fast_params, "max_iter": 60, "validation_fraction": None}
    est = GEBMEstimator(**params, ema_decay=ema_decay, random_state=0).fit(moons)
    average = trained[0]
    for t, step in enumerate(trained[1:], start=1):  # the decay ramps up: (1 + t) / (10 + t)
        decay = min(ema_decay, (1 + t) / (10 + t))
        average = [a + (1 - decay) * (w - a) for a, w in zip(average, step)]
    assert len(trained) == 61
    for fitted, expected in zip(est.net_._averaged_parameters(), average):
        torch.testing.assert_close(fitted.detach(), expected, rtol=1e-4, atol=1e-6)
    if ema_decay:  # the average is not the last iterate
        assert any(not torch.allclose(a, b) for a, b in zip(average, trained[-1]))


def test_early_stopping_restores_the_best_model(monkeypatch):
    best = {}

    def remember(net):
        best["epoch"] = len(net.history)
        best["base"] = {k: v.clone() for k, v in net.base_.state_dict().items()}
        best["energy"] = {k: v.clone() for k, v in net.module_.state_dict().items()}

    on_train_begin, on_epoch_end = EarlyStopping.on_train_begin, EarlyStopping.on_epoch_end

    def recording_start(self, net, **kwargs):
        on_train_begin(self, net, **kwargs)
        remember(net)  # the untrained model is the first candidate

    def recording(self, net, **kwargs):
        best_loss = self.best_loss_
        try:
            on_epoch_end(self, net, **kwargs)
        finally:
            if self.best_loss_ < best_loss:  # a new best
                remember(net)

    monkeypatch.setattr(EarlyStopping, "on_train_begin", recording_start)
    monkeypatch.setattr(EarlyStopping, "on_epoch_end", recording)
    # 60 points in 13 dimensions: the default flow overfits within tens of steps
    X = np.random.RandomState(0).normal(size=(60, 13))
    params = dict(max_iter=2000, validation_fraction=0.3, n_iter_no_change=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # stopping early is no interruption
        est = GEBMEstimator(**params).fit(X)
    valid = est.net_.history[:, "valid_loss"]
    assert est.n_iter_ < 2000 and len(valid) >= best["epoch"] + 2
    for name, module in (("base", est.base_), ("energy", est.energy_)):
        for key, value in module.state_dict().items():
            torch.testing.assert_close(value, best[name][key])


@pytest.mark.parametrize(
    "n_rows, n_iter_no_change, patiences",
    [(60, "auto", (40, 10)), (300, "auto", (40, 27)), (500, "auto", (40, 40)),
     (60, 3, (3, 3)), (1000, 50, (50, 50))],
)
def test_patience_auto_freezes_the_base_after_one_epoch_per_10_training_rows(
    monkeypatch, fast_params, n_rows, n_iter_no_change, patiences
):
    # an epoch is 25 batches at any size: 1,000 iterations are thousands of passes over
    # small data, whose flow overfits within tens of steps; the model keeps 40
    used = []
    start = EarlyStopping.on_train_begin

    def recording_start(self, net, **kwargs):
        start(self, net, **kwargs)
        used.append((self.patience, self.base_patience_))

    monkeypatch.setattr(EarlyStopping, "on_train_begin", recording_start)
    X = np.random.RandomState(0).normal(size=(n_rows, 2))  # one Gaussian: one training
    params = {**fast_params, "max_iter": 25, "n_iter_no_change": n_iter_no_change}
    est = GEBMEstimator(**params, random_state=0).fit(X)
    # the rows of the training part count: the held-out tenth is not trained on
    assert est.n_base_components_ == 1 and used == [patiences]


def test_a_base_is_frozen_after_its_own_patience(monkeypatch, fast_params):
    frozen_at = []
    froze_base = EarlyStopping._froze_base

    def recording(self, net):
        frozen = froze_base(self, net)
        if frozen:
            frozen_at.append((len(net.history), self.base_misses_))
        return frozen

    monkeypatch.setattr(EarlyStopping, "_froze_base", recording)
    # 60 points in 13 dimensions: the flow overfits within tens of steps
    X = np.random.RandomState(0).normal(size=(60, 13))
    params = {**fast_params, "max_iter": 2000, "validation_fraction": 0.3}
    est = GEBMEstimator(**params, random_state=0).fit(X)
    # 42 training rows: patience 10 for the base (the least), 40 for the model
    assert est.net_.base_frozen_ and [misses for _, misses in frozen_at] == [10]
    assert len(est.net_.history) >= frozen_at[0][0] + 40  # the energy went on


@settings(deadline=None, max_examples=50)
@given(
    copies=st.lists(st.integers(1, 6), min_size=2, max_size=40),
    fraction=st.floats(0.05, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_held_out_rows_have_no_copy_among_the_training_rows(copies, fraction, seed):
    distinct = np.random.RandomState(0).normal(size=(len(copies), 3))
    X = np.random.RandomState(1).permutation(np.repeat(distinct, copies, axis=0))
    train, valid = _split_rows(X, fraction, seed)
    assert len(train) + len(valid) == len(X) and len(train) >= 1 and len(valid) >= 1
    assert not {tuple(row) for row in train} & {tuple(row) for row in valid}
    counts = [np.unique(A, axis=0, return_counts=True)[1] for A in (np.r_[train, valid], X)]
    assert np.array_equal(*counts)  # every row kept, as many times


def test_distinct_rows_are_held_out_by_a_permutation():
    # so that data without copies are split as before copies were kept together
    X = np.random.RandomState(0).normal(size=(103, 3))
    train, valid = _split_rows(X, 0.1, seed=5)
    permutation = np.random.RandomState(5).permutation(103)
    assert np.array_equal(valid, X[permutation[:10]])
    assert np.array_equal(train, X[permutation[10:]])
    # copies of a single row are split as if distinct
    assert [len(part) for part in _split_rows(np.ones((5, 2)), 0.1, seed=0)] == [4, 1]


def test_a_row_with_more_copies_than_the_held_out_part_trains():
    # zero-inflated data: the zero row, drawn before the tenth was full, cut it short
    # (24% of seeds) or, drawn first, was the whole held-out part
    rng = np.random.RandomState(0)
    X = rng.permutation(np.r_[np.zeros((600, 3)), rng.normal(size=(400, 3))])
    for seed in range(50):
        train, valid = _split_rows(X, 0.1, seed)
        assert len(valid) == 100 and valid.any(axis=1).all()
    # when every row has more copies, one of the rows with fewest is held out
    X = np.repeat(np.eye(3), [40, 30, 50], axis=0)
    for seed in range(5):
        train, valid = _split_rows(X, 0.1, seed)
        assert len(valid) == 30 and (valid == [0, 1, 0]).all()


@pytest.mark.slow
def test_early_stopping_sees_overfitting_to_repeated_rows():
    # 100 rows, each ten times: held-out copies of training rows hid the overfitting,
    # and the flow learnt the 100 rows by heart (-11.4 nats per new row; now -4.29)
    rng = np.random.RandomState(0)
    X = np.repeat(rng.normal(size=(100, 3)), 10, axis=0)
    est = GEBMEstimator(random_state=0).fit(rng.permutation(X))
    gaussian = -1.5 * np.log(2 * np.pi * np.e)  # the truth's, -4.26 nats per row
    assert est.score(rng.normal(size=(5000, 3))) > gaussian - 1.0


def test_held_out_loss_compares_epochs_on_one_draw(moons, fast_params):
    # the partition's base samples are drawn once per training, so that a state scores
    # the same at every evaluation and epochs differ by their weights, not their draw
    est = GEBMEstimator(random_state=0, **fast_params).fit(moons)
    rows = TensorDataset(torch.as_tensor(est._standardized(moons[:100])))
    first, second = est.net_.evaluate(rows), est.net_.evaluate(rows)
    assert first == second
    # and the estimate is the model's negative log-likelihood (in standardized units)
    log_likelihood = est.score(moons[:100]) + np.log(est.scale_).sum()
    assert first["valid_loss"] == pytest.approx(-log_likelihood, abs=0.02)


class _Exploding(nn.Module):
    """An energy whose output is NaN from the ``start``-th call to the ``stop``-th."""

    def __init__(self, start, stop):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.start, self.stop, self.calls = start, stop, 0

    def forward(self, x):
        self.calls += 1
        out = self.linear(x)
        return out * float("nan") if self.start <= self.calls < self.stop else out


def test_divergence_is_reported(moons, fast_params):
    est = GEBMEstimator(energy=_Exploding(0, 10**9), random_state=0, **fast_params)
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        est.fit(moons)


@pytest.mark.parametrize(
    "calls, n_restarts",
    # an epoch is 77 calls (25 iterations of 3, one validation of 2): a failure in the
    # second epoch, then one across the second and the third (a restart after a restart)
    [((100, 110), 1), ((150, 165), 2)],
)
def test_divergence_is_recovered_from(moons, fast_params, calls, n_restarts):
    # restore the last finite state, halve the learning rates, warn
    params = {**fast_params, "max_iter": 300}
    est = GEBMEstimator(energy=_Exploding(*calls), random_state=0, **params)
    with pytest.warns(RuntimeWarning, match="diverged") as caught:
        est.fit(moons)
    assert est.net_.n_restarts_ == n_restarts
    # raised inside skorch's training loop, it names the user's call to fit
    assert {w.filename for w in caught} == {__file__}
    assert np.all(np.isfinite(est.score_samples(moons)))


def test_restarts_halve_the_learning_rates_in_use(fitted):
    # restarts compound: each halves the rates reached, not those of the snapshot
    net = copy.deepcopy(fitted.net_)
    net._good_state = net._snapshot()
    rates = [net.optimizer_.param_groups[0]["lr"], net.optimizer_base_.param_groups[0]["lr"]]
    with pytest.warns(RuntimeWarning, match="diverged"):
        for _ in range(2):
            net._recover({"train_loss": math.nan})
    assert net.n_restarts_ == 2
    assert net.optimizer_.param_groups[0]["lr"] == rates[0] / 4
    assert net.optimizer_base_.param_groups[0]["lr"] == rates[1] / 4


@pytest.mark.parametrize("pickled", [False, True])
def test_partial_fit_recovers_from_a_divergence_in_its_first_epoch(moons, fast_params, pickled):
    # back to where this training started, not to the previous one's last epoch (nor,
    # after unpickling, to nothing at all)
    est = GEBMEstimator(energy=_Exploding(10**9, 10**9), random_state=0, **fast_params)
    est.fit(moons)
    if pickled:
        est = pickle.loads(pickle.dumps(est))
    start = est.score_samples(moons)
    exploding = est.energy_.network
    exploding.start, exploding.stop = exploding.calls + 5, exploding.calls + 15
    with pytest.warns(RuntimeWarning, match="diverged"):
        est.set_params(max_iter=25).partial_fit(moons)  # one epoch: restored, not retrained
    assert est.net_.n_restarts_ == 1
    np.testing.assert_allclose(est.score_samples(moons), start, atol=1e-6)


def test_contrastive_divergence_recovers_from_a_diverged_step(moons, fast_params):
    # the chains' sampler refuses a non-finite start: a NaN energy must still reach the
    # trainer's recovery (restore, halve, warn), not end the fit with the sampler's error
    params = {**fast_params, "max_iter": 300, "objective": "cd", "n_cd_steps": 3}
    est = GEBMEstimator(energy=_Exploding(500, 510), random_state=0, **params)
    with pytest.warns(RuntimeWarning, match="target itself returned NaN"):  # chains
        with pytest.warns(RuntimeWarning, match="Training diverged"):  # the trainer
            est.fit(moons)
    assert est.net_.n_restarts_ >= 1 and np.all(np.isfinite(est.score_samples(moons)))


def test_contrastive_divergence_reports_a_step_size_that_diverges(moons, fast_params):
    params = {**fast_params, "base": "gaussian", "max_iter": 200, "objective": "cd"}
    params.update(cd_step_size=50.0, validation_fraction=None)
    est = GEBMEstimator(random_state=0, **params)
    with pytest.warns(RuntimeWarning, match="chains ended at a non-finite"):
        with pytest.raises(TrainingDivergedError, match="cd_step_size"):
            est.fit(moons)


def _assert_same_state(state, expected):
    if isinstance(state, dict):
        assert state.keys() == expected.keys()
        for key in state:
            _assert_same_state(state[key], expected[key])
    elif isinstance(state, (list, tuple)):
        for item, expected_item in zip(state, expected, strict=True):
            _assert_same_state(item, expected_item)
    elif isinstance(state, torch.Tensor):
        assert torch.equal(state, expected)
    else:
        assert state == expected


def test_training_after_a_restore_leaves_the_snapshot_intact(moons, fast_params):
    # optimizers keep the tensors they load: a restored snapshot must be a copy, or
    # the next steps write into it and a second restore brings back the later state
    est = GEBMEstimator(random_state=0, **fast_params).fit(moons)
    snapshot = est.net_._snapshot()
    expected = copy.deepcopy(snapshot)
    est.net_._restore(snapshot)
    est.partial_fit(moons)
    _assert_same_state(snapshot, expected)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), ValueError, "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), ValueError, "infinity"),
        (np.arange(5.0), ValueError, "2D array"),
        (np.empty((0, 2)), ValueError, "0 sample"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "convert"),
        (np.array([[1 + 1j, 2], [3, 4]]), ValueError, "[Cc]omplex"),
        (scipy.sparse.random(5, 2, density=0.5, format="csr"), TypeError, "[Ss]parse"),
        (np.ones((1, 2)), ValueError, "minimum of 2"),
    ],
)
def test_bad_input_at_fit(X, error, match, fast_params):
    with pytest.raises(error, match=match):
        GEBMEstimator(**fast_params).fit(X)


def test_wrong_n_features_at_score_time(fitted):
    with pytest.raises(ValueError, match="features"):
        fitted.score_samples(np.ones((3, 5)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"max_iter": 0}, "max_iter"),
        ({"base": "nope"}, "base"),
        ({"sampler": "gibbs"}, "sampler"),
        ({"base": "generator", "base_loss": "mle"}, "mle"),
        ({"device": "tpu:7"}, "device"),
        ({"energy_hidden_layer_sizes": (-3,)}, "energy_hidden_layer_sizes"),
        ({"base_hidden_layer_sizes": (16, 0)}, "base_hidden_layer_sizes"),
        pytest.param(
            {"device": "mps"}, "device", marks=pytest.mark.skipif(
                torch.backends.mps.is_available(), reason="an MPS device is available"
            ),
        ),
    ],
)
def test_bad_parameters(params, match, moons, fast_params):
    with pytest.raises(ValueError, match=match):
        GEBMEstimator(**{**fast_params, **params}).fit(moons)


@pytest.mark.parametrize("max_iter", [0, "x"])
def test_partial_fit_validates_parameters(fitted, moons, max_iter):
    # set after fitting, a parameter is checked by partial_fit as by fit
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(max_iter=max_iter)
    with pytest.raises(ValueError, match="max_iter"):
        estimator.partial_fit(moons)


@pytest.mark.parametrize("n_samples", [0, -1, 2.0, True])
def test_bad_number_of_samples(fitted, n_samples):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(n_samples)


def test_bad_temperature_at_inference(fitted, moons):
    estimator = pickle.loads(pickle.dumps(fitted))
    with pytest.raises(ValueError, match="temperature"):
        estimator.set_params(temperature=-2.0).score_samples(moons)


@pytest.mark.slow
def test_eight_gaussians_likelihood_close_to_truth():
    X_train = make_eight_gaussians(5000, random_state=0)
    X_test = make_eight_gaussians(5000, random_state=1)
    est = GEBMEstimator(random_state=0).fit(X_train)
    gebm = est.score(X_test)
    base = est.set_params(temperature=float("inf")).score(X_test)
    truth = eight_gaussians_log_density(X_test).mean()
    # the default flow already fits 8 Gaussians closely: the energy must not hurt it
    assert gebm > base - 0.01
    assert gebm > truth - 0.15


def test_keyboard_interrupt_keeps_the_weights_reached(moons, fast_params, monkeypatch, tmp_path):
    from skgebm._training import GEBMNet

    train_step = GEBMNet.train_step

    def interrupted_step(self, batch, **fit_params):
        if self.n_iter_ == 10:
            raise KeyboardInterrupt
        return train_step(self, batch, **fit_params)

    monkeypatch.setattr(GEBMNet, "train_step", interrupted_step)
    params = {**fast_params, "memory": str(tmp_path)}
    with pytest.warns(UserWarning, match="interrupted at iteration 10") as caught:
        est = GEBMEstimator(random_state=0, **params).fit(moons)
    assert caught[0].filename == __file__
    assert est.n_iter_ == 10 and np.all(np.isfinite(est.score_samples(moons)))
    monkeypatch.setattr(GEBMNet, "train_step", train_step)
    est.partial_fit(moons)  # continues from the weights reached
    assert est.n_iter_ == 10 + fast_params["max_iter"]
    # an interrupted training is not cached: a refit trains in full
    assert GEBMEstimator(random_state=0, **params).fit(moons).n_iter_ == fast_params["max_iter"]
