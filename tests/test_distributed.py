"""A real distributed sweep: ``spinfem run --scheduler`` on a Dask cluster of separate
processes (``dask scheduler`` + two ``dask worker``), against ``spinfem run --serial``.

The cluster is started from the command line exactly as a user would start it, on
127.0.0.1 and a free port; every process runs in its own session (process group), so
teardown kills all of it, a nanny's worker child included, also when a test fails.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

VENV_BIN = Path(sys.executable).parent
DASK = str(VENV_BIN / "dask")
ROOT = Path(__file__).resolve().parents[1]
PY_BAR = ROOT / "devices" / "py_bar.toml"
#: one BLAS/OpenMP thread per process: this is a small machine, and one thread per
#: worker is what ``--nthreads 1`` promises
QUIET_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
#: the survivor is a nanny-managed worker (the usual setup); the one the test kills runs
#: without a nanny, so SIGKILL really ends the worker and nothing restarts it
VICTIM = "victim"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    fh = open(log, "wb")
    try:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=QUIET_ENV, cwd=log.parent)
    finally:
        fh.close()  # the child holds its own copy


def _kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every process group, then SIGKILL whatever is left of it."""
    for p in procs:
        _kill_group(p, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
    for p in procs:  # the group, not only its leader: a nanny's worker child too
        _kill_group(p, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=5)


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                     for p in sorted(folder.glob("*.log")))


class Cluster:
    """A scheduler and two workers, each its own process group."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}

    def procs(self) -> list[subprocess.Popen]:
        return [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]

    def start(self) -> None:
        self.scheduler = _start([DASK, "scheduler", "--host", "127.0.0.1",
                                 "--port", str(self.port), "--no-dashboard"],
                                self.folder / "scheduler.log")
        deadline = time.monotonic() + 30
        while True:  # until it accepts connections
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited:\n{_logs(self.folder)}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler not listening:\n{_logs(self.folder)}")
            time.sleep(0.1)
        common = ["--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                  "--death-timeout", "60"]  # a worker whose scheduler is gone exits on its own
        for name, nanny in (("survivor", "--nanny"), (VICTIM, "--no-nanny")):
            (self.folder / name).mkdir()
            self.workers[name] = _start(
                [DASK, "worker", self.address, *common, nanny, "--name", name,
                 "--local-directory", str(self.folder / name)],
                self.folder / f"{name}.log")

        from distributed import Client

        with Client(self.address, timeout=30) as client:
            try:
                client.wait_for_workers(2, timeout=60)
            except TimeoutError:
                raise RuntimeError(f"workers did not join:\n{_logs(self.folder)}") from None


@pytest.fixture
def cluster(tmp_path):
    """A running ``dask scheduler`` with two ``dask worker`` processes on 127.0.0.1."""
    folder = tmp_path / "cluster"
    folder.mkdir()
    c = Cluster(folder)
    try:
        c.start()
        yield c
    finally:
        _stop(c.procs())
    assert all(p.poll() is not None for p in c.procs())


# ------------------------------------------------------------------------ helpers
def _spinfem(*args: str, cwd: Path, timeout: float = 50) -> subprocess.CompletedProcess:
    """``spinfem`` (``python -m fem.cli``, as conftest.spinfem) with a time limit."""
    return subprocess.run([sys.executable, "-m", "fem.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=QUIET_ENV)


def _device(tmp_path: Path, num: int | None = None) -> Path:
    """py_bar.toml with ``[solver] method = "direct"`` (and ``num`` frequencies)."""
    text = PY_BAR.read_text()
    if num is not None:
        assert "num = 17" in text
        text = text.replace("num = 17", f"num = {num}")
    path = tmp_path / "py_bar.toml"
    path.write_text(text + '\n[solver]\nmethod = "direct"\n')
    return path


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and complete rows of a (possibly still growing) sweep.csv."""
    if not path.exists():
        return [], []
    lines = path.read_text().split("\n")[:-1]  # after the last newline: torn or empty
    rows = list(csv.reader(lines))
    if not rows:
        return [], []
    return rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]


def _signals(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Frequencies, every complex contact signal (from its ``_re_``/``_im_`` columns)
    and the solver method per row of sweep.csv."""
    header, rows = _rows(path)
    assert header and header[0] == "f_Hz", header
    col = {name: i for i, name in enumerate(header)}
    f = np.array([float(r[0]) for r in rows])
    signals = {}
    for name in header:
        if "_re_" in name:
            im = name.replace("_re_", "_im_", 1)
            assert im in col, header
            signals[name.split("_re_")[0]] = np.array(
                [complex(float(r[col[name]]), float(r[col[im]])) for r in rows])
    assert signals, header
    return f, signals, [r[col["method"]] for r in rows]


def _assert_same_sweep(dist: Path, local: Path, n: int) -> None:
    f_d, sig_d, meth_d = _signals(dist / "sweep.csv")
    f_l, sig_l, meth_l = _signals(local / "sweep.csv")
    assert len(f_d) == len(f_l) == n
    np.testing.assert_array_equal(f_d, f_l)
    assert set(meth_d) == set(meth_l) == {"direct"}
    assert sig_d.keys() == sig_l.keys()
    for name in sig_l:
        # Both runs factor the same assembled matrix at each frequency with the same
        # SuperLU (one thread per process) and take the same contact means of mu in the
        # client process: the numbers are normally bit for bit equal.  rtol 1e-12 (on
        # the complex value, so a near-zero real or imaginary part cannot fail alone)
        # only leaves room for round-off from a different process or code path (e.g.
        # SIMD alignment in BLAS); any real difference (a lost, repeated or shuffled
        # frequency, another solver) is many orders larger.
        np.testing.assert_allclose(sig_d[name], sig_l[name], rtol=1e-12, atol=0,
                                   err_msg=name)


def _execution(out: Path) -> str:
    import json

    return json.loads((out / "summary.json").read_text())["solver"]["execution"]


# ------------------------------------------------------------------------- tests
def test_scheduler_sweep_equals_serial(cluster, tmp_path):
    device = _device(tmp_path)  # 17 frequencies, 2D bar, direct solver
    dist = _spinfem("run", str(device), "--scheduler", cluster.address,
                    "--out", str(tmp_path / "dist"), "--mesh-dir", str(tmp_path / "m"),
                    cwd=tmp_path)
    assert dist.returncode == 0, dist.stderr + _logs(cluster.folder)
    local = _spinfem("run", str(device), "--serial", "--out", str(tmp_path / "local"),
                     "--mesh-dir", str(tmp_path / "m"), cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    assert _execution(tmp_path / "dist") == "dask"
    assert _execution(tmp_path / "local") == "in-process"
    _assert_same_sweep(tmp_path / "dist", tmp_path / "local", 17)


def test_sweep_survives_a_killed_worker(cluster, tmp_path):
    from distributed import Client

    n = 200  # 8 tasks of 25 frequencies on 2 workers, about 2 s each: time to kill one
    device = _device(tmp_path, num=n)
    out = tmp_path / "dist"
    log = open(tmp_path / "run.log", "w+")
    run = subprocess.Popen(
        [sys.executable, "-m", "fem.cli", "run", str(device), "--scheduler", cluster.address,
         "--out", str(out), "--mesh-dir", str(tmp_path / "m")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=QUIET_ENV,
        start_new_session=True)
    victim = cluster.workers[VICTIM]
    try:
        with Client(cluster.address, timeout=30) as client:
            addr = next(a for a, w in client.scheduler_info()["workers"].items()
                        if w["name"] == VICTIM)
            # mid-sweep: rows have come back, and the victim is working on a task
            deadline = time.monotonic() + 40
            while len(_rows(out / "sweep.csv")[1]) < 1 or not client.processing(addr)[addr]:
                assert run.poll() is None, "the sweep ended before a worker was killed"
                assert time.monotonic() < deadline, "the sweep did not get going"
                time.sleep(0.02)
            rows_at_kill = len(_rows(out / "sweep.csv")[1])
            _kill_group(victim)
            assert victim.wait(timeout=10) == -signal.SIGKILL  # the worker process is dead
            assert rows_at_kill < n, "the sweep was already done"
            # the scheduler notices the loss (closed connection) and reschedules
            deadline = time.monotonic() + 20
            while addr in client.scheduler_info()["workers"]:
                assert time.monotonic() < deadline, "the scheduler still lists the killed worker"
                time.sleep(0.05)
        rc = run.wait(timeout=45)
    finally:
        _kill_group(run)  # only if it is still running (a failed assertion)
        run.wait(timeout=10)
        log.seek(0)
        run_log = log.read()
        log.close()
    assert rc == 0, run_log + _logs(cluster.folder)
    assert _execution(out) == "dask"
    assert len(_rows(out / "sweep.csv")[1]) == n

    local = _spinfem("run", str(device), "--serial", "--out", str(tmp_path / "local"),
                     "--mesh-dir", str(tmp_path / "m"), cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    _assert_same_sweep(out, tmp_path / "local", n)
