"""Bad geometry input: one line naming the key and the rule, exit code 2, no traceback,
nothing written -- from the CLI and from the library."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_bad_input, spinfem

import fem

ROOT = Path(__file__).parents[1]
NLSV = (ROOT / "devices" / "nlsv_py_cu_2d.toml").read_text()
MESH = (ROOT / "devices" / "t_junction_mesh.toml").read_text().replace(
    '"../meshes/t_junction.msh"', f'"{ROOT / "meshes" / "t_junction.msh"}"')
PILLAR = (ROOT / "devices" / "pillar_py_cu_py.toml").read_text()

CASES = {
    "overlapping_electrodes": (NLSV.replace("spacing_nm = 500", "spacing_nm = 80"),
                               "electrodes.spacing_nm: must be > electrodes.width_nm"),
    "electrodes_off_channel": (NLSV.replace("spacing_nm = 500", "spacing_nm = 2950"),
                               "electrodes.spacing_nm: the electrodes"),
    "non_positive_size": (NLSV.replace("thickness_nm = 80", "thickness_nm = 0"),
                          "channel.thickness_nm: must be >= 0.001"),
    "nlsv_contact_face": (NLSV.replace(
        'at = "detector|channel"\nkind = "detector"\nP_I_over_P_F = 0.92',
        'at = "detector_side"\nkind = "detector"'),
                          "contacts.detector.at: must be one of"),
    "pillar_without_width": (PILLAR.replace("width_nm = 120", ""),
                             "device.width_nm: required for a pillar"),
    "pillar_face": (PILLAR.replace('at = "top"', 'at = "x_max"'), "contacts.top.at"),
    "region_without_material": (MESH.replace('pad = "Py"\n', "").replace(
        'at = "pad|cross"', 'at = "pad_top"'),
                                "regions: physical group 'pad'"),
    "region_not_in_mesh": (MESH.replace('pad = "Py"', 'pad = "Py"\nwire = "Cu"'),
                           "regions.wire: no physical group 'wire'"),
    "contact_not_in_mesh": (MESH.replace('at = "left_end"', 'at = "left_side"'),
                            "contacts.detector.at: no boundary physical group 'left_side'"),
    "mesh_missing": (MESH.replace("t_junction.msh", "nothing_here.msh"),
                     "device.mesh: mesh file"),
    "unknown_interface_side": (NLSV.replace('between = ["Py", "Cu"]', 'between = ["Py", "Ag"]'),
                               "interfaces[0].between: 'Ag'"),
    "mesh_default_dimension": (MESH.replace("dimension = 2\n", ""),
                               "device.dimension: a user mesh needs"),
    "interface_within_one_material": (
        NLSV.replace('between = ["Py", "Cu"]', 'between = ["injector", "Py"]'),
        "interfaces[0].between: needs two different names with no region in common"),
    "zero_injection": (NLSV.replace("j_in_A_per_s = [1.0, 0.0]", "j_in_A_per_s = [0.0, 0.0]"),
                       "contacts.injector.j_in_A_per_s: must be finite and not zero"),
    "infinite_susceptibility": (NLSV.replace('preset = "Py"', 'preset = "Py"\nchi_M = inf'),
                                "materials.Py.chi_M: must be finite"),
    "absurd_frequency": (NLSV.replace("stop = 1e11", "stop = 1e300"),
                         "frequencies.f_Hz: the field length"),
    "sub_atomic_thickness": (NLSV.replace("thickness_nm = 30\n", "thickness_nm = 1e-300\n"),
                             "electrodes.thickness_nm: must be >="),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_geometry_cli(case, tmp_path):
    text, expected = CASES[case]
    dev = tmp_path / "dev.toml"
    dev.write_text(text)
    out = tmp_path / "out"
    proc = spinfem("run", str(dev), "--out", str(out), "--mesh-dir", str(tmp_path / "meshes"),
                   cwd=tmp_path)
    assert_bad_input(proc, expected)
    assert not out.exists() and not (tmp_path / "meshes").exists()


def test_unreadable_mesh_file(tmp_path):
    bad = tmp_path / "broken.msh"
    bad.write_text("$MeshFormat\nthis is not a mesh\n")
    dev = tmp_path / "dev.toml"
    dev.write_text(MESH.replace(str(ROOT / "meshes" / "t_junction.msh"), str(bad)))
    proc = spinfem("run", str(dev), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert_bad_input(proc, "device.mesh: cannot read mesh file")
    assert not (tmp_path / "out").exists()


def test_interfaces_that_do_not_touch(tmp_path):
    """Refused when the device is read (what ``check`` sees), before any meshing."""
    with pytest.raises(fem.DeviceError, match=r"interfaces\[0\].between: 'free' and 'fixed' "
                                              "never touch"):
        fem.load_device(ROOT / "devices" / "pillar_py_cu_py.toml").with_params(
            interfaces=[{"between": ["free", "fixed"], "G_s_m_per_s": 1e4}],
            **{"device.mesh_size_nm": 6.0})
    assert not any(tmp_path.iterdir())



def test_not_utf8_and_unwritable_output(tmp_path):
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(fem.DeviceError, match="not a text file in UTF-8"):
        fem.load_device(bad)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = spinfem("run", str(ROOT / "devices" / "py_bar.toml"), "--out", str(blocker / "out"),
                   cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


def test_volume_mesh_read_as_2d(tmp_path):
    from fem.discretize.meshing import read_mesh

    dev = fem.load_device(ROOT / "devices" / "pillar_py_cu_py.toml").with_params(
        **{"device.mesh_size_nm": 8.0})
    fem.prepare(dev, mesh_dir=tmp_path)
    with pytest.raises(fem.DeviceError, match="volume cells: set dimension = 3"):
        read_mesh(tmp_path / "pillar_py_cu_py.msh", 2)


@pytest.mark.parametrize("path", sorted((ROOT / "devices").glob("*.toml")), ids=lambda p: p.name)
def test_check_every_shipped_device(path):
    proc = spinfem("check", str(path))
    assert proc.returncode == 0 and ": ok (" in proc.stdout, proc.stderr
