"""Atomic file writes: a temporary file in the same folder, then a rename.

A writer killed part-way leaves every finished file whole and no half-written one.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name is ``.<name>.<random>.part<suffix>`` (``suffix`` for writers
    that infer the format from the extension, e.g. ``".msh"``); it is removed if the
    block raises or is interrupted.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + suffix,
                                   dir=path.parent)
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
    for pattern in (".*.part", ".*.part.*"):
        for p in Path(folder).rglob(pattern):
            p.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
