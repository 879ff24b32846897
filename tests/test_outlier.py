"""GEBMOutlierDetector: sklearn's outlier API, thresholds and robust scores."""

import inspect
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgebm import GEBMEstimator, GEBMOutlierDetector
from skgebm._degenerate import dequantization_widths
from skgebm.exceptions import PartitionEstimateWarning
from skgebm.outlier import _Member

from .conftest import FAST

# Defaults the detector deliberately changes from GEBMEstimator's (see its docstring).
CHANGED_DEFAULTS = {
    "flow": "auto",
    "n_flow_transforms": 2,
    "base_hidden_layer_sizes": (64,),
    "energy_hidden_layer_sizes": (64, 64),
    "energy_fourier_scale": None,
    "gradient_penalty": 0.01,
    "max_iter": 500,
    "base_learning_rate": None,
    "n_partition_samples": 16384,
    "tail_weight": 0.0,
    "n_iter_no_change": 40,
}

DETECTOR_ONLY = {"contamination", "n_estimators", "dequantize", "trim_outliers"}


@pytest.fixture(scope="module")
def blob():
    rng = np.random.RandomState(0)
    return rng.normal(size=(300, 3)) * [1.0, 2.0, 0.5] + [5.0, -3.0, 0.0]


@pytest.fixture(scope="module")
def scattered(blob):
    """The blob with 12 points scattered 8 standard deviations around it."""
    directions = np.random.RandomState(3).normal(size=(12, blob.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return np.vstack([blob, blob.mean(axis=0) + 8.0 * blob.std(axis=0) * directions])


def _recording(monkeypatch, method):
    """The rows each call of ``_Member.<method>`` trains on, in call order."""
    seen, train = [], getattr(_Member, method)

    def recorded(member, X, y=None):
        seen.append(X)
        return train(member, X)

    monkeypatch.setattr(_Member, method, recorded)
    return seen


@parametrize_with_checks([GEBMOutlierDetector(random_state=0, **FAST)])
def test_sklearn_compatible_detector(estimator, check):
    check(estimator)


def test_signature_has_every_estimator_parameter_with_its_default():
    estimator_params = inspect.signature(GEBMEstimator).parameters
    detector_params = inspect.signature(GEBMOutlierDetector).parameters
    assert set(detector_params) == set(estimator_params) | DETECTOR_ONLY
    for name, parameter in estimator_params.items():
        expected = CHANGED_DEFAULTS.get(name, parameter.default)
        assert detector_params[name].default == expected, name
        assert detector_params[name].kind == parameter.kind, name


def test_every_setting_reaches_the_trained_model(blob):
    defaults = GEBMOutlierDetector().get_params()
    grid = {"contamination": [0.05, 0.2], "gradient_penalty": [0.5]}
    search = GridSearchCV(GEBMOutlierDetector(random_state=0, **FAST), grid, cv=2).fit(blob)
    assert [set(p) for p in search.cv_results_["params"]] == [set(grid)] * 2
    best = search.best_estimator_
    assert best.net_.criterion_.gradient_penalty == best.gradient_penalty
    assert set(defaults) == set(GEBMEstimator().get_params()) | DETECTOR_ONLY
    assert all(member.gradient_penalty == 0.5 for member in best.estimators_)


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.3])
def test_float_contamination_is_the_training_outlier_fraction(blob, contamination):
    detector = GEBMOutlierDetector(contamination=contamination, random_state=0, **FAST)
    labels = detector.fit_predict(blob)
    scores = detector.score_samples(blob)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 100 * contamination))
    assert np.mean(labels == -1) == pytest.approx(contamination, abs=1 / len(blob))


def test_auto_contamination_is_tukeys_lower_fence(blob):
    detector = GEBMOutlierDetector(random_state=0, **FAST).fit(blob)
    q1, q3 = np.percentile(detector.score_samples(blob), [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))


def test_decision_function_and_predict_agree_with_the_scores(blob):
    detector = GEBMOutlierDetector(contamination=0.1, random_state=0, **FAST).fit(blob)
    X = np.vstack([blob[:50], blob[:50] + 20.0])
    decision = detector.decision_function(X)
    np.testing.assert_allclose(decision, detector.score_samples(X) - detector.offset_)
    np.testing.assert_array_equal(detector.predict(X), np.where(decision < 0, -1, 1))
    assert set(np.unique(detector.predict(X))) == {-1, 1}


@pytest.mark.parametrize("base", ["flow", "gaussian", "generator"])
@pytest.mark.parametrize("distance", [10.0, 100.0, 10000.0, 1e300])
def test_points_far_from_the_data_score_lower_than_the_data(blob, base, distance):
    detector = GEBMOutlierDetector(base=base, random_state=0, **FAST).fit(blob)
    rng = np.random.RandomState(1)
    directions = rng.normal(size=(200, blob.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    scale = blob.std(axis=0)
    far = blob[:200] + distance * scale * directions
    assert detector.score_samples(far).max() < detector.score_samples(blob).min()
    assert np.all(detector.predict(far) == -1)


def test_far_points_score_lower_whatever_the_temperature(blob):
    detector = GEBMOutlierDetector(base="generator", random_state=0, **FAST).fit(blob)
    far = blob + 30.0 * blob.std(axis=0)
    for temperature in (0.1, 1.0, float("inf")):
        detector.set_params(temperature=temperature)
        assert detector.score_samples(far).max() < detector.score_samples(blob).min()


def test_scores_rank_a_planted_outlier_cluster_below_the_inliers(blob):
    rng = np.random.RandomState(2)
    outliers = rng.uniform(-1, 1, size=(15, 3)) * 3.0 + [5.0, 6.0, 4.0]
    X = np.vstack([blob, outliers])
    detector = GEBMOutlierDetector(contamination=0.05, random_state=0, **FAST).fit(X)
    scores = detector.score_samples(X)
    assert np.mean(scores[-15:] < np.percentile(scores[:-15], 10)) > 0.8


@pytest.mark.parametrize(
    "contamination, match",
    [(0.0, "contamination"), (0.6, "contamination"), ("high", "contamination")],
)
def test_bad_contamination(blob, contamination, match):
    with pytest.raises(ValueError, match=match):
        GEBMOutlierDetector(contamination=contamination, **FAST).fit(blob)


@pytest.mark.parametrize("n_features, flow", [(1, "nsf"), (5, "nsf"), (6, "realnvp")])
def test_default_flow_is_the_spline_flow_on_few_features(n_features, flow):
    X = np.random.RandomState(0).normal(size=(100, n_features))
    detector = GEBMOutlierDetector(n_estimators=2, random_state=0, **FAST).fit(X)
    assert {member.flow for member in detector.estimators_} == {flow}
    assert detector.flow == "auto"  # the parameter is kept as given


def test_one_feature_scores_far_points_low_and_refuses_realnvp(blob):
    detector = GEBMOutlierDetector(random_state=0, **FAST).fit(blob[:, :1])
    x = blob[:50, :1]
    far = x.mean() + 20 * x.std() * np.sign(x - x.mean())
    assert (detector.score_samples(far) < detector.score_samples(x)).all()
    with pytest.raises(ValueError, match="realnvp.*1 feature"):
        GEBMOutlierDetector(flow="realnvp", **FAST).fit(blob[:, :1])


@pytest.mark.parametrize("base", ["flow", "generator"])
def test_threshold_follows_the_temperature_without_refitting(blob, base):
    # contamination keeps its meaning at any temperature: the threshold is the same
    # percentile of the training scores at the new temperature
    detector = GEBMOutlierDetector(base=base, contamination=0.1, random_state=0, **FAST)
    detector.fit(blob)
    for temperature in (0.1, 1.0, float("inf")):
        detector.set_params(temperature=temperature)
        scores = detector.score_samples(blob)
        assert detector.offset_ == pytest.approx(np.percentile(scores, 10), rel=1e-12)
        assert np.mean(detector.predict(blob) == -1) == pytest.approx(0.1, abs=1 / len(blob))


def test_partial_fit_resets_the_threshold(blob):
    detector = GEBMOutlierDetector(contamination=0.1, random_state=0, **FAST).fit(blob)
    shifted = blob[:100] + 0.5
    detector.partial_fit(shifted)
    scores = detector.score_samples(shifted)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 10))


def test_scores_are_the_log_density_of_the_mixture_of_the_members(blob):
    detector = GEBMOutlierDetector(n_estimators=3, random_state=0, **FAST).fit(blob)
    seeds = [member.random_state for member in detector.estimators_]
    assert len(set(seeds)) == 3
    member_scores = np.array([member.score_samples(blob) for member in detector.estimators_])
    assert np.ptp(member_scores, axis=0).min() > 0  # different fits
    mixture = np.log(np.mean(np.exp(member_scores), axis=0))
    np.testing.assert_allclose(detector.score_samples(blob), mixture, rtol=1e-12)
    # the mixture is a density: on average at least as likely as its members (Jensen)
    assert detector.score(blob) >= member_scores.mean()


def test_members_follow_the_settings_read_at_inference(blob):
    detector = GEBMOutlierDetector(n_estimators=2, random_state=0, **FAST).fit(blob)
    detector.set_params(temperature=float("inf"))
    base_log_densities = []
    for member in detector.estimators_:  # T = inf: the bases alone
        x = torch.as_tensor((blob - member.location_) / member.scale_, dtype=torch.float32)
        with torch.no_grad():
            log_density = member.base_.log_prob(x).double().numpy()
        base_log_densities.append(log_density - np.log(member.scale_).sum())
    expected = np.log(np.mean(np.exp(base_log_densities), axis=0))
    np.testing.assert_allclose(detector.score_samples(blob), expected, rtol=1e-4)


def test_parallel_members_score_as_sequential_ones(blob):
    params = dict(n_estimators=2, random_state=0, **FAST)
    sequential = GEBMOutlierDetector(**params).fit(blob).score_samples(blob)
    parallel = GEBMOutlierDetector(n_jobs=2, **params).fit(blob).score_samples(blob)
    np.testing.assert_array_equal(parallel, sequential)


def test_samples_come_from_every_member_in_random_order(blob):
    detector = GEBMOutlierDetector(n_estimators=2, random_state=0, **FAST).fit(blob)
    X = detector.sample(400, random_state=0)
    again = detector.sample(400, random_state=0)
    np.testing.assert_array_equal(X, again)
    assert X.shape == (400, blob.shape[1]) and np.isfinite(X).all()
    # each member contributes about half, and its draws match its own sampler
    rng = np.random.RandomState(0)
    shares = rng.multinomial(400, [0.5, 0.5])
    first = detector.estimators_[0].sample(shares[0], rng)
    assert 150 < shares[0] < 250
    assert np.isin(first[:, 0], X[:, 0]).all()
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        detector.sample(0)


def test_warm_start_continues_every_member_and_needs_the_same_number(blob):
    detector = GEBMOutlierDetector(n_estimators=2, warm_start=True, random_state=0, **FAST)
    detector.fit(blob)
    iterations = [member.n_iter_ for member in detector.estimators_]
    detector.fit(blob)
    assert [member.n_iter_ for member in detector.estimators_] == [2 * n for n in iterations]
    detector.set_params(n_estimators=3)
    with pytest.raises(ValueError, match="n_estimators changed from 2 to 3"):
        detector.fit(blob)


@pytest.mark.slow
def test_five_members_rank_outliers_more_steadily_than_one_fit():
    """load_breast_cancer, benign rows with 20 malignant ones as outliers, 60/40 split.

    Over random states 0-4, single fits scored ROC-AUC 0.862-0.960 (std 0.037), and
    five-member detectors 0.871-0.919 (std 0.016); about 70 s on one thread.
    """
    X, y = load_breast_cancer(return_X_y=True)
    malignant = np.random.RandomState(0).choice(np.flatnonzero(y == 0), 20, replace=False)
    rows = np.r_[np.flatnonzero(y == 1), malignant]
    X, is_outlier = X[rows], y[rows] == 0
    X_train, X_test, _, y_test = train_test_split(
        X, is_outlier, test_size=0.4, stratify=is_outlier, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    def roc_aucs(n_estimators):
        return [
            roc_auc_score(
                y_test,
                -GEBMOutlierDetector(n_estimators=n_estimators, random_state=seed, device="cpu")
                .fit(X_train)
                .score_samples(X_test),
            )
            for seed in range(5)
        ]

    single, mixture = roc_aucs(1), roc_aucs(5)
    assert np.std(mixture) < 0.6 * np.std(single)
    assert min(mixture) > 0.85


def test_members_partition_errors_are_not_reported_by_the_scores():
    from .test_gebm import _Well

    X = np.random.RandomState(0).normal(size=(300, 2))
    detector = GEBMOutlierDetector(base="gaussian", energy=_Well(12.0, width=0.2), energy_min=None,
                                   n_estimators=2, max_iter=1, random_state=0).fit(X)
    with pytest.warns(PartitionEstimateWarning, match="standard error"):
        detector.estimators_[0].log_partition()  # the member's estimate is poor
    with warnings.catch_warnings():
        warnings.simplefilter("error", PartitionEstimateWarning)
        scores = detector.score_samples(X)
    assert np.all(np.isfinite(scores))


def test_members_train_on_their_own_dequantization_of_discrete_features(blob):
    rng = np.random.RandomState(1)
    counts = np.c_[blob, rng.randint(0, 6, len(blob))]
    settings = {**FAST, "n_estimators": 2, "random_state": 0}
    plain = GEBMOutlierDetector(dequantize=False, **settings)
    for X, changes in ((blob, False), (counts, True)):
        scores = GEBMOutlierDetector(**settings).fit(X).score_samples(X)
        assert (not np.array_equal(scores, plain.fit(X).score_samples(X))) == changes
    fitted = GEBMOutlierDetector(**settings).fit(counts)
    # each member standardized its own noisy copy; the threshold reads the rows given
    first, second = (member.location_[-1] for member in fitted.estimators_)
    assert first != second and abs(first - counts[:, -1].mean()) < 0.1
    threshold = np.percentile(fitted.score_samples(counts), 25) - 1.5 * np.subtract(
        *np.percentile(fitted.score_samples(counts), [75, 25])
    )
    assert fitted.offset_ == pytest.approx(threshold)



def test_partial_fit_spreads_a_batch_over_the_widths_found_at_fit(blob, monkeypatch):
    rng = np.random.RandomState(1)
    counts = np.c_[blob, rng.randint(0, 6, len(blob))]
    settings = {**FAST, "n_estimators": 2, "trim_outliers": False, "random_state": 0}
    detector = GEBMOutlierDetector(**settings).fit(counts)
    assert np.array_equal(detector.dequantization_widths_, [0, 0, 0, 1.0])
    plain = GEBMOutlierDetector(dequantize=False, **settings).fit(counts)
    assert not plain.dequantization_widths_.any()
    seen = _recording(monkeypatch, "partial_fit")
    batch = counts[:20]  # each value about three times: not found discrete alone
    assert not np.any(dequantization_widths(batch))
    detector.partial_fit(batch)
    detector.partial_fit(batch)
    first_call, second_call = seen[:2], seen[2:]
    for rows in seen:
        assert np.array_equal(rows[:, :3], batch[:, :3])
        assert np.array_equal(np.round(rows[:, 3]), batch[:, 3])  # within its cell
        assert not np.array_equal(rows[:, 3], batch[:, 3])
    assert not np.array_equal(*first_call)  # each member's own noise
    assert not np.array_equal(first_call[0], second_call[0])  # new noise on each call


def test_members_train_without_the_rows_a_first_fit_flags(scattered, monkeypatch):
    settings = {**FAST, "n_estimators": 2, "random_state": 0}
    seen = _recording(monkeypatch, "fit")
    detector = GEBMOutlierDetector(**settings).fit(scattered)
    screen_rows, *member_rows = seen
    assert len(member_rows) == 2
    np.testing.assert_array_equal(screen_rows, scattered)
    for rows in member_rows:
        np.testing.assert_array_equal(rows, scattered[detector.support_])
    assert not detector.support_[-12:].any()
    assert detector.support_[:-12].mean() > 0.9
    # the rows left out are those a detector of the first member alone flags
    screen = GEBMOutlierDetector(**{**settings, "n_estimators": 1, "trim_outliers": False})
    np.testing.assert_array_equal(screen.fit_predict(scattered) == 1, detector.support_)
    # the threshold still reads every training row
    scores = detector.score_samples(scattered)
    q1, q3 = np.percentile(scores, [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))


def test_without_trimming_the_members_train_on_every_row(scattered, monkeypatch):
    seen = _recording(monkeypatch, "fit")
    detector = GEBMOutlierDetector(trim_outliers=False, n_estimators=2, random_state=0, **FAST)
    detector.fit(scattered)
    assert len(seen) == 2 and detector.support_.all()
    for rows in seen:
        np.testing.assert_array_equal(rows, scattered)


def test_partial_fit_trains_on_the_rows_of_a_batch_it_does_not_flag(
    blob, scattered, monkeypatch
):
    detector = GEBMOutlierDetector(n_estimators=2, random_state=0, **FAST).fit(blob)
    batch = np.vstack([blob[:40], scattered[-12:]])
    inliers = detector.predict(batch) == 1
    assert not inliers[-12:].any() and inliers[:40].mean() > 0.9
    seen = _recording(monkeypatch, "partial_fit")
    detector.partial_fit(batch)
    np.testing.assert_array_equal(detector.support_, inliers)
    assert len(seen) == 2
    for rows in seen:
        np.testing.assert_array_equal(rows, batch[inliers])


def test_trimming_keeps_at_least_two_rows_to_train_on():
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    detector = GEBMOutlierDetector(contamination=0.5, random_state=0, **FAST).fit(X)
    assert detector.support_.all()
