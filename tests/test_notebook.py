"""Notebook-friendly results: a Result as a PyVista grid with the VTU's arrays, and a
sweep's Dataset through netCDF and back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import fem
from fem.api import run_device

DEVICES = Path(__file__).parents[1] / "devices"


def test_to_pyvista_holds_the_vtu_arrays(tmp_path):
    """The grid of a result equals the VTU a run writes for that frequency: points,
    cells, every point and cell array (same code path, so equal to rounding)."""
    import pyvista as pv

    dev = fem.load_device(DEVICES / "nlsv_py_cu_2d.toml").with_params(
        **{"frequencies.f_Hz": [1e9, 1e10], "output.fields": "all"})
    problem = fem.prepare(dev, mesh_dir=tmp_path / "m", method="direct")
    out = run_device(dev, tmp_path / "out", problem=problem, parallel=False, plots=False)
    grid = problem.solve(1e10).to_pyvista()
    vtu = pv.read(out.out_dir / "sweep" / "sweep_1.vtu")
    assert grid.n_points == vtu.n_points and grid.n_cells == vtu.n_cells
    np.testing.assert_allclose(grid.points, vtu.points, rtol=0, atol=1e-18)
    for name in vtu.point_data:
        np.testing.assert_allclose(grid.point_data[name], vtu.point_data[name], rtol=1e-12,
                                   atol=1e-12 * np.abs(vtu.point_data[name]).max(),
                                   err_msg=name)
    for name in vtu.cell_data:
        np.testing.assert_allclose(grid.cell_data[name], vtu.cell_data[name], rtol=1e-12,
                                   atol=1e-12 * np.abs(vtu.cell_data[name]).max(),
                                   err_msg=name)
    assert float(grid.field_data["f_Hz"][0]) == 1e10
    names = json.loads((out.out_dir / "sweep" / "fields.json").read_text())["region_names"]
    assert list(grid.field_data["region_names"]) == names


def test_sweep_dataset_through_netcdf(tmp_path):
    """Complex signals are split into _re/_im on disk and joined on reading: the Dataset
    comes back equal (values bit for bit, coordinates, units)."""
    dev = fem.load_device(DEVICES / "nlsv_py_cu_2d.toml").with_params(
        **{"frequencies.f_Hz": [1e8, 1e9, 1e10]})
    sw = fem.sweep(fem.prepare(dev, mesh_dir=tmp_path), parallel=False)
    ds = sw.to_xarray()
    path = sw.to_netcdf(tmp_path / "sweep.nc")
    back = fem.open_netcdf(path)
    assert set(back.data_vars) == set(ds.data_vars)
    for name in ds.data_vars:
        assert np.iscomplexobj(back[name])
        np.testing.assert_array_equal(back[name].values, ds[name].values)
        assert back[name].attrs == ds[name].attrs
    np.testing.assert_array_equal(back.f_Hz.values, ds.f_Hz.values)
    assert back.f_Hz.attrs["units"] == "Hz" and back.attrs["device"] == ds.attrs["device"]
