"""Device files: the schema, SI conversion, and clear errors for bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import CU, PY, stack

import fem

DEVICES = Path(__file__).parents[1] / "devices"


def base(**over):
    data = {
        "device": {"name": "d", "geometry": "stack", "dimension": 1},
        "materials": {"Py": dict(PY), "Cu": dict(CU)},
        "layers": [{"material": "Py", "thickness_nm": 20}, {"material": "Cu", "thickness_nm": 100}],
        "contacts": {"inj": {"at": "x_min", "kind": "injection", "j_in_A_per_s": [1.0, 0.0]}},
        "frequencies": {"f_Hz": [1e9]},
    }
    for path, value in over.items():
        node = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return data


@pytest.mark.parametrize("path", sorted(DEVICES.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_devices_load(path):
    dev = fem.load_device(path)
    assert dev.f_Hz().size >= 1 and set(dev.region_materials().values()) <= set(dev.materials)


def test_si_conversion_and_materials():
    dev = fem.validate_device(base())
    assert np.allclose(dev.layer_edges_m(), [0, 20e-9, 120e-9])
    py = dev.material("Py")
    assert isinstance(py, fem.Ferromagnet) and math.isclose(py.r, 0.7 / 1e-13)
    assert py.tau_ML == math.inf and py.w_M == 0.0
    cu = dev.material("Cu")
    assert isinstance(cu, fem.NormalMetal) and math.isclose(cu.sigma, 0.05 * 1e-2)
    assert dev.layer_names() == ["Py_0", "Cu_1"]


def test_frequency_range_and_with_params():
    dev = fem.validate_device(base(**{"frequencies.f_Hz": {"start": 1e6, "stop": 1e12, "num": 7}}))
    assert np.allclose(dev.f_Hz(), 10.0 ** np.arange(6, 13))
    dev2 = dev.with_params(**{"materials.Cu.tau_mL_s": 2e-11, "layers.1.thickness_nm": 50})
    assert dev2.material("Cu").tau_mL == 2e-11 and dev2.layer_edges_m()[-1] == pytest.approx(70e-9)
    assert dev.material("Cu").tau_mL == 1e-11  # the original is untouched (frozen)
    lin = fem.validate_device(base(**{"frequencies.f_Hz": {"start": 1, "stop": 3, "num": 3,
                                                          "spacing": "linear"}}))
    assert np.allclose(lin.f_Hz(), [1, 2, 3])


def test_r_instead_of_tau_and_inf_lattice_times():
    spec = dict(PY, tau_mM_s=None, r_per_s=7e12, tau_ML_s=math.inf)
    spec = {k: v for k, v in spec.items() if v is not None}
    dev = fem.validate_device(base(**{"materials.Py": spec}))
    assert math.isclose(dev.material("Py").tau_mM, 1e-13)


BAD = [
    ({"materials.Py.chi_m": 2.0}, "materials.Py.chi_m", "<= chi_M"),
    ({"materials.Py.chi_M": -1.0}, "materials.Py.chi_M", "> 0"),
    ({"materials.Py.D_m_m2_per_s": 0.0}, "materials.Py.D_m_m2_per_s", "> 0"),
    ({"materials.Py.r_per_s": 1e12}, "materials.Py.tau_mM_s", "exactly one"),
    ({"materials.Py.tau_mM_s": None}, "materials.Py.tau_mM_s", "exactly one"),
    ({"materials.Cu.tau_mL_s": -1e-12}, "materials.Cu.tau_mL_s", "must be > 0"),
    ({"materials.Py.kind": "magnet"}, "materials.Py", "kind"),
    ({"layers.0.thickness_um": 3}, "layers[0].thickness_um", "unknown key"),
    ({"layers.0.thickness_nm": 0}, "layers[0].thickness_nm", "must be >= 0.001"),
    ({"layers.1.material": "Ag"}, "layers[1].material", "unknown material"),
    ({"device.dimension": 2}, "device.width_nm", "required when dimension = 2"),
    ({"device.dimension": 4}, "device.dimension", "1, 2 or 3"),
    ({"contacts.inj.at": "top"}, "contacts.inj.at", "x_min"),
    ({"contacts.inj.kind": "ground", "contacts.inj.j_in_A_per_s": None}, "contacts", "injection"),
    ({"contacts.inj.j_in_A_per_s": None}, "contacts.inj", "j_in_A_per_s"),
    ({"frequencies.f_Hz": [1e9, -1.0]}, "frequencies.f_Hz", "must be > 0"),
    ({"device.name": "a b"}, "device.name", "pattern"),
]


@pytest.mark.parametrize("over,loc,rule", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_input_names_key_and_rule(over, loc, rule):
    with pytest.raises(fem.DeviceError) as info:
        fem.validate_device(base(**over))
    assert info.value.loc.startswith(loc), str(info.value)
    assert rule in info.value.rule, str(info.value)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(fem.DeviceError, match="cannot read"):
        fem.load_device(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[device\nname = 1")
    with pytest.raises(fem.DeviceError, match="not valid TOML"):
        fem.load_device(bad)


def test_stack_helper_builds_valid_devices():
    dev = stack([("Py", 10.0)], {"Py": PY}, dimension=3, far_end="ground")
    assert dev.extent_m() == pytest.approx((10e-9, 50e-9, 30e-9))
