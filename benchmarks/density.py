"""Density and sample quality: GEBMEstimator against scikit-learn and its own flow alone.

For each data set and seed, every method is fitted on the same training features and
scored on the same test features:

- the 2-D toys of :mod:`skgebm.datasets`: 5,000 training and 5,000 test points, two
  independent draws;
- scikit-learn's ``wine``, ``breast_cancer``, ``digits`` and ``iris``: a 60/40
  train/test split (the sets are small, and the test part also feeds the
  sample-quality metric); the digits' 0-16 pixel counts are dequantized to
  ``(X + U[0, 1)) / 17`` and the iris' lengths, recorded to the millimetre, to
  ``X + U[0, 0.1)`` (in cm), so that they have a density.

``--suite more`` runs instead seven sets that did not shape the defaults (see
``_more_densities.py``): scikit-learn's Swiss roll and S-curve (3-D), two circles
(2-D), and four with a known density: six blobs of different widths in 5-D, a 4-D
Student t (3 degrees of freedom) mixed by a fixed matrix, the uniform 3-D cube and a
correlated 3-D log-normal; 2,000 training and 2,000 test points each.

All features are standardized on the training part, and every log-likelihood is in
these units (mean nats per test point), the truth's included (its log-density plus the
log-Jacobian of the scaling).

Methods:

- ``GEBM``: ``GEBMEstimator`` with its defaults (a neural-spline-flow base started at
  the data's Gaussian fit and trained by maximum likelihood alongside the KALE energy,
  10% held out for early stopping);
- ``GEBM base``: the same fit at ``temperature=inf``, its flow alone;
- ``flow MLE``: the same flow trained alone by maximum likelihood: the same estimator
  with an energy fixed at zero, so with the GEBM base's start, optimizer, batch size,
  iterations, weight averaging and early stopping;
- ``GMM``: ``GaussianMixture(covariance_type="full")``, ``n_components`` and
  ``reg_covar`` chosen by 3-fold ``GridSearchCV`` on the training part, each fit the
  best of several k-means starts: the search of the GEBM's own mixture start (its
  regularizations and starts), so that the baseline is tuned as much as it;
- ``KDE``: Gaussian ``KernelDensity``, ``bandwidth`` chosen by 3-fold ``GridSearchCV``
  on a log grid;
- ``truth``: the exact log-density, where known (8 Gaussians, checkerboard, rings, two
  moons);
- ``data``: the noise floor of the sample-quality metric.

Sample quality is the unbiased MMD² between 1,000 samples of a model and the first
``n = min(1000, n_test)`` test points (the reference), with one Gaussian kernel for
every model: its bandwidth is the median distance within the reference, so it does
not move with the model's samples (a median over the pooled sample would widen the
kernel for a spread-out model). Each model's MMD² is the mean over 20 independent draws
of 1,000 samples: one draw's MMD² varies by about 4e-4 on the toys, as much as the
differences between a GEBM and its base, and with 5 draws the sign of that difference
on the moons changed from one set of draws to the next. The ``data`` row is the MMD²
of ``n`` training points, a second real sample independent of the reference (the mean
over up to 5 disjoint chunks of them); on the rings, the moons and the pinwheel it sits about
2e-4 below what independent samples can reach, since their generators spread points
evenly (angles on a grid, equal arms). Models are sampled 1,000 times even where the test part
is small (wine: n = 72): their own sampling noise would otherwise dominate the
comparison.
Fit time is the wall-clock time of ``fit``, grid search included for GMM and KDE.

Everything runs on one thread. From the repository root::

    python benchmarks/density.py --json density.json --rst density.rst
    python benchmarks/density.py --quick --max-iter 20 --datasets eight_gaussians

Seeds can run as separate jobs and be tabulated together::

    python benchmarks/density.py --seeds 1 --first-seed 1 --json density1.json
    python benchmarks/density.py --merge density0.json density1.json --rst density.rst
"""

import argparse
import sys
import time

import numpy as np
import torch
from _common import (
    format_rst_table,
    format_text_table,
    mean_mmd2,
    mean_std,
    merged_machine,
    read_json,
    timer,
    write_json,
)
from _more_densities import MORE
from skgebm.metrics import median_heuristic
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from skgebm import GEBMEstimator, datasets
from skgebm.networks._mixture import N_INIT, REG_COVARS

N_TOY = 5000
N_TOY_QUICK = 1000
TEST_SIZE = 0.4
N_MMD = 1000
#: independent draws of N_MMD samples; a model's MMD² is their mean (the objectives
#: benchmark keeps _common's 5; see the module docstring)
N_MMD_DRAWS = 20
GMM_COMPONENTS = (1, 2, 4, 8, 16, 32, 64)
KDE_BANDWIDTHS = np.logspace(-2, 0.5, 16)

TOYS = {
    "eight_gaussians": (datasets.make_eight_gaussians, datasets.eight_gaussians_log_density),
    "checkerboard": (datasets.make_checkerboard, datasets.checkerboard_log_density),
    "two_spirals": (datasets.make_two_spirals, None),
    "pinwheel": (datasets.make_pinwheel, None),
    "rings": (datasets.make_rings, datasets.rings_log_density),
    "two_moons": (datasets.make_two_moons, datasets.two_moons_log_density),
}
TABULAR = {
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "iris": load_iris,
}
DATASETS = (*TOYS, *TABULAR)
#: ``--suite more``: data that did not shape the defaults (2,000 training and 2,000 test
#: points each)
SUITES = {"issue": DATASETS, "more": tuple(MORE)}
ALL_DATASETS = (*DATASETS, *MORE)
QUICK_DATASETS = {"issue": ("eight_gaussians", "two_moons", "wine"), "more": ("blobs", "circles")}
N_MORE = 2000

#: Rows of the table: key, label, and whether it has a log-likelihood and samples.
METHODS = (
    ("gebm", "GEBM"),
    ("gebm_base", "GEBM base (T=inf)"),
    ("flow_mle", "flow MLE"),
    ("gmm", "GMM"),
    ("kde", "KDE"),
    ("truth", "truth"),
    ("data", "data (noise floor)"),
)


def load_dataset(name, seed, n_toy=N_TOY):
    """``X_train, X_test, log_density`` of a data set (``log_density`` may be None).

    A toy has ``n_toy`` training and ``n_toy`` test points, a set of ``--suite more``
    :data:`N_MORE` of each.
    """
    if name in TOYS or name in MORE:
        make, log_density = {**TOYS, **MORE}[name]
        n = n_toy if name in TOYS else N_MORE
        X_train = make(n, random_state=2 * seed)
        return X_train, make(n, random_state=2 * seed + 1), log_density
    X = TABULAR[name](return_X_y=True)[0].astype(np.float64)
    if name == "digits":
        X = (X + np.random.RandomState(seed).uniform(size=X.shape)) / 17.0
    elif name == "iris":
        X = X + 0.1 * np.random.RandomState(seed).uniform(size=X.shape)
    X_train, X_test = train_test_split(X, test_size=TEST_SIZE, random_state=seed)
    return X_train, X_test, None


class ZeroEnergy(nn.Module):
    """An energy that is zero everywhere and has nothing to learn."""

    def forward(self, x):
        return 0.0 * x.sum(dim=1)  # zero, but a function of x for the gradient penalty


def fit_flow_mle(X, params):
    """The GEBM's flow alone, trained by maximum likelihood on ``X``.

    The same estimator with ``params`` and an energy fixed at zero: its flow, start,
    optimizer, schedule, weight averaging and early stopping are the GEBM's, so that the
    two differ only by the energy.
    """
    return GEBMEstimator(**{**params, "energy": ZeroEnergy()}).fit(X)


def grid_search(estimator, grid, X):
    return GridSearchCV(estimator, grid, cv=3).fit(X).best_estimator_


def fit_gmm(X, seed):
    """The cross-validated Gaussian mixture, over the GEBM start's search space."""
    components = [k for k in GMM_COMPONENTS if k <= len(X) // 3]
    gmm = GaussianMixture(covariance_type="full", n_init=N_INIT, random_state=seed)
    return grid_search(gmm, {"n_components": components, "reg_covar": list(REG_COVARS)}, X)


def run(name, seed, max_iter, n_toy=N_TOY):
    """Fit every method on one split of data set ``name``; a JSON-able record."""
    X_train, X_test, log_density = load_dataset(name, seed, n_toy)
    scaler = StandardScaler().fit(X_train)
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)
    n_reference = min(N_MMD, len(Z_test))
    reference = Z_test[:n_reference]
    bandwidth = median_heuristic(reference)
    n_chunks = min(N_MMD_DRAWS, len(Z_train) // n_reference)
    times, loglik = {}, {}
    samples = {"data": [Z_train[i * n_reference : (i + 1) * n_reference] for i in range(n_chunks)]}
    draws = [seed * N_MMD_DRAWS + draw for draw in range(N_MMD_DRAWS)]

    gebm = GEBMEstimator(device="cpu", random_state=seed)
    if max_iter is not None:
        gebm.set_params(max_iter=max_iter)
    with timer(times, "gebm"):
        gebm.fit(Z_train)
    loglik["gebm"] = gebm.score(Z_test)
    samples["gebm"] = [gebm.sample(N_MMD, random_state=d) for d in draws]
    gebm.set_params(temperature=float("inf"))
    loglik["gebm_base"] = gebm.score(Z_test)
    samples["gebm_base"] = [gebm.sample(N_MMD, random_state=d) for d in draws]

    with timer(times, "flow_mle"):
        flow = fit_flow_mle(Z_train, gebm.get_params())
    loglik["flow_mle"] = flow.score(Z_test)
    samples["flow_mle"] = [flow.sample(N_MMD, random_state=d) for d in draws]

    with timer(times, "gmm"):
        gmm = fit_gmm(Z_train, seed)
    loglik["gmm"] = gmm.score(Z_test)
    samples["gmm"] = [gmm.set_params(random_state=d).sample(N_MMD)[0] for d in draws]

    with timer(times, "kde"):
        # rtol: densities to a relative 1e-4 (1e-4 nats), several times faster
        kde = grid_search(KernelDensity(rtol=1e-4), {"bandwidth": KDE_BANDWIDTHS}, Z_train)
    loglik["kde"] = kde.score(Z_test) / len(Z_test)  # KernelDensity.score is a sum
    samples["kde"] = [kde.sample(N_MMD, random_state=d) for d in draws]

    if log_density is not None:
        log_jacobian = np.log(scaler.scale_).sum()
        loglik["truth"] = float(log_density(X_test).mean() + log_jacobian)

    return {
        "dataset": name,
        "seed": seed,
        "n_train": len(Z_train),
        "n_test": len(Z_test),
        "n_features": Z_train.shape[1],
        "n_mmd_reference": n_reference,
        "log_likelihood": {k: float(v) for k, v in loglik.items()},
        "mmd2": {k: mean_mmd2(v, reference, bandwidth) for k, v in samples.items()},
        "mmd2_draws": {k: len(v) for k, v in samples.items()},
        "mmd_bandwidth": bandwidth,
        "fit_time_s": times,
        "gebm_n_iter": int(gebm.n_iter_),
        "gebm_n_base_components": int(gebm.n_base_components_),  # which start was kept
        "gmm_n_components": int(gmm.n_components),
        "gmm_reg_covar": float(gmm.reg_covar),
        "kde_bandwidth": float(kde.bandwidth),
    }


def _values(records, metric, method):
    return [r[metric].get(method) for r in records]


def table_rows(records, names):
    """Rows ``dataset, method, log-likelihood, MMD² x 1e3, fit time`` (mean ± std)."""
    rows = []
    for name in names:
        runs = [r for r in records if r["dataset"] == name]
        for key, label in METHODS:
            loglik = mean_std(_values(runs, "log_likelihood", key), 3)
            mmd = [None if v is None else 1e3 * v for v in _values(runs, "mmd2", key)]
            fit = mean_std(_values(runs, "fit_time_s", key), 1)
            if (loglik, mean_std(mmd, 2), fit) != ("–", "–", "–"):
                rows.append([name, label, loglik, mean_std(mmd, 2), fit])
    return rows


def acceptance(records, names):
    """The issue's acceptance checks per data set, on the means over seeds."""
    checks = {}
    for name in names:
        runs = [r for r in records if r["dataset"] == name]

        def mean(metric, key, runs=runs):
            values = _values(runs, metric, key)
            return None if None in values else float(np.mean(values))

        gebm = mean("log_likelihood", "gebm")
        truth = mean("log_likelihood", "truth")
        margin = gebm - max(mean("log_likelihood", "gmm"), mean("log_likelihood", "kde"))
        checks[name] = {
            "beats_gmm_and_kde": margin > 0,
            "margin_over_gmm_and_kde": margin,
            "within_0.05_of_flow_mle": gebm >= mean("log_likelihood", "flow_mle") - 0.05,
            "within_0.1_of_truth": None if truth is None else truth - gebm <= 0.1,
            "mcmc_lowers_mmd2": mean("mmd2", "gebm") < mean("mmd2", "gebm_base"),
        }
    return checks


def acceptance_rows(checks):
    """One row per data set; the margin shows how far a verdict is from the noise."""
    words = {True: "yes", False: "NO", None: "–"}
    return [
        [
            name,
            f"{words[r['beats_gmm_and_kde']]} ({r['margin_over_gmm_and_kde']:+.4f})",
            words[r["within_0.05_of_flow_mle"]],
            words[r["within_0.1_of_truth"]],
            words[r["mcmc_lowers_mmd2"]],
        ]
        for name, r in checks.items()
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds start here")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="tabulate the records of these earlier runs (split by seed) instead of running",
    )
    parser.add_argument(
        "--suite", choices=SUITES, default="issue",
        help="the issue's sets, or more that did not shape the defaults",
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=ALL_DATASETS, help="default: the suite's"
    )
    parser.add_argument("--max-iter", type=int, help="GEBM and flow-MLE iterations (default: GEBM's)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: 1 seed, {N_TOY_QUICK}-point toys, by default a few of the suite's",
    )
    parser.add_argument("--json", help="write the per-run records here")
    parser.add_argument("--rst", help="write the tables here as reStructuredText")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # and threadpool_limits below: one thread, comparable times
    n_seeds = 1 if args.quick else args.seeds
    n_toy = N_TOY_QUICK if args.quick else N_TOY
    names = args.datasets or (QUICK_DATASETS if args.quick else SUITES)[args.suite]

    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    settings = {
        "seeds": seeds,
        "datasets": list(names),
        "max_iter": args.max_iter,
        "n_toy": n_toy,
        "threads": torch.get_num_threads(),
    }
    if args.merge:
        runs = [read_json(path) for path in args.merge]
        records = [record for run_ in runs for record in run_["records"]]
        records.sort(key=lambda record: (ALL_DATASETS.index(record["dataset"]), record["seed"]))
        names = list(dict.fromkeys(record["dataset"] for record in records))
        seeds = sorted({record["seed"] for record in records})
        total = sum(run_.get("total_time_s", 0.0) for run_ in runs)
        settings = {**runs[0]["settings"], "seeds": seeds, "datasets": names, "merged": args.merge}
        origin = merged_machine(runs)
    else:
        start, records, origin = time.perf_counter(), [], {}
        for name in names:
            for seed in seeds:
                with threadpool_limits(limits=1):
                    records.append(run(name, seed, args.max_iter, n_toy))
                times = ", ".join(f"{k} {v:.1f}s" for k, v in records[-1]["fit_time_s"].items())
                print(f"done {name} seed {seed}: {times}", file=sys.stderr, flush=True)
                if args.json:
                    write_json(args.json, {"settings": settings, "records": records})
        total = time.perf_counter() - start

    header = ["data set", "method", "test log-lik.", "MMD² ×10³", "fit time (s)"]
    check_header = [
        "data set", "beats GMM & KDE (margin)", "≥ flow MLE − 0.05", "≤ 0.1 from truth",
        "MCMC lowers MMD²",
    ]
    rows, checks = table_rows(records, names), acceptance(records, names)
    seeds_note = f"mean ± std over {len(seeds)} seed(s); total run time {total:.0f} s"
    print(format_text_table(header, rows), f"\n{seeds_note}\n")
    print(format_text_table(check_header, acceptance_rows(checks)))
    if args.json:
        write_json(
            args.json,
            {"settings": settings, "total_time_s": total, "acceptance": checks,
             "records": records, **origin},
        )
    if args.rst:
        with open(args.rst, "w", encoding="utf-8") as file:
            file.write(f"{format_rst_table(header, rows)}\n{seeds_note.capitalize()}.\n\n")
            file.write(format_rst_table(check_header, acceptance_rows(checks)))


if __name__ == "__main__":
    main()
