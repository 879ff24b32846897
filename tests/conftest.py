"""Shared fixtures: tiny, fast estimator settings and the gpu marker's skip."""

import pytest
import torch

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
