"""Shared fixtures: tiny, fast estimator settings and the gpu marker's skip."""

import os

import pytest
import torch
from threadpoolctl import threadpool_limits

# The tests train tiny networks, for which a second intra-op thread costs more than it
# gains, and on a shared CI core it oversubscribes (measured 5-15x slower fits).
torch.set_num_threads(1)

#: Settings that train in well under a second: for API and contract tests, not quality.
FAST = dict(
    max_iter=30,
    batch_size=32,
    n_burst_steps=2,
    base_hidden_layer_sizes=(16,),
    energy_hidden_layer_sizes=(16,),
    n_flow_transforms=1,
    n_partition_samples=1024,
    n_mcmc_steps=5,
    device="cpu",
)


#: Test processes of ``-n auto`` at most: each holds its own torch (about 650 MB).
MAX_TEST_PROCESSES = 4


def pytest_xdist_auto_num_workers(config):
    """``pytest -n auto`` (the default options): a process per core, at most
    :data:`MAX_TEST_PROCESSES`. The tests run one thread each, so on CI's two cores two
    processes take 513 s where one took 913 s. The cores this process may run on, where
    the system says (a container's CPU set), else all of them."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, MAX_TEST_PROCESSES)


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """One thread for the BLAS and OpenMP pools of NumPy, SciPy and scikit-learn too, as
    for torch: with the tests in two processes on two cores (``pytest -n 2``), a second
    thread of a Gaussian mixture fit spins on the other process's core. Set once the
    test modules are imported, since a pool is limited only once its library is loaded."""
    with threadpool_limits(1):
        yield


@pytest.fixture
def fast_params():
    return dict(FAST)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
