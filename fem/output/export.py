"""Result files: atomic CSV and text writes, complex values as re / im / abs / phase.

A run killed part-way leaves every finished file whole and no half-written one
(:mod:`fem.core.atomic`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..core.atomic import atomic_path, remove_partial, write_text

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


def _csv_line(row: Sequence) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [repr(float(v)) if isinstance(v, float) else v for v in row])
    return buf.getvalue()


class CsvAppender:
    """A CSV file that grows one row at a time: the header is written atomically, then
    each row is appended with one write and flushed, so a sweep stopped at any point
    leaves every finished row complete (at most a torn last line, which
    :func:`finished_rows` drops), and a sweep of N frequencies costs N small writes,
    not N rewrites."""

    def __init__(self, path: str | Path, header: Sequence[str], rows: Iterable[Sequence] = ()):
        self.header = list(header)
        self.path = write_csv(path, header, rows)
        self._fh = open(self.path, "a", encoding="utf-8", newline="")

    def append(self, row: Sequence) -> None:
        self._fh.write(_csv_line(row))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def finished_rows(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """Header and complete rows of a CSV written by :class:`CsvAppender` (a torn last
    line, from a run killed mid-write, is left out)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is torn (or empty)
    rows = list(csv.reader(complete))
    if not rows:
        return [], []
    header, body = rows[0], rows[1:]
    return header, [r for r in body if len(r) == len(header)]


def complex_columns(prefix: str, unit: str) -> list[str]:
    """Column names of a complex quantity: re, im, abs (with unit) and phase [rad]."""
    return [f"{prefix}_re_{unit}", f"{prefix}_im_{unit}", f"{prefix}_abs_{unit}",
            f"{prefix}_phase_rad"]


def complex_values(z) -> list[float]:
    """``[re, im, abs, phase]`` of a complex number."""
    import cmath

    z = complex(z)
    return [z.real, z.imag, abs(z), cmath.phase(z)]
