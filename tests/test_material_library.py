"""The cited material library: measured numbers in, consistent model parameters out.

Oracles: the measured spin-diffusion lengths and resistivities of the library file
(each with its publication), the Einstein relation and the Pauli susceptibility, and
the exact semi-infinite bar ``mu = j0 exp(-q x) / (sigma q)``.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import stack

import fem
from fem.core import analytic
from fem.model.materials import (
    E_CHARGE,
    MU0,
    MU_B,
    Ferromagnet,
    NormalMetal,
    library,
    library_entry,
    materials_markdown,
)

ENTRIES = library()
IDS = [f"{e.name}@{e.T_K:g}K" for e in ENTRIES]


def test_library_covers_the_metals_of_spintronics():
    names = {e.name for e in ENTRIES}
    assert {"Py", "Co", "Ni", "Fe", "CoFe", "CoFeB", "Cu", "Ag", "Al", "Au", "Pt"} <= names
    assert all(e.kind == "ferromagnet" for e in ENTRIES
               if e.name in {"Py", "Co", "Ni", "Fe", "CoFe", "CoFeB"})
    assert all(e.kind == "normal_metal" for e in ENTRIES if e.name in {"Cu", "Ag", "Au", "Pt"})


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_model_decay_length_is_the_measured_one(entry):
    """1/Re q at low frequency equals the measured lambda_sf: the relaxation times are
    solved from it, so only rounding separates them (1e-6 leaves room for the complex
    square root at 1 Hz, where omega/kappa(0) < 1e-10)."""
    mat = entry.material()
    lam = analytic.decay_length(mat.q(2 * np.pi * 1.0))
    assert lam == pytest.approx(entry.lambda_sf_m, rel=1e-6)
    assert isinstance(mat, Ferromagnet if entry.kind == "ferromagnet" else NormalMetal)
    assert mat.source is entry


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_number_has_a_source(entry):
    assert set(entry.sources) == {"lambda_sf", "rho", "dos"}
    for what, c in entry.sources.items():
        assert c.authors and c.journal and 1900 < c.year < 2030, (what, c)
        assert c.status in ("seen", "recalled", "assumed"), (what, c)
        if c.doi:
            assert c.doi.startswith("10."), c.doi
    if any(c.status == "assumed" for c in entry.sources.values()) or entry.gamma_is_assumption:
        assert len(entry.note) > 40, "an assumed number needs its reasoning in the note"
    assert entry.assumptions  # the model's own parameters are stated as assumptions


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_pieces_are_consistent(entry):
    """chi_m = mu0 mu_B^2 N, D = 1/(e^2 N rho): sigma = D chi_m = mu0 mu_B^2/(e^2 rho), so
    the spin conductivity follows the electrical one."""
    mat = entry.material()
    N = entry.dos_per_J_m3
    assert 1e46 < N < 1e49  # states per J per m^3 of metals (Cu ~1.6e47, d metals ~1e48)
    assert mat.chi_m == pytest.approx(MU0 * MU_B**2 * N, rel=1e-14)
    assert mat.D_m == pytest.approx(1 / (E_CHARGE**2 * N * entry.rho_Ohm_m), rel=1e-14)
    assert mat.sigma == pytest.approx(MU0 * MU_B**2 / (E_CHARGE**2 * entry.rho_Ohm_m),
                                      rel=1e-13)
    if entry.kind == "ferromagnet":
        assert 0 < mat.xi <= 1 and mat.tau_mM < mat.tau_ML


def _bar_impedance(name: str, T_K: float) -> float:
    """|Z| per unit area [s/m] of a library metal as a semi-infinite bar, by FEM: a 1D bar of
    10 lambda_sf ending in a lead (the exact non-reflecting end), at 1 Hz."""
    entry = library_entry(name, T_K)
    lam_nm = entry.lambda_sf_m * 1e9
    device = stack([(name, 10 * lam_nm)], {name: {"preset": name, "T_K": T_K}},
                   far_end="lead", f_Hz=[1.0])
    from fem.discretize.mesh import stack_mesh

    dmesh = stack_mesh(device, [1.0], h_x_m=entry.lambda_sf_m / 200)
    res = fem.prepare(device, [1.0], dmesh=dmesh).solve(1.0)
    return abs(res.contact_mean("injector")) / abs(res.injected_current())


def test_spin_resistances_of_py_and_cu_as_measured():
    """The spin resistance of a semi-infinite bar, mu/I = lambda/(sigma A), is
    (e^2/mu0 mu_B^2) rho lambda / A: by FEM it matches the published rho*lambda of each
    metal, and the Py/Cu ratio (how a junction splits the spin current) matches
    rho_Py lambda_Py / (rho_Cu lambda_Cu) = 250 nOhm m * 3.64 nm / (20.8 nOhm m * 350 nm)
    = 0.125 at room temperature (Sagasta et al. 2017: rho_Py lambda_Py = 0.91 fOhm m^2;
    Jedema et al. 2001: Cu).  Tolerance 1e-4: P1 with h = lambda/200 errs by
    (qh)^2/12 ~ 2e-6 on the bar, and the contact value by about as much."""
    to_ohm = E_CHARGE**2 / (MU0 * MU_B**2)
    z = {}
    for name in ("Py", "Cu"):
        z[name] = _bar_impedance(name, 300.0)
        e = library_entry(name)
        assert z[name] == pytest.approx(to_ohm * e.spin_resistance_area_Ohm_m2, rel=1e-4)
    published_ratio = (250e-9 * 3.64e-9) / (20.8e-9 * 350e-9)
    assert z["Py"] / z["Cu"] == pytest.approx(published_ratio, rel=1e-3)
    assert 0.91e-15 == pytest.approx(library_entry("Py").spin_resistance_area_Ohm_m2, rel=1e-2)


def test_api_material_and_table():
    cu = fem.material("Cu")
    assert cu.source.T_K == 300 and "Jedema" in str(cu.source.sources["lambda_sf"])
    cold = fem.material("Cu", T_K=4.2)
    assert cold.source.T_K == 4.2 and cold.spin_diffusion_length > cu.spin_diffusion_length
    rows = fem.materials_table()
    assert len(rows) == len(ENTRIES)
    assert {"name", "T_K", "lambda_sf_nm", "rho_nOhm_m", "D_m2_per_s", "source_lambda_sf"} <= \
        set(rows[0])
    with pytest.raises(fem.DeviceError, match="unknown material 'Unobtainium'.*'Py'"):
        fem.material("Unobtainium")
    with pytest.raises(fem.DeviceError, match=r"T_K: Cu is in the library at T_K = \[4.2, 300.0\]"):
        fem.material("Cu", T_K=77)


@pytest.mark.parametrize("name", ["Py", "Co", "Ni", "Fe", "CoFe", "CoFeB", "Cu", "Al", "Pt"])
def test_room_temperature_entries_resolve_without_T_K(name):
    """``fem.material(name)`` means room temperature: every ferromagnet of the library
    (and the room-temperature normal metals) has a 300 K entry, found without ``T_K``."""
    if library_entry(name).caveat() is None:
        mat = fem.material(name)
    else:  # an extrapolated decay length says so (see the test below)
        with pytest.warns(fem.MaterialDataWarning):
            mat = fem.material(name)
    assert mat.source.T_K == 300.0 and mat.source is library_entry(name, 300)
    assert isinstance(mat, NormalMetal if name in {"Cu", "Al", "Pt"} else Ferromagnet)


def test_extrapolated_entries_say_so():
    """Entries whose numbers are not measured on one sample carry an "assumed" source and
    a note that says what was done."""
    for name in ("Ni", "Fe", "CoFe"):
        e = library_entry(name)
        assert e.sources["lambda_sf"].status == "assumed" and "EXTRAPOLATION" in e.note
    cofeb = library_entry("CoFeB")
    assert "TRANSVERSE" in cofeb.note and cofeb.sources["rho"].status == "assumed"


def test_library_materials_survive_pickling():
    """Dask ships materials between processes: the source comes along."""
    py = fem.material("Py")
    back = pickle.loads(pickle.dumps(py))
    assert back == py and back.source == py.source


DEVICE = {
    "device": {"name": "bar", "geometry": "stack", "dimension": 1},
    "layers": [{"material": "Py", "thickness_nm": 20.0}, {"material": "Cu", "thickness_nm": 500.0}],
    "contacts": {"inj": {"at": "x_min", "kind": "injection", "j_in_A_per_s": [1.0, 0.0]}},
    "frequencies": {"f_Hz": [1e9]},
}


def test_device_preset_with_overrides():
    dev = fem.validate_device({**DEVICE, "materials": {
        "Py": {"preset": "Py"},
        "Cu": {"preset": "Cu", "T_K": 4.2, "tau_mL_s": 2e-11}}})
    py, cu = dev.material("Py"), dev.material("Cu")
    assert py == fem.material("Py") and py.source is library_entry("Py")
    assert cu.tau_mL == 2e-11 and cu.D_m == fem.material("Cu", T_K=4.2).D_m
    assert cu.source.T_K == 4.2
    # the resolved device (device.json, with_params) validates to the same materials
    again = fem.validate_device(dev.model_dump(exclude_none=True))
    assert again.material("Cu") == cu and again.material("Py") == py
    assert dev.with_params(**{"materials.Py.tau_mL_s": 1e-13}).material("Py").tau_mL == 1e-13


@pytest.mark.parametrize(("materials", "message"), [
    ({"Py": {"preset": "Pyy"}, "Cu": {"preset": "Cu"}},
     "materials.Py.preset: unknown material 'Pyy'"),
    ({"Py": {"preset": "Py", "T_K": 77.0}, "Cu": {"preset": "Cu"}},
     r"materials.Py.T_K: Py is in the library at T_K = \[4.2, 300.0\] K only, got 77"),
    ({"Py": {"preset": "Cu"}, "Cu": {"preset": "Cu", "kind": "ferromagnet"}},
     "materials.Cu.kind: preset 'Cu' is a normal_metal, got kind = 'ferromagnet'"),
    ({"Py": {"preset": 3}, "Cu": {"preset": "Cu"}}, "materials.Py.preset: must be a material name"),
    ({"Py": {"preset": "Py", "T_K": "cold"}, "Cu": {"preset": "Cu"}},
     "materials.Py.T_K: must be a number"),
    ({"Py": {"preset": "Py", "chi_m": 1.0}, "Cu": {"preset": "Cu"}},
     "materials.Py.chi_m: must be <="),
])
def test_bad_presets_name_the_key(materials, message):
    with pytest.raises(fem.DeviceError, match=message):
        fem.validate_device({**DEVICE, "materials": materials})


def test_readme_shows_the_library():
    """The README's material table is the library's, row for row."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert materials_markdown() in readme
    assert math.isfinite(library_entry("Py").dos_per_J_m3)


def test_unmeasured_decay_lengths_warn_measured_ones_do_not():
    """A library entry whose lambda_sf is an extrapolation warns where it is used (the API
    and a device file's preset, unless the file gives tau_mL_s, which then sets the decay);
    a measured one stays silent."""
    import warnings

    from fem import MaterialDataWarning

    for e in ENTRIES:
        assert (e.caveat() is None) == (e.sources["lambda_sf"].status != "assumed"), e.name
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fem.material(e.name, T_K=e.T_K)
        kinds = [w.category for w in seen]
        if e.caveat() is None:
            assert kinds == [], e.name
        else:
            assert kinds == [MaterialDataWarning], e.name
            assert f"'{e.name}' at {e.T_K:g} K" in str(seen[0].message)
            assert seen[0].filename == __file__  # points at the caller's line
    assert {e.name for e in ENTRIES if e.caveat()} == {"Ni", "Fe", "CoFe"}
    fe = {"Py": {"preset": "Fe"}, "Cu": {"preset": "Cu"}}
    with pytest.warns(MaterialDataWarning, match="materials.Py: library material 'Fe'"):
        fem.validate_device({**DEVICE, "materials": fe})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fem.validate_device({**DEVICE, "materials": {**fe, "Py": {"preset": "Fe",
                                                                   "tau_mL_s": 1e-13}}})
        fem.validate_device({**DEVICE, "materials": {"Py": {"preset": "Py"},
                                                     "Cu": {"preset": "Cu"}}})


def test_table_rows_say_how_each_number_was_obtained():
    rows = fem.materials_table()
    for row, e in zip(rows, ENTRIES, strict=True):
        assert row["status_lambda_sf"] == e.sources["lambda_sf"].status
        assert row["status_rho"] == e.sources["rho"].status
        assert row["status_lambda_sf"] in {"seen", "recalled", "assumed"}
