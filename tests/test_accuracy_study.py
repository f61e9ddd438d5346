"""spinfem accuracy: uniform, graded and adaptive meshes against a reference.

Oracle: the exact layered bar (fem.core.analytic.LayeredBar) of a 2D gmsh F/N stack with a
lead, so the study's own reference (Richardson on nested refinements of a graded mesh)
is checked too.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import exact_bar, spinfem, stack

from fem.studies.accuracy import accuracy_study, write_study

F_HZ = 1e9


def _bar():
    dev = stack([("Py", 20.0), ("Cu", 500.0)], {"Py": {"preset": "Py"}, "Cu": {"preset": "Cu"}},
                dimension=2, far_end="lead", f_Hz=[F_HZ], width_nm=10.0)
    return dev.with_params(**{"device.mesher": "gmsh"})


def test_study_reference_and_series_against_the_exact_bar(tmp_path):
    dev = _bar()
    exact = exact_bar(dev, F_HZ)
    z_exact = exact.mu(np.array([0.0]))[0] / (dev.contacts["injector"].j_in * 10e-9)
    study = accuracy_study(dev, "injector", F_HZ, uniform_nm=(2.0, 1.0),
                           graded_refine=(0.5, 1.0, 2.0), rel_error=1e-4, max_nodes=20_000,
                           mesh_dir=tmp_path)
    # on nested meshes (the graded mesh at half its default sizes, split uniformly three
    # times) P1's functional converges as h^2; Richardson removes that term, leaving the
    # next: 1e-5 is a twentieth of the finest graded mesh's own error (2.3e-4)
    assert 1.9 < study.observed_order < 2.1, study.observed_order
    assert abs(study.Z_ref - z_exact) / abs(z_exact) < 1e-5
    for name in ("uniform", "graded"):
        s = study.series[name]
        true = [abs(z - z_exact) / abs(z_exact) for z in s.Z]
        assert true[-1] < true[0], (name, true)  # refinement helps
        # the study's errors (against its reference) are the true ones to the reference's
        # own error
        assert np.allclose(s.rel_error, true, rtol=0.05, atol=1e-5), (name, s.rel_error, true)
    # both adaptive strategies stop with their estimate and the exact error below the goal
    # (the estimate is within 15% of the true error on these bars, test_adapt)
    adaptive = [study.series[n] for n in ("adaptive", "adaptive_graded")]
    for ad in adaptive:
        true = abs(ad.Z[-1] - z_exact) / abs(z_exact)
        assert ad.estimate and ad.estimate[-1] <= 1e-4 and true <= 1e-4, (ad.name, true)
    files = write_study(study, tmp_path / "out")
    assert [f.name for f in files] == ["accuracy.csv", "accuracy.json", "accuracy.png"]
    rows = (tmp_path / "out" / "accuracy.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 + 3 + sum(len(ad.nodes) for ad in adaptive)


def test_cli_refuses_a_contact_not_in_the_device(tmp_path):
    proc = spinfem("accuracy", "devices/nlsv_py_cu_2d.toml", "--contact", "middle",
                   "--out", str(tmp_path / "acc"))
    assert proc.returncode == 2
    assert "--contact: no contact 'middle'" in proc.stderr
    assert not (tmp_path / "acc").exists()


@pytest.mark.parametrize("strategy", ["refine", "graded"])
def test_adapt_table_drives_the_run(strategy, tmp_path):
    """``[adapt]`` in a device file: the run's mesh is the adapted one, and summary.json
    says how far the estimate went; the adapted Z matches the exact bar to rel_error.
    "auto" picks the strategy: splitting elements of the structured 1D bar, remeshing
    the graded gmsh mesh of the 2D one."""
    import json

    from fem.api import run_device

    if strategy == "refine":
        dev = stack([("Py", 20.0), ("Cu", 500.0)], {"Py": {"preset": "Py"},
                                                    "Cu": {"preset": "Cu"}},
                    dimension=1, far_end="lead", f_Hz=[1e8, F_HZ])
    else:
        dev = _bar().with_params(**{"frequencies": {"f_Hz": [1e8, F_HZ]}})
    dev = dev.with_params(**{"adapt": {"contact": "injector", "rel_error": 1e-4}})
    run_device(dev, tmp_path / "out", plots=False, parallel=False, mesh_dir=tmp_path)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    adapt = summary["adapt"]
    assert adapt["contact"] == "injector" and adapt["final_nodes"] == summary["mesh"]["nodes"]
    assert adapt["strategy"] == strategy
    assert ("refine" in adapt["steps"][0]) == (strategy == "graded")
    assert max(adapt["error_estimate"].values()) <= 1e-4
    assert len(adapt["steps"]) >= 2 and adapt["steps"][-1]["nodes"] == adapt["final_nodes"]
    rows = (tmp_path / "out" / "sweep.csv").read_text().splitlines()
    head = rows[0].split(",")
    for row in rows[1:]:
        vals = dict(zip(head, row.split(",")))
        f = float(vals["f_Hz"])
        exact = exact_bar(dev, f).mu(np.array([0.0]))[0]
        got = complex(float(vals["injector_mu_re_A_per_m"]), float(vals["injector_mu_im_A_per_m"]))
        # the estimate is within 15% of the true error on these bars: 2e-4 bounds it
        assert abs(got - exact) / abs(exact) < 2e-4, (f, got, exact)


def test_study_solves_beyond_the_direct_limit_to_rounding(monkeypatch, tmp_path):
    """Meshes beyond the direct solver's size (a 3D nested reference) are solved by
    AMG-GMRES to a 1e-13 residual: the same Z as SuperLU to 1e-9 (here on the bar with
    the direct limit lowered to zero; the graded mesh's conditioning leaves ~1e-7 at
    worst, measured for the fits)."""
    import fem.solvers.linear as linear
    from fem.discretize.meshing import device_mesh
    from fem.studies.accuracy import _solve_z

    dev = _bar()
    dm = device_mesh(dev, [F_HZ], tmp_path)
    n, z_direct = _solve_z(dev, dm, "injector", F_HZ)
    monkeypatch.setitem(linear.DIRECT_MAX_UNKNOWNS, 2, 0)
    n2, z_iter = _solve_z(dev, dm, "injector", F_HZ)
    assert z_iter != z_direct  # a different solver ran
    assert n == n2 and abs(z_iter / z_direct - 1) < 1e-9, (z_direct, z_iter)


def test_study_records_an_adaptive_series_that_max_nodes_stopped_at_once(tmp_path):
    """max_nodes below the graded strategy's first mesh: that series is recorded empty
    (no mesh, no error raised from the study), and the files are still written."""
    study = accuracy_study(_bar(), "injector", F_HZ, uniform_nm=(4.0,), graded_refine=(0.5,),
                           rel_error=1e-6, max_nodes=20, mesh_dir=tmp_path,
                           reference_levels=2)
    assert study.series["adaptive_graded"].nodes == []
    assert study.savings()["adaptive_graded"] is None
    write_study(study, tmp_path / "out")
    assert (tmp_path / "out" / "accuracy.png").exists()
