"""Helpers of the benchmark scripts: timing, tables and JSON.

Run the scripts from the repository root; they import this module as ``_common``.
"""

import json
import time
from contextlib import contextmanager

import numpy as np

__all__ = [
    "format_rst_table",
    "format_text_table",
    "mean_std",
    "read_json",
    "timer",
    "write_json",
]


@contextmanager
def timer(times, name):
    """Record the wall-clock seconds of the ``with`` block in ``times[name]``."""
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start


def mean_std(values, precision):
    """``"mean ± std"`` of the finite ``values`` (``"–"`` when there are none)."""
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


def write_json(path, payload):
    """Write ``payload`` to ``path`` as indented JSON."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(payload, file, indent=2, allow_nan=True)
        file.write("\n")


def read_json(path):
    """The payload of a file written by :func:`write_json`."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)
