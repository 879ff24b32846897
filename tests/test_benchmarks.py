"""The benchmark scripts run end to end at tiny sizes and write their JSON (slow).

The scripts are not imported by the package, so nothing else notices when a change to
it breaks one: each runs here as a user runs it, from the repository root, in a
subprocess, on the CPU.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _numbers(value):
    """Every number in a JSON value, recursively."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


SCRIPTS = {
    "density": (["--quick", "--max-iter", "5", "--datasets", "eight_gaussians"], "records"),
    "outliers": (["--suite", "sklearn", "--datasets", "iris", "--seeds", "1"], "records"),
    "objectives": (["--n-samples", "300", "--max-iter", "10"], "results"),
    "samplers": (["--n-steps", "2", "--dim", "2"], "results"),
    "grid_search": (["--n-samples", "200", "--max-iter", "10"], "trainings"),
    "gpu_throughput": (
        ["--device", "cpu", "--image-size", "8", "--channels", "1", "--iterations", "1",
         "--warmup", "1", "--chains", "8", "--mcmc-steps", "1"],
        "mcmc",
    ),
    "scale": (["--quick"], "records"),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_runs_and_writes_its_json(script, tmp_path):
    arguments, records_key = SCRIPTS[script]
    path = tmp_path / f"{script}.json"
    command = [sys.executable, f"benchmarks/{script}.py", *arguments, "--json", str(path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "the script printed no table"
    payload = json.loads(path.read_text())
    assert payload["machine"]["torch"]
    records = payload[records_key]
    assert records
    numbers = _numbers(records)
    assert numbers and all(not math.isnan(n) for n in numbers)
