"""Outlier detection on the ODDS sets: GEBMOutlierDetector against scikit-learn.

The protocol of PyOD's benchmark (Zhao, Nasrullah & Li, JMLR 2019) on twelve ODDS sets
(Rayana, 2016: ODDS library, Stony Brook University). For each seed: a stratified
60/40 train/test split, a StandardScaler fitted on the training part, every detector
fitted on the contaminated training part (labels unused), and the ROC-AUC and average
precision of its outlier scores (``-score_samples``) on the test part.

Detectors, all with their defaults except where noted:

- ``GEBM``: ``GEBMOutlierDetector()``;
- ``IForest``: ``IsolationForest``;
- ``LOF``: ``LocalOutlierFactor(novelty=True)``, which can score new points;
- ``OCSVM``: ``OneClassSVM``;
- ``GMM``: ``GaussianMixture`` (one full-covariance component);
- ``KDE``: ``KernelDensity(bandwidth="scott")``, Scott's rule on the standardized
  features, since the default bandwidth of 1 ignores the dimension.

Training parts larger than ``--max-train-rows`` (only ``shuttle``'s, 29,458 rows, by
default) are subsampled to that many rows, which the table marks; test parts are whole.
CPU time is ``time.process_time`` of fit plus scoring, on one thread.

The data are read from ``../shared/data/odds`` (relative to the repository root) or
``--data-dir``, never copied into the repository; without them the script says so and
exits. From the repository root::

    python benchmarks/outliers.py --json outliers.json --rst outliers.rst
    python benchmarks/outliers.py --seeds 1 --datasets glass vertebral

GEBMOutlierDetector's defaults were chosen on the splits of seeds 0 to 2 (see its
docstring), the default ones here: ``--first-seed 3`` runs splits it has not seen.
``--suite sklearn`` runs seven sets the defaults were not chosen on, built from
scikit-learn's data (no files needed): two moons, an S-curve and three 5-D blobs with
uniform noise around them as outliers (5%, 3%, 5%), and one class as rare outliers
among others (``load_iris``' virginica and ``load_wine``'s third class at 7%,
``load_breast_cancer``'s malignant rows at 5%, ``load_digits``' nines at 3%).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.io
import torch
from _common import (
    format_rst_table,
    format_text_table,
    mean_std,
    merged_machine,
    read_json,
    write_json,
)
from scipy.stats import rankdata
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_blobs,
    make_moons,
    make_s_curve,
)
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KernelDensity, LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM
from threadpoolctl import threadpool_limits

from skgebm import GEBMOutlierDetector

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
DATASETS = (
    "arrhythmia",
    "glass",
    "ionosphere",
    "letter",
    "lympho",
    "mnist",
    "musk",
    "optdigits",
    "pendigits",
    "satimage-2",
    "shuttle",
    "vertebral",
)
SKLEARN_SETS = ("moons", "s_curve", "blobs", "iris", "wine", "breast_cancer", "digits")
SUITES = {"odds": DATASETS, "sklearn": SKLEARN_SETS}
METRICS = {"roc_auc": "ROC-AUC", "average_precision": "average precision"}


def make_detectors(seed):
    """The compared detectors, by name, seeded with ``seed`` where they are random."""
    return {
        "GEBM": GEBMOutlierDetector(device="cpu", random_state=seed),
        "IForest": IsolationForest(random_state=seed),
        "LOF": LocalOutlierFactor(novelty=True),
        "OCSVM": OneClassSVM(),
        "GMM": GaussianMixture(random_state=seed),
        "KDE": KernelDensity(bandwidth="scott"),
    }


def load_odds(name, data_dir):
    """``X, y`` of an ODDS ``.mat`` file (``y = 1`` for outliers), or ``None`` if absent."""
    path = Path(data_dir) / f"{name}.mat"
    if not path.is_file():
        print(f"skipping {name}: {path} not found")
        return None
    mat = scipy.io.loadmat(path)
    return mat["X"].astype(np.float64), mat["y"].ravel().astype(int)


def _with_noise(X, fraction, rng):
    """``X`` (label 0) and uniform outliers (label 1) over its bounding box, widened by
    a tenth on each side, making up ``fraction`` of the rows."""
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * (high - low)
    n_outliers = round(fraction * len(X) / (1 - fraction))
    outliers = rng.uniform(low - margin, high + margin, size=(n_outliers, X.shape[1]))
    return np.r_[X, outliers], np.r_[np.zeros(len(X), int), np.ones(n_outliers, int)]


def _rare_class(bunch, outlier_class, fraction, rng):
    """The rows of every other class (label 0), and rows of ``outlier_class`` (label
    1) drawn to make up ``fraction`` of the rows."""
    X, target = bunch.data, bunch.target
    inliers, candidates = X[target != outlier_class], X[target == outlier_class]
    n_outliers = round(fraction * len(inliers) / (1 - fraction))
    outliers = candidates[rng.choice(len(candidates), n_outliers, replace=False)]
    return np.r_[inliers, outliers], np.r_[np.zeros(len(inliers), int), np.ones(n_outliers, int)]


def make_sklearn_set(name):
    """``X, y`` of one of :data:`SKLEARN_SETS` (``y = 1`` for outliers), the same on every call."""
    rng = np.random.RandomState(0)
    if name == "moons":
        return _with_noise(make_moons(1500, noise=0.08, random_state=0)[0], 0.05, rng)
    if name == "s_curve":
        return _with_noise(make_s_curve(1500, noise=0.1, random_state=0)[0], 0.03, rng)
    if name == "blobs":
        return _with_noise(make_blobs(1500, n_features=5, centers=3, random_state=0)[0], 0.05, rng)
    loader, outlier_class, fraction = {
        "iris": (load_iris, 2, 0.07),
        "wine": (load_wine, 2, 0.07),
        "breast_cancer": (load_breast_cancer, 0, 0.05),
        "digits": (load_digits, 9, 0.03),
    }[name]
    return _rare_class(loader(), outlier_class, fraction, rng)


def load(name, data_dir):
    """``X, y`` of a data set of either suite, or ``None`` if its file is absent."""
    return make_sklearn_set(name) if name in SKLEARN_SETS else load_odds(name, data_dir)


def split(X, y, seed, max_train_rows):
    """Stratified 60/40 split, training part subsampled, both standardized on it.

    Returns ``X_train, X_test, y_test, subsampled``.
    """
    X_train, X_test, _, y_test = train_test_split(
        X, y, test_size=0.4, stratify=y, random_state=seed
    )
    subsampled = bool(max_train_rows) and len(X_train) > max_train_rows
    if subsampled:
        keep = np.random.RandomState(seed).choice(len(X_train), max_train_rows, replace=False)
        X_train = X_train[keep]
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test, subsampled


def evaluate(detector, X_train, X_test, y_test):
    """Fit on the training part; test ROC-AUC, average precision and CPU seconds."""
    start = time.process_time()
    detector.fit(X_train)
    outlier_score = -detector.score_samples(X_test)
    cpu = time.process_time() - start
    return {
        "roc_auc": float(roc_auc_score(y_test, outlier_score)),
        "average_precision": float(average_precision_score(y_test, outlier_score)),
        "cpu_s": cpu,
    }


def run(datasets, data_dir, seeds, max_train_rows, make=make_detectors, log=print):
    """One record per data set, seed and detector."""
    records = []
    for name in datasets:
        data = load(name, data_dir)
        if data is None:
            continue
        X, y = data
        for seed in seeds:
            X_train, X_test, y_test, subsampled = split(X, y, seed, max_train_rows)
            for method, detector in make(seed).items():
                result = evaluate(detector, X_train, X_test, y_test)
                records.append(
                    {
                        "dataset": name,
                        "method": method,
                        "seed": seed,
                        "n_train": len(X_train),
                        "subsampled": subsampled,
                        **result,
                    }
                )
                log(
                    f"{name:<11} seed {seed} {method:<8} ROC-AUC {result['roc_auc']:.3f} "
                    f"AP {result['average_precision']:.3f} ({result['cpu_s']:.1f} s CPU)"
                )
    return records


def metric_table(records, metric):
    """Header and rows: data set x method, mean ± std over seeds, ``*`` on the best.

    The last rows are the mean over data sets, the mean rank (1 = best) and the number
    of outright (untied) wins of every method.
    """
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    values = {
        (d, m): [r[metric] for r in records if r["dataset"] == d and r["method"] == m]
        for d in datasets
        for m in methods
    }
    means = np.array([[np.mean(values[d, m]) for m in methods] for d in datasets])
    best = means == means.max(axis=1, keepdims=True)
    outright = best & (best.sum(axis=1, keepdims=True) == 1)
    rows = []
    for i, name in enumerate(datasets):
        subsampled = any(r["subsampled"] for r in records if r["dataset"] == name)
        cells = [
            mean_std(values[name, m], 3) + (" *" if best[i, j] else "")
            for j, m in enumerate(methods)
        ]
        rows.append([name + (" †" if subsampled else ""), *cells])
    ranks = np.array([rankdata(-row) for row in means])
    rows.append(["mean", *(f"{v:.3f}" for v in means.mean(axis=0))])
    rows.append(["mean rank", *(f"{v:.2f}" for v in ranks.mean(axis=0))])
    rows.append(["outright wins", *(str(v) for v in outright.sum(axis=0))])
    return [METRICS[metric], *methods], rows


def cpu_row(records):
    """Header and the one row of total CPU seconds per method."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    totals = [sum(r["cpu_s"] for r in records if r["method"] == m) for m in methods]
    return ["", *methods], [["CPU s, total", *(f"{t:.1f}" for t in totals)]]


def notes(records):
    """The footnote on subsampled training parts, and the number of seeds."""
    n_seeds = len({r["seed"] for r in records})
    lines = [f"Mean ± std over {n_seeds} seeds; * marks the best mean of each row."]
    for name in dict.fromkeys(r["dataset"] for r in records if r["subsampled"]):
        n_train = next(r["n_train"] for r in records if r["dataset"] == name)
        lines.append(f"† {name}: training part subsampled to {n_train} rows; test part whole.")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument(
        "--suite",
        choices=SUITES,
        default="odds",
        help="the ODDS sets, or seven built from scikit-learn's data",
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS + SKLEARN_SETS, help="default: the suite's"
    )
    parser.add_argument("--seeds", type=int, default=3, help="number of splits")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds start here; the detector's defaults were chosen on seeds 0-2",
    )
    parser.add_argument(
        "--max-train-rows",
        type=int,
        default=10000,
        help="subsample larger training parts to this many rows (0: keep all)",
    )
    parser.add_argument("--json", help="write the settings and per-run records here")
    parser.add_argument("--rst", help="write the tables here as reStructuredText")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="tabulate the records of these earlier runs instead of running",
    )
    args = parser.parse_args(argv)
    origin = {}
    if args.merge:  # in the table's order of the data sets, whatever the files' order
        runs = [read_json(path) for path in args.merge]
        records = [record for run_ in runs for record in run_["records"]]
        origin = merged_machine(runs)
        records.sort(key=lambda record: (DATASETS + SKLEARN_SETS).index(record["dataset"]))
    elif args.suite == "odds" and not args.datasets and not Path(args.data_dir).is_dir():
        print(f"ODDS data not found in {args.data_dir}: nothing to run.")
        return 0
    else:
        torch.set_num_threads(1)  # and threadpool_limits below: one thread, comparable times
        with threadpool_limits(limits=1):
            seeds = range(args.first_seed, args.first_seed + args.seeds)
            names = args.datasets or SUITES[args.suite]
            records = run(names, args.data_dir, seeds, args.max_train_rows)
    if not records:
        return 0
    tables = [metric_table(records, metric) for metric in METRICS] + [cpu_row(records)]
    for header, rows in tables:
        print(f"\n{format_text_table(header, rows)}")
    print("\n" + "\n".join(notes(records)))
    if args.json:
        # merged records were read from their own data directory, whatever --data-dir
        # says, and the scikit-learn sets from none
        no_files = args.merge or not any(r["dataset"] in DATASETS for r in records)
        ignored = ("json", "rst", "merge") + (("data_dir",) if no_files else ())
        settings = {k: v for k, v in vars(args).items() if k not in ignored}
        write_json(args.json, {"settings": settings, "records": records, **origin})
    if args.rst:
        with open(args.rst, "w", encoding="utf-8") as file:
            for header, rows in tables:
                file.write(format_rst_table(header, rows) + "\n")
            file.write("\n\n".join(notes(records)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
