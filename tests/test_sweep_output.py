"""Sweeps: ParaView files read back equal the results, Dask equals serial, a killed
sweep leaves only valid files, the xarray view, and Z(omega) of a thin-channel spin
valve against the 1D formula across a sweep."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import numpy as np
import pytest

import fem
from fem.api import run_device
from fem.core import analytic

ROOT = Path(__file__).parents[1]


def small_nlsv(**changes):
    dev = fem.load_device(ROOT / "devices" / "nlsv_py_cu_2d.toml")
    return dev.with_params(**{"frequencies.f_Hz": [1e8, 1e10, 3e10], **changes})


def test_vtu_pvd_read_back_equal_the_results(tmp_path):
    dev = small_nlsv()
    problem = fem.prepare(dev, mesh_dir=tmp_path)
    run_device(dev, tmp_path / "out", problem=problem, plots=False, parallel=False)
    out = tmp_path / "out"
    pvd = ET.parse(out / "sweep.pvd").getroot()
    sets = pvd.findall("./Collection/DataSet")
    assert [float(s.get("timestep")) for s in sets] == [1e8, 1e10, 3e10]
    units = json.loads((out / "sweep" / "fields.json").read_text())
    assert units["units"]["mu_re"] == "A/m" and units["units"]["points"] == "m"
    for s in sets:
        f = float(s.get("timestep"))
        res = problem.solve(f)
        m = meshio.read(out / s.get("file"))
        for name in ("mu", "dm"):
            for part in ("re", "im", "abs", "phase_rad"):
                assert f"{name}_{part}" in m.point_data
        for part in ("re", "im", "abs", "phase_rad"):
            assert f"dM_{part}" in m.cell_data
        # every output point, sampled from the result inside its own region, matches:
        # the copies per region carry the exact one-sided dm (float rounding only)
        pts = m.points[:, :2]
        region = np.concatenate(m.cell_data["region"])
        names = units["region_names"]
        node_region = np.empty(len(pts), dtype=int)
        node_region[m.cells[0].data.ravel()] = np.repeat(region, m.cells[0].data.shape[1])
        mu = m.point_data["mu_re"] + 1j * m.point_data["mu_im"]
        elements, P = res.blocks.probe(pts)
        exact_mu = P @ res.mu
        # mu jumps at the G_s interfaces: compare where the probe found the point's region
        same = res.dmesh.element_region[elements] == node_region
        assert same.mean() > 0.9
        assert np.allclose(mu[same], exact_mu[same], rtol=1e-12,
                           atol=1e-12 * np.abs(exact_mu).max())
        ratio = np.array([res.region_ratio(names[r], "dm") for r in node_region])
        dm = m.point_data["dm_re"] + 1j * m.point_data["dm_im"]
        assert np.allclose(dm, ratio * mu, rtol=1e-12, atol=0)
        assert np.allclose(m.point_data["mu_abs"], np.abs(mu), rtol=1e-12)
        dM = m.cell_data["dM_abs"][0]
        cu = np.array([names[r] == "channel" for r in region])
        assert np.all(dM[cu] == 0) and np.all(dM[~cu] > 0)
    import pyvista as pv

    grid = pv.read(out / sets[0].get("file"))
    assert {"mu_re", "mu_phase_rad", "dm_abs"} <= set(grid.point_data.keys())
    assert {"dM_re", "region"} <= set(grid.cell_data.keys())
    assert grid.bounds[1] == pytest.approx(1.5e-6)  # metres: channel 3000 nm, centred


def test_sweep_csv_and_summary(tmp_path):
    dev = small_nlsv()
    run_device(dev, tmp_path, plots=False, parallel=False, mesh_dir=tmp_path)
    rows = list(csv.DictReader((tmp_path / "sweep.csv").open()))
    assert [float(r["f_Hz"]) for r in rows] == [1e8, 1e10, 3e10]
    for c in ("injector_mu_re_A_per_m", "detector_dM_phase_rad", "detector_Z_abs_s_per_m2"):
        assert c in rows[0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["device_file_sha256"] == dev.source_sha256()
    assert summary["mesh"]["nodes"] > 0 and summary["timings_s"]["sweep"] > 0
    assert summary["device_resolved"]["channel"]["length_nm"] == 3000


def test_dask_equals_serial(tmp_path):
    """The embedded Dask cluster runs the same solves: equal to rounding (SuperLU's
    BLAS may sum in another order in a worker), in frequency order."""
    dev = small_nlsv(**{"frequencies.f_Hz": {"start": 1e7, "stop": 1e11, "num": 6}})
    problem = fem.prepare(dev, mesh_dir=tmp_path)
    serial = [r.mu for r in fem.sweep(problem, parallel=False)]
    sweep = fem.sweep(problem, parallel=True)
    assert not sweep.in_process()
    par = list(sweep)
    assert [r.f_Hz for r in par] == list(dev.f_Hz())
    for a, b in zip(serial, par):
        assert np.allclose(a, b.mu, rtol=1e-12, atol=1e-14 * np.abs(a).max())


def test_to_xarray_units(tmp_path):
    ds = fem.sweep(fem.prepare(small_nlsv(), mesh_dir=tmp_path)).to_xarray()
    assert list(ds.f_Hz.values) == [1e8, 1e10, 3e10]
    assert ds.f_Hz.attrs["units"] == "Hz" and ds.detector_mu.attrs["units"] == "A/m"
    assert "per unit depth" in ds.detector_Z.attrs["units"]
    assert np.allclose(ds.detector_Z, ds.detector_mu / ds.detector_mu.values[0] *
                       ds.detector_Z.values[0])


def _valid(out: Path) -> int:
    """Check every file of a (possibly interrupted) run folder; return VTUs listed."""
    assert not list(out.rglob("*.part")), list(out.rglob("*.part"))
    sets = ET.parse(out / "sweep.pvd").getroot().findall("./Collection/DataSet")
    for s in sets:
        assert meshio.read(out / s.get("file")).points.shape[0] > 0
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    # a frequency's VTU is written before its sweep.csv row (the row marks it finished):
    # a kill in between leaves at most one VTU without a row
    assert len(sets) <= len(rows) + 1 and all(len(r) == len(rows[0]) for r in rows)
    return len(sets)


def test_killed_sweep_leaves_valid_files(tmp_path):
    dev_file = tmp_path / "dev.toml"
    text = (ROOT / "devices" / "nlsv_py_cu_2d.toml").read_text().replace(
        'f_Hz = { start = 1e6, stop = 1e11, num = 21, spacing = "log" }',
        'f_Hz = { start = 1e6, stop = 1e11, num = 400, spacing = "log" }')
    dev_file.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "fem.cli", "run", str(dev_file), "--out",
                             str(out), "--serial", "--mesh-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "sweep" / "sweep_3.vtu").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-3000:]  # stopped, not finished
    listed = _valid(out)
    assert 3 <= listed < 400


@pytest.mark.parametrize("dim", [2, 3])
def test_thin_channel_Z_follows_the_1d_formula_across_the_sweep(dim, tmp_path):
    """Thin normal-metal channel (20 nm), injection and detection through thin bumps
    of the same metal, leads at the ends: Z(omega) = exp(-q L)/(2 sigma q A_ch) at
    every frequency of a sweep to within the bumps' own relaxation (2 g ~ t, see
    tests/test_nlsv.py, < 10 %) and far closer to the network model with the bumps."""
    from test_nlsv import N, nlsv

    freqs = [1e8, 1e9, 1e10, 3e10]
    dev = nlsv(dim, 20.0, 1e9, "N").with_params(**{"frequencies.f_Hz": freqs})
    ds = fem.sweep(fem.prepare(dev, mesh_dir=tmp_path)).to_xarray()
    n = fem.NormalMetal(chi_m=N["chi_m"], D_m=N["D_m_m2_per_s"], tau_mL=N["tau_mL_s"])
    A = 20e-9 * (20e-9 if dim == 3 else 1.0)
    for f, z in zip(freqs, ds.det_Z.values):
        q = n.q(2 * np.pi * f)
        z1d = analytic.channel_point_injection(1e-6, I_in=1.0, sigma=n.sigma, q=q, area=A)
        znet = analytic.nlsv_network(sigma_N=n.sigma, q_N=q, A_N=A, sigma_F=n.sigma, q_F=q,
                                     A_F=A, t_F=10e-9, L=1e-6, I_in=1.0)
        assert abs(z / z1d - 1) < 0.1, (f, z, z1d)
        assert abs(z / znet - 1) < 0.02, (f, z, znet)




def test_sweep_on_an_existing_cluster(tmp_path):
    """fem.sweep(..., client=...) runs unchanged on a cluster the user started."""
    from dask.distributed import Client, LocalCluster

    dev = small_nlsv()
    problem = fem.prepare(dev, mesh_dir=tmp_path)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        sweep = fem.sweep(problem, client=client)
        assert not sweep.in_process()
        z = [r.transfer("detector") for r in sweep]
    ref = [problem.solve(f).transfer("detector") for f in dev.f_Hz()]
    assert np.allclose(z, ref, rtol=1e-12, atol=0)


def test_rerun_into_the_same_folder_is_consistent(tmp_path):
    """A second run with other frequencies and no fields leaves no file of the first."""
    dev = small_nlsv()
    problem = fem.prepare(dev, mesh_dir=tmp_path)
    out = tmp_path / "out"
    run_device(dev, out, problem=problem, plots=False, parallel=False)
    dev2 = dev.with_params(**{"frequencies.f_Hz": [2e9], "output.fields": "none"})
    run_device(dev2, out, problem=fem.prepare(dev2, mesh_dir=tmp_path), parallel=False)
    assert not (out / "sweep.pvd").exists() and not list(out.glob("sweep/*.vtu"))
    assert not (out / "profiles.csv").exists()
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [float(r["f_Hz"]) for r in rows] == [2e9]
