"""Grid search over temperature: wall time with and without ``memory``.

Temperature is read at inference, so with ``memory`` a ``GridSearchCV`` over it
trains one network per fold and only re-scores the others. This script runs the
same 5-temperature x 5-fold search on 8 Gaussians twice, with and without a
``joblib.Memory`` cache, checks that the two give the same ``cv_results_``, and
prints the wall times and the number of trainings::

    OMP_NUM_THREADS=1 python benchmarks/grid_search.py --max-iter 500 --json grid.json
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from _common import format_text_table, write_json
from skgebm import GEBMEstimator
from skgebm.datasets import make_eight_gaussians

TEMPERATURES = [0.5, 0.75, 1.0, 1.5, 2.0]


def run_search(X, max_iter, memory, n_jobs):
    search = GridSearchCV(
        GEBMEstimator(max_iter=max_iter, memory=memory, random_state=0),
        {"temperature": TEMPERATURES},
        cv=KFold(5, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )
    start = time.perf_counter()
    search.fit(X)
    return search, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--max-iter", type=int, default=2000, help="GEBMEstimator.max_iter")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args()

    X = make_eight_gaussians(args.n_samples, random_state=0)
    with tempfile.TemporaryDirectory() as cache:
        cached, cached_time = run_search(X, args.max_iter, cache, args.n_jobs)
        n_trainings = len(list(Path(cache).rglob("output.pkl")))
    plain, plain_time = run_search(X, args.max_iter, None, args.n_jobs)
    same = np.array_equal(
        cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    n_fits = len(TEMPERATURES) * 5 + 1  # the grid, then the refit on all data
    rows = [
        ["without memory", f"{plain_time:.1f}", str(n_fits)],
        ["with memory", f"{cached_time:.1f}", str(n_trainings)],
    ]
    print(
        f"GridSearchCV, {len(TEMPERATURES)} temperatures x 5 folds, 8 Gaussians "
        f"n={args.n_samples}, max_iter={args.max_iter}, n_jobs={args.n_jobs}"
    )
    print(format_text_table(["search", "wall s", "trainings"], rows))
    print(f"speed-up {plain_time / cached_time:.1f}x; identical cv_results_: {same}")
    print(f"best temperature {cached.best_params_['temperature']}")
    if args.json:
        write_json(
            args.json,
            {
                "settings": vars(args) | {"json": str(args.json)},
                "wall_s": {"without_memory": plain_time, "with_memory": cached_time},
                "trainings": {"without_memory": n_fits, "with_memory": n_trainings},
                "identical_cv_results": bool(same),
                "mean_test_score": cached.cv_results_["mean_test_score"].tolist(),
            },
        )


if __name__ == "__main__":
    main()
