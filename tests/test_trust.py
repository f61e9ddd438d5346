"""Trust: valid input never crashes, a plain script sweeps, output grows row by row."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import assert_bad_input, spinfem

DEVICES = Path(__file__).parents[1] / "devices"


def test_detector_at_the_channel_end_runs(tmp_path):
    """A valid spin valve whose detector leaves no channel beyond it for the decay
    read-out (spacing 2850 nm on a 3000 nm channel) runs: exit 0, every file written."""
    text = (DEVICES / "nlsv_py_cu_2d.toml").read_text()
    text = text.replace("spacing_nm = 500", "spacing_nm = 2850")
    text = text.replace(text[text.index("f_Hz"):].splitlines()[0], "f_Hz = [1e9, 1e10]")
    (tmp_path / "dev.toml").write_text(text)
    assert spinfem("check", "dev.toml", cwd=tmp_path).returncode == 0
    proc = spinfem("run", "dev.toml", "--out", "out", "--serial", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "summary.json").exists()


UNGUARDED = """
import fem
device = fem.load_device({path!r})
results = list(fem.sweep(device, parallel=True))
print("swept", len(results))
"""


def test_script_without_main_guard_sweeps(tmp_path):
    """The five-line script most people write first (no ``if __name__ == "__main__":``)
    sweeps on the embedded Dask cluster instead of dying in "Nanny failed to start"."""
    script = tmp_path / "sweep_me.py"
    script.write_text(UNGUARDED.format(path=str(DEVICES / "py_bar.toml")))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "swept 17" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_started_unguarded_reads_the_script(tmp_path):
    """The guard detection: the calling line of ``__main__`` inside or outside
    ``if __name__ == "__main__":`` (either spelling)."""
    probe = ("from fem.solvers.sweep import started_unguarded\n"
             "print('top', started_unguarded())\n"
             "def f():\n    return started_unguarded()\n"
             "if '__main__' == __name__:\n    print('guarded', f())\n")
    script = tmp_path / "probe.py"
    script.write_text(probe)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=120).stdout
    assert "top True" in out and "guarded False" in out


def test_sweep_csv_grows_by_appending(tmp_path):
    """Rows are appended to the same file (never rewritten), and a row torn by a kill
    mid-write is dropped on reading while every finished row stays."""
    from fem.output.export import CsvAppender, finished_rows

    path = tmp_path / "sweep.csv"
    with CsvAppender(path, ["f_Hz", "x"]) as table:
        inode = path.stat().st_ino
        sizes = []
        for i in range(5):
            table.append([float(i), 0.1 * i])
            sizes.append(path.stat().st_size)
            assert path.stat().st_ino == inode  # the same file: appended, not replaced
    assert sizes == sorted(sizes) and len(set(sizes)) == 5
    with open(path, "a") as fh:
        fh.write("5.0,0.")  # a torn last line
    header, rows = finished_rows(path)
    assert header == ["f_Hz", "x"] and [float(r[0]) for r in rows] == [0, 1, 2, 3, 4]
    assert float(rows[3][1]) == 0.1 * 3


RESOURCE_CASES = {
    # a 3D stack at a thousandth of a nanometre: ~1e16 nodes
    "tiny_elements": ("py_cu_bar.toml", "[device]", "[device]\nmesh_size_nm = 0.001",
                      "device.mesh_size_nm"),
    # a spin valve with a 1 m channel: the channel's length sets the size
    "metre_channel": ("nlsv_py_cu.toml", "length_nm = 3000", "length_nm = 1e9",
                      "channel.length_nm"),
    "million_frequencies": ("py_bar.toml", "num = 17", "num = 1000000", "frequencies.f_Hz"),
}


@pytest.mark.parametrize("case", sorted(RESOURCE_CASES))
def test_resource_limits_refused_before_meshing(tmp_path, case):
    """Estimated before meshing; refused with the estimate, exit 2, nothing written, fast;
    ``--allow-large`` lets ``check`` pass a device a bigger machine could run."""
    import time

    from fem.model.device import validate_device

    name, old, new, key = RESOURCE_CASES[case]
    text = (DEVICES / name).read_text()
    assert old in text
    text = text.replace(old, new, 1)
    validate_device(tomllib.loads(text))  # a valid device file: only its size is the problem
    (tmp_path / "dev.toml").write_text(text)
    t = time.perf_counter()
    for command in ("check", "run"):
        args = [command, "dev.toml"] + (["--out", "out"] if command == "run" else [])
        proc = spinfem(*args, cwd=tmp_path)
        assert_bad_input(proc, f"{key}: ")
    assert time.perf_counter() - t < 20
    assert "GB" in proc.stderr or "frequencies" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.toml"]
    if case == "million_frequencies":
        assert spinfem("check", "dev.toml", "--allow-large", cwd=tmp_path).returncode == 0
