"""Model selection, pipelines, parallel back-ends and caching of fitted networks."""

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skgebm import GEBMEstimator

from .conftest import FAST

TEMPERATURES = [0.5, 0.75, 1.0, 1.5, 2.0]


@pytest.fixture(scope="module")
def moons():
    X, _ = make_moons(200, noise=0.1, random_state=0)
    return X


def _search(params, grid=TEMPERATURES, cv=5, **search_params):
    return GridSearchCV(
        GEBMEstimator(random_state=0, **params),
        {"temperature": grid},
        cv=KFold(cv),
        refit=False,
        **search_params,
    )


@pytest.fixture(scope="module")
def small_search(moons):
    """A small sequential search, the reference of the parallel ones."""
    return _search(FAST, grid=[0.5, 1.0], cv=3).fit(moons).cv_results_


def _cached_trainings(location):
    # joblib.Memory keeps one folder per distinct call, holding its output
    return len(list(Path(location).rglob("output.pkl")))


def test_memory_trains_once_per_fold(moons, fast_params, tmp_path):
    search = _search({**fast_params, "memory": str(tmp_path)}).fit(moons)
    assert _cached_trainings(tmp_path) == 5  # 5 folds, not 5 folds x 5 temperatures
    # the cached network gives the scores of a fit without memory at every temperature
    train, test = next(KFold(5).split(moons))
    est = GEBMEstimator(random_state=0, **fast_params).fit(moons[train])
    expected = [est.set_params(temperature=t).score(moons[test]) for t in TEMPERATURES]
    np.testing.assert_array_equal(search.cv_results_["split0_test_score"], expected)
    assert len(np.unique(expected)) == len(TEMPERATURES)


def test_memory_key_covers_training_parameters_and_data(moons, fast_params, tmp_path):
    params = {**fast_params, "memory": joblib.Memory(tmp_path, verbose=0), "random_state": 0}
    a = GEBMEstimator(**params).fit(moons)
    GEBMEstimator(**params).set_params(temperature=0.5).fit(moons)  # cached
    GEBMEstimator(**params).set_params(verbose=1).fit(moons)  # cached: printing only
    GEBMEstimator(**params).set_params(n_jobs=2).fit(moons)  # cached: the same model
    assert _cached_trainings(tmp_path) == 1
    b = GEBMEstimator(**params).set_params(learning_rate=2e-3).fit(moons)
    c = GEBMEstimator(**params).fit(moons[:150])
    assert _cached_trainings(tmp_path) == 3
    assert a.score(moons) != b.score(moons) and a.n_features_in_ == c.n_features_in_


def test_pipeline_and_cross_val_score(moons, fast_params):
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("gebm", GEBMEstimator(random_state=0, **fast_params))]
    )
    pipeline.fit(moons * 100.0)
    scores = pipeline.score_samples(moons * 100.0)
    assert scores.shape == (len(moons),) and np.all(np.isfinite(scores))
    assert pipeline.score(moons * 100.0) == pytest.approx(np.mean(scores))
    cv_scores = cross_val_score(pipeline, moons, cv=3)
    assert cv_scores.shape == (3,) and np.all(np.isfinite(cv_scores))


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_parallel_search_matches_sequential(moons, fast_params, small_search, backend):
    with joblib.parallel_config(backend=backend):
        parallel = _search(fast_params, grid=[0.5, 1.0], cv=3, n_jobs=2).fit(moons)
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"], small_search["mean_test_score"]
    )


def test_search_on_a_dask_cluster(moons, fast_params, small_search):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = _search(fast_params, grid=[0.5, 1.0], cv=3, n_jobs=-1).fit(moons)
    np.testing.assert_array_equal(
        on_dask.cv_results_["mean_test_score"], small_search["mean_test_score"]
    )


def test_warm_start_keeps_improving(moons, fast_params):
    # no held-out rows: the base starts at one Gaussian (not at a mixture's optimum),
    # and it has far to go
    params = {**fast_params, "max_iter": 60, "validation_fraction": None}
    est = GEBMEstimator(random_state=0, **params).fit(moons)
    scores = [est.score(moons)]
    est.set_params(warm_start=True)
    for _ in range(3):
        est.fit(moons)
        scores.append(est.score(moons))
    assert est.n_iter_ == 4 * 60 and len(est.net_.history) > 1
    assert np.all(np.diff(scores) > 0), scores  # no re-initialisation: it keeps learning
    base_loss = est.net_.history[:, "base_loss"]
    assert base_loss[-1] < base_loss[0]
