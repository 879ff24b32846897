"""The objective family side by side: KALE, CD, DSM, SSM, NCE and FCE on the same networks.

For each data set (5,000 training / 5,000 test points of 8 Gaussians and of two
moons) every objective trains the same energy on the same base, from the same seed;
the table reports the mean test log-likelihood (nats, in the data's units), the MMD²
of 1,000 samples (after MCMC) to held-out data, and the fit time. The ``base`` row is
the starting point: the base alone (``temperature=inf``) of the KALE fit. With
``--base gaussian`` (the default) the base cannot represent the modes, so the table
measures what each energy learns; ``--base flow`` compares them on top of the
estimator's default flow. ``truth`` is the exact log-density and the noise floor of
MMD² (a second draw of the data). Every MMD² uses one Gaussian kernel,
its bandwidth the median distance within the held-out data, and is the mean over
``N_MMD_DRAWS`` draws of 1,000 samples (one draw's MMD² varies by up to 1e-3 here)::

    OMP_NUM_THREADS=1 python benchmarks/objectives.py --json objectives.json \
        --rst docs/benchmarks/objectives.rst
"""

import argparse
import time
from pathlib import Path

import numpy as np

from _common import N_MMD_DRAWS, format_rst_table, format_text_table, mean_mmd2, write_json
from skgebm import GEBMEstimator
from skgebm.datasets import (
    eight_gaussians_log_density,
    make_eight_gaussians,
    make_two_moons,
    two_moons_log_density,
)
from skgebm.metrics import median_heuristic

OBJECTIVES = ("kale", "cd", "dsm", "ssm", "nce", "fce")
DATASETS = {"8 Gaussians": make_eight_gaussians, "two moons": make_two_moons}
TRUE_LOG_DENSITY = {"8 Gaussians": eight_gaussians_log_density, "two moons": two_moons_log_density}


def evaluate(name, make_data, args):
    X_train = make_data(args.n_samples, random_state=0)
    X_test = make_data(args.n_samples, random_state=1)
    held_out = make_data(1000, random_state=2)
    bandwidth = median_heuristic(held_out)  # one kernel for every method
    rows = []
    for objective in OBJECTIVES:
        est = GEBMEstimator(
            base=args.base, objective=objective, max_iter=args.max_iter, random_state=0
        )
        start = time.perf_counter()
        est.fit(X_train)
        fit_time = time.perf_counter() - start
        rows.append(_row(objective, est, X_test, held_out, bandwidth, fit_time))
        if objective == "kale":
            base = est.set_params(temperature=float("inf"))
            base_row = _row("base", base, X_test, held_out, bandwidth)
    rows.insert(0, base_row)
    truth = TRUE_LOG_DENSITY.get(name)
    rows.append(
        {
            "method": "truth",
            "log_likelihood": float(np.mean(truth(X_test))) if truth else None,
            "mmd2": mean_mmd2(
                [make_data(1000, random_state=3 + d) for d in range(N_MMD_DRAWS)],
                held_out,
                bandwidth,
            ),
            "fit_s": None,
        }
    )
    return [{"data": name} | row for row in rows]


def _row(method, est, X_test, held_out, bandwidth, fit_time=None):
    return {
        "method": method,
        "log_likelihood": est.score(X_test),
        "mmd2": mean_mmd2(
            [est.sample(1000, random_state=d) for d in range(N_MMD_DRAWS)], held_out, bandwidth
        ),
        "fit_s": fit_time,
    }


def _cell(value, fmt):
    return "–" if value is None else format(value, fmt)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="gaussian", choices=["gaussian", "flow"])
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--rst", type=Path, help="write the table here as reStructuredText")
    args = parser.parse_args()

    start = time.perf_counter()
    results = [row for name, make in DATASETS.items() for row in evaluate(name, make, args)]
    header = ["data", "method", "test log-lik", "MMD² x 1e3", "fit s"]
    rows = [
        [
            r["data"],
            r["method"],
            _cell(r["log_likelihood"], ".3f"),
            _cell(None if r["mmd2"] is None else 1e3 * r["mmd2"], ".2f"),
            _cell(r["fit_s"], ".1f"),
        ]
        for r in results
    ]
    print(f"objectives on a {args.base} base, max_iter={args.max_iter}, n={args.n_samples}")
    print(format_text_table(header, rows))
    print(f"total {time.perf_counter() - start:.0f} s")
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    if args.json:
        write_json(args.json, {"settings": settings, "results": results})
    if args.rst:
        args.rst.write_text(format_rst_table(header, rows), encoding="utf-8")


if __name__ == "__main__":
    main()
