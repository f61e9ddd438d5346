"""The command line: the main job's files, and bad input -> exit 2, one line, nothing written."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_bad_input, spinfem

DEVICES = Path(__file__).parents[1] / "devices"


GOOD = (DEVICES / "py_cu_bar.toml").read_text()

BROKEN = {
    "toml_syntax": (GOOD.replace('[device]', '[device', 1), "not valid TOML"),
    "unknown_material": (GOOD.replace('material = "Cu"', 'material = "Ag"'), "layers[1].material"),
    "unit_key": (GOOD.replace("thickness_nm = 300", "thickness_um = 0.3"),
                 "layers[1].thickness_um: unknown key"),
    "unphysical": (GOOD.replace('preset = "Py"', 'preset = "Py"\nchi_m = 3.0'),
                   "materials.Py.chi_m: must be <= chi_M"),
    "negative_time": (GOOD.replace('preset = "Py"', 'preset = "Py"\ntau_mM_s = -1.0e-13'),
                      "materials.Py.tau_mM_s: must be > 0"),
    "contact_face": (GOOD.replace('at = "x_max"', 'at = "top"'), "contacts.end.at"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", ["run", "check"])
def test_bad_input_exit_2_no_traceback_nothing_written(tmp_path, case, command):
    text, expected = BROKEN[case]
    path = tmp_path / "dev.toml"
    path.write_text(text)
    out = tmp_path / "out"
    args = [command, str(path)] + (["--out", str(out)] if command == "run" else [])
    assert_bad_input(spinfem(*args, cwd=tmp_path), expected)
    assert not out.exists() and not (tmp_path / "results").exists()


def test_missing_file_exit_2(tmp_path):
    proc = spinfem("run", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert proc.returncode == 2 and "cannot read the device file" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_check_ok():
    proc = spinfem("check", str(DEVICES / "py_cu_bar.toml"))
    assert proc.returncode == 0 and "ok" in proc.stdout


def test_run_writes_csv_and_png_matching_exact(tmp_path):
    """A 1D, 3-frequency version of the default device: the files exist, carry
    their units, and the injector mu matches the exact layered bar."""
    text = GOOD.replace("dimension = 3", "dimension = 1").replace(
        'f_Hz = { start = 1e6, stop = 1e12, num = 25, spacing = "log" }', "f_Hz = [1e6, 1e9, 1e12]")
    path = tmp_path / "bar.toml"
    path.write_text(text)
    proc = spinfem("run", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    for name in ("profiles.csv", "sweep.csv", "decay_lengths.csv", "mu_profile.png",
                 "decay_length.png", "device.json", "summary.json", "sweep.pvd"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.part"))
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [float(r["f_Hz"]) for r in rows] == [1e6, 1e9, 1e12]

    from conftest import exact_bar

    import fem

    dev = fem.load_device(path)
    for r in rows:
        f = float(r["f_Hz"])
        mu = complex(float(r["injector_mu_re_A_per_m"]), float(r["injector_mu_im_A_per_m"]))
        exact = exact_bar(dev, f).mu(0.0)
        # default mesh: 10 elements per 1/|q|, nodal error ~ (|q| h)^2 / 12 ~ 1e-3
        assert abs(mu / exact - 1) < 2e-3, (f, mu, exact)
    prof = list(csv.DictReader((out / "profiles.csv").open()))
    assert {"x_m", "mu_re_A_per_m", "dm_im_A_per_m", "dM_abs_A_per_m"} <= set(prof[0])
    cu = [p for p in prof if p["region"] == "Cu_1"]
    assert np.allclose([float(p["dM_abs_A_per_m"]) for p in cu], 0.0)
    decay = list(csv.DictReader((out / "decay_lengths.csv").open()))
    for d in decay:  # read off the field with 3 points: P1 error ~ (|q| h)^2/12 < 1e-3, but the
        # thin Py layer (20 nm) at low f forces a short spacing s: cosh(qs) - 1 ~ 5e-3 amplifies it
        assert float(d["decay_length_fem_m"]) == pytest.approx(float(d["decay_length_exact_m"]),
                                                               rel=2e-2)


@pytest.mark.parametrize("debug", [False, True])
def test_internal_error_one_line_exit_1(monkeypatch, debug):
    """A genuine bug (not a SpinfemError) is one line and exit 1; --debug adds the
    traceback."""
    from typer.testing import CliRunner

    import fem.model.device
    from fem.cli import app

    def broken(path):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(fem.model.device, "load_device", broken)
    args = (["--debug"] if debug else []) + ["check", str(DEVICES / "py_bar.toml")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1
    text = res.stderr if hasattr(res, "stderr") else res.output
    assert "spinfem: internal error: ZeroDivisionError: a bug" in text
    assert ("Traceback" in text) == debug
    if not debug:
        assert len(text.strip().splitlines()) == 1


def test_materials_lists_the_library_and_shows_one_entry():
    """``spinfem materials`` prints every entry with its grades; ``spinfem materials Py``
    the model parameters (whose 1/Re q(0) is the measured lambda_sf), sources and notes."""
    from fem.model.materials import library

    table = spinfem("materials")
    assert table.returncode == 0, table.stderr
    for e in library():
        assert e.composition in table.stdout
    assert "NOT measured" in table.stdout and "lambda_sf [nm]" in table.stdout
    py = spinfem("materials", "Py", "--T-K", "300")
    assert py.returncode == 0, py.stderr
    text = " ".join(py.stdout.split())
    assert "1/Re q(0) 3.64 nm" in text and "Sagasta" in text and "4.2 K" not in text
    assert "Caution" not in text
    fe = spinfem("materials", "Fe")
    assert fe.returncode == 0 and fe.stdout.count("Fe (Fe), ferromagnet") == 2
    assert "Caution" in fe.stdout  # the 300 K entry is an extrapolation
    from fem.model.materials import materials_markdown

    assert spinfem("materials", "--markdown").stdout.strip() == materials_markdown()


@pytest.mark.parametrize(("args", "expected"), [
    (["materials", "Unobtainium"], "Unobtainium: unknown material"),
    (["materials", "Cu", "--T-K", "77"], "--T-K: Cu is in the library at T_K = [4.2, 300.0]"),
    (["materials", "--T-K", "300"], "--T-K: give a material name too"),
    (["materials", "Py", "--markdown"], "--markdown: the whole table only"),
])
def test_materials_bad_input_exit_2(args, expected):
    assert_bad_input(spinfem(*args), expected)


def test_extrapolated_preset_is_a_one_line_warning(tmp_path):
    path = tmp_path / "fe.toml"
    path.write_text(GOOD.replace('preset = "Py"', 'preset = "Fe"'))
    proc = spinfem("check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "spinfem: warning: materials.Py: library material 'Fe' at 300 K: lambda_sf = 2.5 nm "
        "is not a measurement (an extrapolation or assumption, see its note: spinfem "
        "materials Fe --T-K 300); give tau_mL_s yourself if you know better"]
    assert spinfem("check", str(DEVICES / "py_cu_bar.toml")).stderr == ""
