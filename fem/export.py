"""Atomic writes of result files: a temporary file in the same folder, then a rename.

A run killed part-way leaves every finished file whole and no half-written one.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def remove_partial(folder: str | Path) -> None:
    """Remove temporary ``.*.part`` files that a killed writer left in ``folder`` and
    its subfolders."""
    for p in Path(folder).rglob(".*.part"):
        p.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


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
