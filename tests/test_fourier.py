"""Fourier features of the energy: what they compute, when "auto" uses them, and that
they let the energy correct a flow where a plain MLP cannot."""

import math

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skgebm._fitting
from skgebm import GEBMEstimator, GEBMOutlierDetector
from skgebm.metrics import median_heuristic, mmd2
from skgebm.networks import FourierFeatures, build_energy
from skgebm.samplers import MALA, KineticLangevin


def test_fourier_features_keep_the_input_and_add_sines_and_cosines():
    features = FourierFeatures(3, 5, 2.0, generator=torch.Generator().manual_seed(0))
    x = torch.randn(7, 3)
    out = features(x)
    assert out.shape == (7, features.out_features) == (7, 3 + 2 * 5)
    torch.testing.assert_close(out[:, :3], x)
    phase = x @ features.frequencies
    torch.testing.assert_close(out[:, 3:8], torch.sin(phase))
    torch.testing.assert_close(out[:, 8:].square() + out[:, 3:8].square(), torch.ones(7, 5))
    # fixed, saved with the model, and drawn from the generator alone
    assert "frequencies" in features.state_dict() and not list(features.parameters())
    again = FourierFeatures(3, 5, 2.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.frequencies, features.frequencies)


def test_frequency_scale_is_their_standard_deviation():
    features = FourierFeatures(2, 5000, 3.0, generator=torch.Generator().manual_seed(0))
    assert features.frequencies.std().item() == pytest.approx(3.0, rel=0.03)
    assert features.frequencies.mean().item() == pytest.approx(0.0, abs=0.06)


def test_built_energy_with_fourier_features_starts_flat_and_is_seeded():
    def build(seed):
        return build_energy("mlp", 2, hidden_layer_sizes=(32, 32), fourier_scale=3.0,
                            generator=torch.Generator().manual_seed(seed))

    energy = build(0)
    features = energy.network[0]
    assert isinstance(features, FourierFeatures) and features.frequencies.shape == (2, 16)
    assert torch.all(energy(torch.randn(10, 2)) == 0)  # a GEBM starts as its base
    for a, b in zip(energy.state_dict().values(), build(0).state_dict().values()):
        torch.testing.assert_close(a, b)
    assert not torch.equal(build(1).network[0].frequencies, features.frequencies)


def _resolved(est):
    """The Fourier scale (or None), the gradient penalty and the energy's clamp a fitted
    model trained with."""
    first = est.energy_.network[0]
    if isinstance(first, FourierFeatures):  # the reported scale is the frequencies' spread
        assert first.frequencies.std().item() == pytest.approx(est.energy_fourier_scale_, rel=0.5)
    else:
        assert est.energy_fourier_scale_ is None
    assert est.energy_min_ == est.energy_.minimum
    return est.energy_fourier_scale_, est.gradient_penalty_, est.energy_min_


@pytest.mark.parametrize(
    "n_features, params, fourier, penalty, clamp",
    [
        # low dimension: Fourier features, no gradient penalty, the tighter clamp
        (1, {}, True, 0.0, -3.0),
        (2, {}, True, 0.0, -3.0),
        (3, {}, False, 0.1, -10.0),  # raw features, the reference penalty and clamp above
        (2, {"energy_fourier_scale": None}, False, 0.1, -10.0),
        (5, {"energy_fourier_scale": 1.5}, True, 0.0, -3.0),
        (2, {"gradient_penalty": 0.3}, True, 0.3, -3.0),
        # a Gaussian base leaves the energy the data's modes to make: it may go deep
        (2, {"base": "gaussian"}, True, 0.0, -10.0),
        # a generator base is trained against the energy: it keeps the penalty
        (2, {"base": "generator"}, True, 0.1, -10.0),
        (2, {"base": "flow", "base_loss": "kale"}, True, 0.1, -10.0),
        # the other objectives have no early-stopped KALE to keep a sharp energy honest
        (2, {"objective": "dsm"}, True, 0.1, -10.0),
        (2, {"objective": "cd"}, True, 0.1, -10.0),
    ],
)
def test_auto_sharp_energy_in_low_dimension_no_penalty_and_a_tighter_clamp(
    fast_params, n_features, params, fourier, penalty, clamp
):
    X = np.random.RandomState(0).normal(size=(200, n_features))
    est = GEBMEstimator(**{**fast_params, "max_iter": 1, "random_state": 0, **params}).fit(X)
    scale, gradient_penalty, energy_min = _resolved(est)
    assert (scale is not None) == fourier
    if fourier:  # 3 unless set; 8 frequencies for a first hidden layer of 16 units
        expected = params.get("energy_fourier_scale", 3.0)
        assert est.energy_.network[0].frequencies.shape == (n_features, 8)
        assert scale == expected
    assert gradient_penalty == penalty
    assert energy_min == clamp


def test_user_energy_and_detector_have_no_fourier_features(fast_params):
    X = np.random.RandomState(0).normal(size=(200, 2))
    user = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.SiLU(), torch.nn.Linear(4, 1))
    est = GEBMEstimator(**{**fast_params, "max_iter": 1}, energy=user).fit(X)
    assert isinstance(est.energy_.network[0], torch.nn.Linear)
    detector = GEBMOutlierDetector(**{**fast_params, "max_iter": 1}).fit(X)
    assert _resolved(detector) == (None, 0.01, -10.0)


@pytest.mark.parametrize("energy_min", [-7.0, None])
def test_a_set_energy_min_is_kept_with_fourier_features(fast_params, energy_min):
    X = np.random.RandomState(0).normal(size=(200, 2))
    est = GEBMEstimator(**{**fast_params, "max_iter": 1}, energy_min=energy_min).fit(X)
    assert est.energy_fourier_scale_ == 3.0 and est.energy_min_ == energy_min


def test_the_clamp_bounds_a_sharp_energy_from_below(fast_params):
    X = np.random.RandomState(0).normal(size=(200, 2))
    energy = GEBMEstimator(**{**fast_params, "max_iter": 1}).fit(X).energy_
    last = [m for m in energy.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.fill_(-100.0)  # a well far deeper than the clamp, everywhere
        values = energy(torch.randn(50, 2))
    assert torch.all(values == -3.0)


@pytest.mark.parametrize(
    "estimator, n_features, sampler",
    [(GEBMEstimator, 2, MALA), (GEBMEstimator, 3, KineticLangevin),
     (GEBMOutlierDetector, 2, KineticLangevin)],
)
def test_auto_sampler_corrects_its_steps_on_a_sharp_energy(
    fast_params, estimator, n_features, sampler
):
    X = np.random.RandomState(0).normal(size=(100, n_features))
    est = estimator(**{**fast_params, "max_iter": 1}).fit(X)
    assert est.sampler == "auto" and type(est._make_sampler()) is sampler
    assert est.sample(5, random_state=0).shape == (5, n_features)


@pytest.mark.parametrize("value", [0.0, -1.0, "big"])
def test_bad_fourier_scale_is_rejected(fast_params, value):
    X = np.random.RandomState(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match="energy_fourier_scale"):
        GEBMEstimator(**fast_params, energy_fourier_scale=value).fit(X)


def _thin_rings(n, seed):
    """Two concentric rings of radius 1 and 2, 0.05 wide: a flow blurs them."""
    rng = np.random.RandomState(seed)
    radius = rng.choice([1.0, 2.0], size=n) + 0.05 * rng.normal(size=n)
    angle = rng.uniform(0, 2 * math.pi, size=n)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)]


@pytest.mark.slow
def test_fourier_energy_corrects_a_blurred_flow_where_a_plain_mlp_cannot():
    X, X_test = _thin_rings(3000, 0), _thin_rings(3000, 1)
    # validation_fraction=None: the flow from one Gaussian (a mixture start would fit
    # the rings itself and leave the energy nothing to correct)
    params = dict(max_iter=1500, device="cpu", n_partition_samples=16384, random_state=0,
                  validation_fraction=None)
    gains, fitted = {}, {}
    for scale in ("auto", None):
        est = fitted[scale] = GEBMEstimator(**params, energy_fourier_scale=scale).fit(X)
        gebm = est.score(X_test)
        base = est.set_params(temperature=float("inf")).score(X_test)
        gains[scale] = gebm - base
    assert gains["auto"] > 0.05 and abs(gains[None]) < 0.01, gains
    # the sharp energy's samples: MALA ("auto") stays near the data, kinetic Langevin not
    est = fitted["auto"].set_params(temperature=1.0)
    held_out = X_test[:1000]
    bandwidth = median_heuristic(held_out)
    distances = {
        sampler: mmd2(est.set_params(sampler=sampler).sample(1000, random_state=0), held_out,
                      bandwidth=bandwidth)
        for sampler in ("auto", "kinetic")
    }
    assert distances["auto"] < 0.005 and distances["auto"] < distances["kinetic"], distances



@pytest.mark.slow
def test_the_sharp_clamp_bounds_what_wells_at_lone_rows_cost(monkeypatch):
    # A noisy parabola, trained from one Gaussian (the mixture start would cover its
    # tails itself). With the reference clamp of -10 the energy dug wells at two lone
    # rows of the tails and scored 0.30 nats below its own base (-2.401 against -2.100).
    monkeypatch.setattr(skgebm._fitting, "_mixture_start", lambda *args: None)
    rng = np.random.RandomState(0)
    x = rng.normal(size=4000)
    X = np.c_[x, 0.5 * x**2 + 0.3 * rng.normal(size=4000)]
    X, X_test = train_test_split(X, test_size=0.5, random_state=0)
    scaler = StandardScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    est = GEBMEstimator(device="cpu", random_state=0).fit(X)
    with torch.no_grad():
        energies = est.energy_(torch.as_tensor(est._standardized(X), dtype=torch.float32))
    assert est.energy_min_ == -3.0 and energies.min().item() == -3.0  # wells, clamped
    gebm = est.score(X_test)
    base = est.set_params(temperature=float("inf")).score(X_test)
    assert gebm - base > -0.06, (gebm, base)
