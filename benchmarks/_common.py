"""Helpers of the benchmark scripts: timing, sample quality, tables and JSON.

Run the scripts from the repository root; they import this module as ``_common``.
"""

import json
import os
import platform
import time
from contextlib import contextmanager

import numpy as np
import sklearn
import torch
import zuko
from skgebm.metrics import mmd2

__all__ = [
    "N_MMD_DRAWS",
    "format_rst_table",
    "format_text_table",
    "machine",
    "mean_mmd2",
    "mean_std",
    "merged_machine",
    "read_json",
    "timer",
    "write_json",
]

#: Draws of samples whose MMD² is averaged: one draw's varies by about 4e-4 on the 2-D
#: toys, as much as a GEBM differs from its base.
N_MMD_DRAWS = 5


@contextmanager
def timer(times, name):
    """Record the wall-clock seconds of the ``with`` block in ``times[name]``."""
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start


def mean_mmd2(sample_sets, reference, bandwidth):
    """Mean MMD² to ``reference`` over ``sample_sets`` (independent draws of a model)."""
    return float(np.mean([mmd2(s, reference, bandwidth=bandwidth) for s in sample_sets]))


def mean_std(values, precision):
    """``"mean ± std"`` of the ``values`` that are not None (``"–"`` when there are
    none); the population standard deviation of the seeds (``ddof=0``), and a NaN shows."""
    values = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if not values.size:
        return "–"
    if values.size == 1:
        return f"{values[0]:.{precision}f}"
    return f"{values.mean():.{precision}f} ± {values.std():.{precision}f}"


def format_text_table(header, rows):
    """Rows of strings as an aligned plain-text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines
    )


def format_rst_table(header, rows):
    """Rows of strings as a reStructuredText ``list-table``."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for line in [header, *rows]:
        lines.append(f"   * - {line[0]}")
        lines.extend(f"     - {cell}" for cell in line[1:])
    return "\n".join(lines) + "\n"


def machine():
    """The processor and library versions a record was made with: training amplifies
    float rounding, so a record reproduces to the bit only on the same of both."""
    processor = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            processor = next(line for line in file if line.startswith("model name"))
        processor = processor.split(":", 1)[1].strip()
    except (OSError, StopIteration):
        pass
    return {
        "processor": processor,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{m.__name__: m.__version__ for m in (np, sklearn, torch, zuko)},
    }


def merged_machine(runs):
    """``{"machine": ...}`` of a merge of ``runs`` (payloads of :func:`read_json`): the
    runs' machine, a list of them where they differ, None for files from before records
    named theirs; not the machine that merges."""
    machines = {json.dumps(run.get("machine")): run.get("machine") for run in runs}
    machines = list(machines.values())
    return {"machine": machines[0] if len(machines) == 1 else machines}


def write_json(path, payload):
    """Write ``payload`` to ``path`` as indented JSON, with the :func:`machine` that
    wrote it unless the payload names its own (the runs a merge was made of)."""
    payload = {**payload, "machine": payload.get("machine", machine())}
    with open(path, "w", encoding="utf-8") as file:
        json.dump(payload, file, indent=2, allow_nan=True)
        file.write("\n")


def read_json(path):
    """The payload of a file written by :func:`write_json`."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)
