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


def writable_folder(folder: str | Path) -> list[Path]:
    """Make sure ``folder`` can take a run's files before any work starts: create it (and
    missing parents) and write a probe file there.  Returns the folders created, which
    :func:`remove_empty` takes away again if the run stops before writing anything.

    Raises
    ------
    SpinfemError
        ``folder`` is an existing file, or cannot be created or written.
    """
    import tempfile

    from .errors import SpinfemError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SpinfemError(f"--out {folder}: exists and is not a folder")
    missing, p = [], folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    created: list[Path] = []
    try:
        for m in reversed(missing):
            m.mkdir()
            created.append(m)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".spinfem-probe"):
            pass
    except OSError as exc:
        remove_empty(created)
        raise SpinfemError(f"--out {folder}: cannot write there "
                           f"({exc.strerror or exc})") from None
    return created


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders of ``folders`` that are (still) empty, deepest first."""
    for f in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            f.rmdir()
        except OSError:
            pass
