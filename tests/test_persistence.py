"""Persistence: pickle and the pickle-free save/load give the same model back."""

import copy
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons

from skgebm import GEBMEstimator, GEBMOutlierDetector
from skgebm.persistence import load, save


@pytest.fixture(scope="module")
def frame():
    pd = pytest.importorskip("pandas")
    X, _ = make_moons(200, noise=0.1, random_state=0)
    return pd.DataFrame(X * 10.0, columns=["width", "height"])


SETTINGS = [
    {},
    {"base": "generator", "latent_dim": 2},
    {"base": "gaussian", "objective": "nce"},
    {"objective": "cd", "n_cd_steps": 2},  # its persistent chains are training state
]


@pytest.mark.parametrize("settings", SETTINGS, ids=["flow", "generator", "gaussian-nce", "cd"])
def test_save_load_gives_the_same_model(frame, fast_params, tmp_path, settings):
    est = GEBMEstimator(random_state=0, temperature=0.7, **fast_params, **settings).fit(frame)
    save(est, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt")
    assert type(loaded) is GEBMEstimator and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.feature_names_in_, ["width", "height"])
    resolved = ("gradient_penalty_", "base_loss_", "learning_rate_", "base_learning_rate_",
                "energy_fourier_scale_", "energy_min_")
    assert [getattr(loaded, a) for a in resolved] == [getattr(est, a) for a in resolved]
    np.testing.assert_array_equal(loaded.score_samples(frame), est.score_samples(frame))
    np.testing.assert_array_equal(
        loaded.sample(20, random_state=1), est.sample(20, random_state=1)
    )
    # the optimizers' state comes back too: continued training is the same
    continued = copy.deepcopy(est).partial_fit(frame)
    np.testing.assert_allclose(
        loaded.partial_fit(frame).score_samples(frame), continued.score_samples(frame)
    )


def test_save_load_keeps_a_base_frozen_by_early_stopping(fast_params, tmp_path):
    X = np.random.RandomState(0).normal(size=(60, 5))
    settings = {**fast_params, "max_iter": 200, "n_iter_no_change": 1}
    est = GEBMEstimator(random_state=0, **settings).fit(X)
    assert est.net_.base_frozen_
    save(est, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt")
    assert loaded.net_.base_frozen_
    continued = copy.deepcopy(est).partial_fit(X)
    loaded.partial_fit(X)
    assert loaded.net_.n_base_steps_ == continued.net_.n_base_steps_
    np.testing.assert_allclose(loaded.score_samples(X), continued.score_samples(X))


def test_save_load_keeps_the_outlier_threshold(frame, fast_params, tmp_path):
    detector = GEBMOutlierDetector(contamination=0.1, random_state=0, **fast_params).fit(frame)
    save(detector, tmp_path / "detector.pt")
    loaded = load(tmp_path / "detector.pt")
    assert loaded.offset_ == detector.offset_
    # the threshold follows the temperature after loading too
    for model in (loaded, detector):
        model.set_params(temperature=0.5)
    assert loaded.offset_ == detector.offset_ != load(tmp_path / "detector.pt").offset_
    for model in (loaded, detector):
        model.set_params(temperature=1.0)
    assert [m.get_params() for m in loaded.estimators_] == [
        m.get_params() for m in detector.estimators_
    ]
    np.testing.assert_array_equal(loaded.score_samples(frame), detector.score_samples(frame))
    np.testing.assert_array_equal(loaded.predict(frame), detector.predict(frame))
    np.testing.assert_array_equal(
        loaded.sample(20, random_state=1), detector.sample(20, random_state=1)
    )
    np.testing.assert_array_equal(loaded.support_, detector.support_)


def test_a_detector_saved_without_its_noise_widths_refuses_to_continue(
    frame, fast_params, tmp_path
):
    detector = GEBMOutlierDetector(random_state=0, **fast_params).fit(frame)
    save(detector, tmp_path / "detector.pt")
    state = torch.load(tmp_path / "detector.pt", weights_only=True)
    attributes = json.loads(state["attributes"])
    for name in ("dequantization_widths_", "_noise_seeds"):  # as skgebm kept before
        del attributes[name]
    state["attributes"] = json.dumps(attributes)
    torch.save(state, tmp_path / "earlier.pt")
    earlier = load(tmp_path / "earlier.pt")
    np.testing.assert_array_equal(earlier.score_samples(frame), detector.score_samples(frame))
    for resume in (earlier.partial_fit, earlier.set_params(warm_start=True).fit):
        with pytest.raises(ValueError, match="saved by an earlier skgebm.*warm_start=False"):
            resume(frame)
    earlier.set_params(warm_start=False).fit(frame).partial_fit(frame)


def test_saved_file_holds_data_only(frame, fast_params, tmp_path):
    save(GEBMEstimator(random_state=0, **fast_params).fit(frame), tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)  # refuses any code
    assert state["format"] == "skgebm-4"


def test_save_refuses_what_needs_pickle(frame, fast_params, tmp_path):
    energy = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    est = GEBMEstimator(energy=energy, random_state=0, **fast_params)
    with pytest.raises(Exception, match="not fitted"):
        save(est, tmp_path / "model.pt")
    with pytest.raises(TypeError, match="'energy' holds a Sequential.*pickle"):
        save(est.fit(frame), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="not a model written by"):
        torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
        load(tmp_path / "other.pt")


def test_save_stores_numpy_numbers_and_devices_as_data(frame, fast_params, tmp_path):
    """Seeds and sizes taken from numpy grids, and a torch.device, are data too."""
    params = {
        **fast_params,
        "random_state": np.int64(0),
        "energy_hidden_layer_sizes": tuple(np.array([16, 16])),
        "device": torch.device("cpu"),
    }
    est = GEBMEstimator(**params).fit(frame)
    save(est, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt")
    assert type(loaded.random_state) is int and loaded.random_state == 0
    assert loaded.energy_hidden_layer_sizes == (16, 16) and loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.score_samples(frame), est.score_samples(frame))
    continued = copy.deepcopy(est).partial_fit(frame)
    np.testing.assert_allclose(
        loaded.partial_fit(frame).score_samples(frame), continued.score_samples(frame)
    )


def test_save_refuses_a_random_state_instance(frame, fast_params, tmp_path):
    est = GEBMEstimator(random_state=np.random.RandomState(0), **fast_params).fit(frame)
    with pytest.raises(
        TypeError, match="'random_state' holds a RandomState, which cannot be stored as "
        "data.*int random_state"
    ):
        save(est, tmp_path / "model.pt")


def _zip_archive():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.txt", "not tensors")
    return buffer.getvalue()


# torch.load fails on each with another error, and its own message advises pickle
OTHER_FILES = {
    "text": b"import os\n",
    "empty": b"",
    "pickle": pickle.dumps(print, protocol=2),  # names code, which weights_only refuses
    "zip": _zip_archive(),
}


@pytest.mark.parametrize("content", OTHER_FILES.values(), ids=OTHER_FILES.keys())
def test_load_refuses_other_files_without_advising_pickle(tmp_path, content):
    (tmp_path / "other.pt").write_bytes(content)
    with pytest.raises(ValueError, match="not a model written by") as info:
        load(tmp_path / "other.pt")
    assert info.value.__cause__ is not None
    assert "weights_only" not in str(info.value)


def test_load_on_another_device(frame, fast_params, tmp_path):
    est = GEBMEstimator(random_state=0, **{**fast_params, "device": "auto"}).fit(frame)
    save(est, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt", device="cpu")
    assert loaded.device == "cpu" and loaded.net_.device == "cpu"
    np.testing.assert_allclose(loaded.score_samples(frame), est.score_samples(frame), rtol=1e-5)


def test_a_gpu_fused_optimizer_loads_unfused_on_the_cpu(frame, fast_params, tmp_path):
    """A model saved on a GPU (fused Adam) keeps training on a CPU with its own setting."""
    est = GEBMEstimator(random_state=0, **fast_params).fit(frame)
    save(est, tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    for part in ("optimizer_", "optimizer_base_"):  # as a GPU's fused Adam saves them
        for group in state["tensors"][part]["param_groups"]:
            group["fused"] = True
    torch.save(state, tmp_path / "model.pt")
    loaded = load(tmp_path / "model.pt", device="cpu")
    for optimizer in (loaded.net_.optimizer_, loaded.net_.optimizer_base_):
        assert all(group["fused"] is False for group in optimizer.param_groups)
    loaded.partial_fit(frame)
    assert loaded.n_iter_ == est.n_iter_ + fast_params["max_iter"]


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trip(frame, fast_params, tmp_path, dump):
    est = GEBMEstimator(random_state=0, **fast_params).fit(frame)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        joblib.dump(est, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.score_samples(frame), est.score_samples(frame))
    np.testing.assert_array_equal(
        loaded.sample(20, random_state=1), est.sample(20, random_state=1)
    )


@pytest.mark.gpu
def test_model_fitted_on_cuda_loads_without_cuda(frame, fast_params, tmp_path):
    est = GEBMEstimator(random_state=0, **{**fast_params, "device": "cuda"}).fit(frame)
    joblib.dump(est, tmp_path / "model.joblib")
    save(est, tmp_path / "model.pt")
    np.save(tmp_path / "expected.npy", est.score_samples(frame))
    frame.to_csv(tmp_path / "frame.csv", index=False)
    script = f"""
import joblib, numpy as np, pandas as pd, torch
from skgebm.persistence import load
assert not torch.cuda.is_available()
frame = pd.read_csv({str(tmp_path / "frame.csv")!r})
expected = np.load({str(tmp_path / "expected.npy")!r})
for est in (joblib.load({str(tmp_path / "model.joblib")!r}),
            load({str(tmp_path / "model.pt")!r}, device="cpu")):
    np.testing.assert_allclose(est.score_samples(frame), expected, rtol=1e-4, atol=1e-4)
"""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)


def test_load_names_another_file_format(tmp_path):
    torch.save({"format": "skgebm-2", "skgebm_version": "0.0.1"}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="format 'skgebm-2' of skgebm 0.0.1.*reads 'skgebm-4'"):
        load(tmp_path / "old.pt")
