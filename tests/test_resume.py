"""Faults and resume: a stopped sweep leaves every finished frequency's files valid, and
``--resume`` finishes only the rest, with the numbers of an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_bad_input, spinfem

DEVICES = Path(__file__).parents[1] / "devices"


def _device(tmp_path: Path, num: int = 40) -> Path:
    """py_bar with ``num`` frequencies solved one by one (direct), fields at a few."""
    text = (DEVICES / "py_bar.toml").read_text().replace("num = 17", f"num = {num}")
    text += '\n[solver]\nmethod = "direct"\n'
    path = tmp_path / "dev.toml"
    path.write_text(text)
    return path


def _signals(out: Path) -> np.ndarray:
    """The numeric signal columns of sweep.csv (f_Hz and the contact signals)."""
    import csv

    with open(out / "sweep.csv") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    cols = [i for i, h in enumerate(header) if h == "f_Hz" or h.endswith(("_re", "_im"))
            or "_re_" in h or "_im_" in h]
    assert len(cols) > 2, header
    return np.array([[float(r[i]) for i in cols] for r in rows[1:]])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the same device."""
    tmp = tmp_path_factory.mktemp("reference")
    _device(tmp)
    proc = spinfem("run", "dev.toml", "--out", "ref", "--serial", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return tmp / "ref"


def _run_until(tmp_path: Path, rows: int, sig) -> subprocess.CompletedProcess:
    """Start ``spinfem run`` and send ``sig`` once sweep.csv has ``rows`` rows."""
    # a test run started in the background of a non-interactive shell inherits SIGINT
    # ignored (and Python then never raises KeyboardInterrupt): give the child the default
    proc = subprocess.Popen([sys.executable, "-m", "fem.cli", "run", "dev.toml", "--out",
                             "out", "--serial"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    csv_path = tmp_path / "out" / "sweep.csv"
    t0 = time.time()
    while time.time() - t0 < 120:
        if csv_path.exists() and csv_path.read_text().count("\n") > rows:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopped_sweep_is_valid_and_resumes(tmp_path, reference, sig):
    import meshio

    _device(tmp_path)
    stopped = _run_until(tmp_path, 5, sig)
    assert stopped.returncode == 130, stopped.stderr
    assert "--resume" in stopped.stderr and "Traceback" not in stopped.stderr
    out = tmp_path / "out"
    part, full = _signals(out), _signals(reference)
    assert 5 <= len(part) < len(full)
    # every finished row is complete and equal to the uninterrupted run's (same direct
    # solves: equal to rounding)
    np.testing.assert_allclose(part, full[:len(part)], rtol=1e-12, atol=0)
    assert not list(out.rglob("*.tmp*")), "a half-written file was left"
    for vtu in (out / "sweep").glob("*.vtu"):
        meshio.read(vtu)  # every VTU written is whole

    resumed = spinfem("run", "dev.toml", "--out", "out", "--serial", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_after_frequencies"] == len(part)
    np.testing.assert_allclose(_signals(out), full, rtol=1e-12, atol=0)
    ref_pvd = (reference / "sweep.pvd").read_text()
    assert (out / "sweep.pvd").read_text() == ref_pvd  # every field frequency listed once
    for name in ("profiles.csv", "decay_lengths.csv"):
        a = np.genfromtxt(out / name, delimiter=",", skip_header=1)
        b = np.genfromtxt(reference / name, delimiter=",", skip_header=1)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


def test_torn_row_is_dropped_on_resume(tmp_path, reference):
    """A run killed mid-write (a torn last line) resumes from its last whole row."""
    import shutil

    _device(tmp_path)
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    lines = (out / "sweep.csv").read_text().split("\n")
    (out / "sweep.csv").write_text("\n".join(lines[:8]) + "\n" + lines[8][:15])
    (out / "summary.json").unlink()
    proc = spinfem("run", "dev.toml", "--out", "out", "--serial", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["resumed_after_frequencies"] == 7
    np.testing.assert_allclose(_signals(out), _signals(reference), rtol=1e-12, atol=0)


def test_resume_refused_when_the_device_file_changed(tmp_path, reference):
    import shutil

    path = _device(tmp_path)
    shutil.copytree(reference, tmp_path / "out")
    path.write_text(path.read_text().replace("chi_m = 0.3", "chi_m = 0.31"))
    proc = spinfem("run", "dev.toml", "--out", "out", "--resume", cwd=tmp_path)
    assert_bad_input(proc, "--resume: the device file changed")
    assert not (tmp_path / "meshes").exists()


def test_resume_refused_without_a_run(tmp_path):
    _device(tmp_path)
    proc = spinfem("run", "dev.toml", "--out", "nothing", "--resume", cwd=tmp_path)
    assert_bad_input(proc, "holds no run to resume")
