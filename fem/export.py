"""Result files: atomic CSV and text writes, complex values as re / im / abs / phase.

A run killed part-way leaves every finished file whole and no half-written one
(:mod:`fem.atomic`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from .atomic import atomic_path, remove_partial, write_text

__all__ = ["atomic_path", "complex_columns", "complex_values", "remove_partial", "write_csv",
           "write_text"]


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a CSV file atomically; floats with full precision (``repr``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])
    return write_text(path, buf.getvalue())


def complex_columns(prefix: str, unit: str) -> list[str]:
    """Column names of a complex quantity: re, im, abs (with unit) and phase [rad]."""
    return [f"{prefix}_re_{unit}", f"{prefix}_im_{unit}", f"{prefix}_abs_{unit}",
            f"{prefix}_phase_rad"]


def complex_values(z) -> list[float]:
    """``[re, im, abs, phase]`` of a complex number."""
    import cmath

    z = complex(z)
    return [z.real, z.imag, abs(z), cmath.phase(z)]
