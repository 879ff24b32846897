"""Scale: fit time and peak memory of GEBMEstimator against the number of rows.

The data are ``n`` rows of a 10-dimensional Gaussian mixture in ``float32`` (1e6 rows are
40 MB). Every measurement runs in a fresh subprocess, so that the resident-set high-water
mark (``resource.getrusage(...).ru_maxrss``) belongs to that measurement alone. Two memory
figures are reported, both above the process's footprint just before the measured call
(imports done, data generated):

- ``python MB``: the peak of :mod:`tracemalloc`, which sees NumPy's allocations (the
  copies of the data) but not torch's;
- ``rss MB``: the growth of the resident-set high-water mark, which sees everything
  (torch's tensors and activations, the allocator's slack).

Measurements:

- ``fit``: ``fit`` with a fixed ``max_iter`` (each iteration is one minibatch), for
  ``n`` = 1e4, 1e5, 1e6 at ``max_iter=300``, and ``max_iter`` = 150, 300, 600 at
  ``n=1e5``. On these clustered data a fit first picks a Gaussian mixture for the
  flow's second start (:func:`~skgebm.networks.select_mixture`, on at most 5,000 of
  the training rows) and then trains twice, so the table splits the time: the
  mixture's pick (``mixture s``), and the training iterations of both trainings
  (``ms/iter``, the rest of the fit over their total), which should be about flat in
  ``n``. The same fit at ``n=1e4`` with ``n_jobs=2`` (the two trainings at once, in two
  processes of one thread each) shows what a second core saves (``seconds`` only).
- ``score``: ``score_samples`` on 1e6 rows of a model fitted on 1e4.
- ``sample``: ``sample(n_sample)`` from that model, ``--mcmc-steps`` MCMC steps.

Run from the repository root, one thread per process (timings on a shared machine are
inflated by the other processes)::

    OMP_NUM_THREADS=1 python benchmarks/scale.py --json scale.json
    python benchmarks/scale.py --quick
"""

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from _common import format_text_table, write_json

N_FEATURES = 10
N_COMPONENTS = 8
FIT_RUNS = ((10**4, 300), (10**5, 300), (10**6, 300), (10**5, 150), (10**5, 600))
QUICK_FIT_RUNS = ((10**3, 20), (10**4, 20), (10**4, 40))
#: ``(n, max_iter)`` of the fit measured again with ``n_jobs=2``
PARALLEL_FIT_RUN = (10**4, 300)
QUICK_PARALLEL_FIT_RUN = (10**4, 20)
N_SCORE = 10**6
N_SAMPLE = 10**4
N_INFERENCE_FIT = 10**4


def make_mixture(n_samples, random_state=0):
    """``n_samples`` rows of a ``N_FEATURES``-dimensional Gaussian mixture, float32.

    Eight unit-variance components with means drawn uniformly in ``[-5, 5]^d``; built in
    float32 throughout, so the only allocation is the returned array (and the labels).

    Examples
    --------
    >>> X = make_mixture(1000)
    >>> X.shape, X.dtype
    ((1000, 10), dtype('float32'))
    """
    rng = np.random.default_rng(random_state)
    means = rng.uniform(-5, 5, size=(N_COMPONENTS, N_FEATURES)).astype(np.float32)
    X = means[rng.integers(N_COMPONENTS, size=n_samples)]
    X += rng.standard_normal(X.shape, dtype=np.float32)
    return X


def _estimator(max_iter, n_mcmc_steps=100, **params):
    from skgebm import GEBMEstimator

    return GEBMEstimator(
        max_iter=max_iter, n_mcmc_steps=n_mcmc_steps, device="cpu", random_state=0, **params
    )


def _warm_up():
    """Fit, score and sample a tiny model: first calls pay one-off costs (lazy imports,
    kernel set-up) that are not part of any measurement."""
    X = make_mixture(500, random_state=3)
    estimator = _estimator(2, n_mcmc_steps=2, n_partition_samples=256).fit(X)
    estimator.score_samples(X)
    estimator.sample(10)


def _maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _reset_maxrss():
    """Reset the resident-set high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _measure(name, call):
    """Seconds, tracemalloc peak (MB) and high-water RSS growth (MB) of ``call()``."""
    reset = _reset_maxrss()
    rss_before = _maxrss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, {
        "measurement": name,
        "seconds": seconds,
        "python_mb": python_peak,
        "rss_mb": _maxrss_mb() - rss_before,
        "rss_before_mb": rss_before,
        "rss_reset": reset,
    }


def run_fit(n, max_iter, n_jobs=None):
    """Fit on ``n`` rows for ``max_iter`` iterations; one record, with the seconds of the
    mixture's pick and the iterations of every training (both starts) counted apart
    (the iterations only in this process: not with ``n_jobs`` > 1)."""
    from skgebm import _fitting

    X = make_mixture(n)
    select, fit_network = _fitting.select_mixture, _fitting._fit_network
    counts = {"mixture_seconds": 0.0, "n_iter_total": 0}

    def timed_select(*args, **kwargs):
        start = time.perf_counter()
        try:
            return select(*args, **kwargs)
        finally:
            counts["mixture_seconds"] += time.perf_counter() - start

    def counted_fit(*args, **kwargs):
        net = fit_network(*args, **kwargs)
        counts["n_iter_total"] += net.n_iter_
        return net

    _fitting.select_mixture, _fitting._fit_network = timed_select, counted_fit
    estimator, record = _measure("fit", lambda: _estimator(max_iter, n_jobs=n_jobs).fit(X))
    if n_jobs is not None:
        record["measurement"], counts["n_iter_total"] = f"fit, n_jobs={n_jobs}", None
    return [{**record, **counts, "n": n, "max_iter": max_iter, "n_iter": estimator.n_iter_}]


def _inference_model(path, max_iter, mcmc_steps):
    """The model of the inference measurements: fitted on 1e4 rows once, then loaded."""
    if os.path.exists(path):
        with open(path, "rb") as file:
            return pickle.load(file)
    estimator = _estimator(max_iter, n_mcmc_steps=mcmc_steps)
    estimator.fit(make_mixture(N_INFERENCE_FIT, random_state=1))
    with open(path, "wb") as file:
        pickle.dump(estimator, file)
    return estimator


def run_inference(measurement, n, max_iter, mcmc_steps, model_path):
    """One inference measurement of the model of :func:`_inference_model`.

    ``"log_partition"`` is the first call's estimate from ``n_partition_samples`` base
    samples (``n`` is ignored); ``"score_samples"`` scores ``n`` rows once the partition
    estimate is cached; ``"sample"`` draws ``n`` rows.
    """
    estimator = _inference_model(model_path, max_iter, mcmc_steps)
    record = {"n": n, "max_iter": max_iter}
    if measurement == "log_partition":
        value, stats = _measure(measurement, estimator.log_partition)
        return [{**record, **stats, "n": estimator.n_partition_samples,
                 "finite": bool(np.isfinite(value))}]
    if measurement == "score_samples":
        estimator.log_partition()
        X = make_mixture(n, random_state=2)
        values, stats = _measure(measurement, lambda: estimator.score_samples(X))
    else:
        values, stats = _measure(
            f"sample ({mcmc_steps} MCMC steps)", lambda: estimator.sample(n, random_state=0)
        )
    return [{**record, **stats, "finite": bool(np.isfinite(values).all())}]


def run_worker(task, **kwargs):
    """Run one task in this process (one thread) and return its records."""
    import torch

    torch.set_num_threads(1)
    _warm_up()
    return run_fit(**kwargs) if task == "fit" else run_inference(**kwargs)


def _in_subprocess(task, **kwargs):
    """Run ``task`` in a fresh single-threaded interpreter; its records, or an error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps({"task": task, **kwargs})],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        error = (completed.stderr.strip().splitlines() or [f"exit {completed.returncode}"])[-1]
        return [{"measurement": task, **kwargs, "error": error}]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _row(record):
    n, max_iter = f"{record['n']:.0e}", str(record.get("max_iter", ""))
    if "error" in record:
        return [record["measurement"], n, max_iter, record["error"], "", "", "", ""]
    if record["measurement"].startswith("fit"):
        training = record["seconds"] - record["mixture_seconds"]
        per_unit = f"mixture {record['mixture_seconds']:.1f} s"
        if record["n_iter_total"]:
            per_unit = f"{1e3 * training / record['n_iter_total']:.1f} ms/iter, {per_unit}"
    else:
        per_unit = f"{1e6 * record['seconds'] / record['n']:.1f} µs/row"
    return [
        record["measurement"],
        n,
        max_iter,
        f"{record['seconds']:.1f}",
        per_unit,
        f"{record['python_mb']:.0f}",
        f"{record['rss_mb']:.0f}",
        f"{record['rss_before_mb']:.0f}",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--n-score", type=int, default=N_SCORE, help="rows scored")
    parser.add_argument("--n-sample", type=int, default=N_SAMPLE, help="rows sampled")
    parser.add_argument("--mcmc-steps", type=int, default=10, help="MCMC steps of sample")
    parser.add_argument("--json", help="also write the records to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(**json.loads(args.worker))))
        return

    fit_runs = QUICK_FIT_RUNS if args.quick else FIT_RUNS
    n_score, n_sample = (10**4, 10**3) if args.quick else (args.n_score, args.n_sample)
    max_iter = 20 if args.quick else 300
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        inference = dict(
            max_iter=max_iter, mcmc_steps=args.mcmc_steps, model_path=os.path.join(tmp, "model.pkl")
        )
        jobs = [("fit", dict(n=n, max_iter=max_iter)) for n, max_iter in fit_runs]
        n, parallel_iter = QUICK_PARALLEL_FIT_RUN if args.quick else PARALLEL_FIT_RUN
        jobs.append(("fit", dict(n=n, max_iter=parallel_iter, n_jobs=2)))
        jobs += [
            ("inference", dict(measurement="log_partition", n=0, **inference)),
            ("inference", dict(measurement="score_samples", n=n_score, **inference)),
            ("inference", dict(measurement="sample", n=n_sample, **inference)),
        ]
        for task, kwargs in jobs:
            for record in _in_subprocess(task, **kwargs):
                print(record, file=sys.stderr, flush=True)
                records.append(record)
    header = ["measurement", "n", "max_iter", "seconds", "per unit", "python MB",
              "rss peak MB", "rss before MB"]
    print(format_text_table(header, [_row(record) for record in records]))
    if args.json:
        write_json(args.json, {"n_features": N_FEATURES, "records": records})


if __name__ == "__main__":
    main()
