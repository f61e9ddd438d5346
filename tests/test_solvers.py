"""Linear solvers and the reduced basis: every method against the direct solve and the
exact layered bar, the reduced basis' certified bound against full solves at every
frequency, the hard cases of the iterative solver, ``method = "auto"`` and failures.

Oracles: fem.core.analytic.LayeredBar (exact F/N bar with a G_s interface and a lead), and
SuperLU's direct solve (relative residual ~1e-15) as the reference for the iterative and
reduced solutions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import CU, PY_LATTICE, assert_bad_input, exact_bar, spinfem, stack

import fem
from fem.solvers.linear import auto_method, sector_alpha
from fem.solvers.solve import solver_settings

DEVICES = Path(__file__).parents[1] / "devices"

ROOT = Path(__file__).parents[1]
FREQS = np.geomspace(1e6, 1e12, 13)


def with_method(problem, method, rel_tol=None, **more):
    """The same assembled problem with other [solver] settings."""
    settings = solver_settings(problem.device, method, rel_tol)
    return replace(problem, solver=settings.model_copy(update=more))


def x_norm(problem, f_Hz, v):
    """``sqrt(v^H X v)``, ``X = sum |theta_q| A_q`` on the free nodes (the bound's norm)."""
    b = problem.blocks
    X = b.matrix(b.combine(np.abs(b.theta(2 * np.pi * f_Hz))))
    v = v[b.free]
    return float(np.sqrt(np.real(np.vdot(v, X @ v))))


@pytest.fixture(scope="module")
def fn_lead(tmp_path_factory):
    """2D F/N bar: Py | G_s | Cu continuing as a lead, a detector on the Cu top face."""
    dev = stack([("Py", 20.0), ("Cu", 200.0)], {"Py": PY_LATTICE, "Cu": CU}, dimension=2,
                far_end="lead", f_Hz=list(FREQS), width_nm=10.0)
    dev = dev.with_params(**{
        "device.mesher": "gmsh", "device.mesh_size_nm": 2.0,
        "interfaces": [{"between": ["Py", "Cu"], "G_s_m_per_s": 3e3}],
        "contacts.detector": {"at": "y_max", "kind": "detector"}})
    return fem.prepare(dev, mesh_dir=tmp_path_factory.mktemp("meshes"), method="direct")


def test_iterative_equals_direct_and_exact(fn_lead):
    """Relative residual 1e-10; with the X-norm bound ||e||_X <= ||r||_{X^-1}/alpha and
    these meshes' conditioning the fields agree with SuperLU to 1e-7.  Against the exact
    bar both carry the same P1 error (h = 2 nm), below 2e-3 of max |mu|."""
    it = with_method(fn_lead, "iterative", 1e-10)
    for f in FREQS[::3]:
        d, i = fn_lead.solve(f), it.solve(f)
        assert i.stats.method == "iterative" and i.stats.rel_residual <= 1e-10
        assert i.stats.iterations <= 40, i.stats
        assert np.linalg.norm(i.mu - d.mu) <= 1e-7 * np.linalg.norm(d.mu)
        exact = exact_bar(fn_lead.device, f, G_s=[3e3])
        x = np.linspace(1e-9, 219e-9, 23)
        pts = np.column_stack([x, np.full_like(x, 5e-9)])
        ref = exact.mu(x)
        err_d = np.max(np.abs(d.sample(pts).mu - ref))
        err_i = np.max(np.abs(i.sample(pts).mu - ref))
        assert err_d < 2e-3 * np.max(np.abs(ref)) and abs(err_i - err_d) < 1e-6 * err_d + 1e-300


def test_reduced_bound_holds_at_every_frequency(fn_lead):
    """Every frequency of the sweep against a direct solve: the true relative errors of the
    contact means (one with the primal, the detector with its own adjoint) and of the
    fields in the X-norm are below the certified bounds, which are below rel_tol.  The
    bound is for exact arithmetic and the SuperLU reference carries its own rounding
    error (condition number ~1e5 times 1e-16, relative to a detector mean 1e-3 of the
    injector's), so a true error may exceed a bound below that level by 1e-10 at most."""
    rel_tol = 1e-6
    sw = fem.sweep(fn_lead, FREQS, method="reduced", rel_tol=rel_tol, parallel=False)
    results = list(sw)
    assert sw.method == "reduced" and sw.report.full_solves >= 3  # it had to add solves
    assert sw.report.full_solves < len(FREQS)
    assert sw.report.steps[0]["max_bound"] > rel_tol  # the first basis was not enough
    for res, info in zip(results, sw.info):
        ref = fn_lead.solve(res.f_Hz)
        assert info["est_rel_error_fields"] <= rel_tol
        e_x = x_norm(fn_lead, res.f_Hz, res.mu - ref.mu) / x_norm(fn_lead, res.f_Hz, ref.mu)
        assert e_x <= info["est_rel_error_fields"] + 1e-10, (res.f_Hz, e_x, info)
        for c in ("injector", "detector"):
            exact, red = ref.contact_mean(c), res.contact_mean(c)
            bound = info[f"est_rel_error_{c}_mu"]
            assert bound <= rel_tol
            assert abs(red - exact) / abs(exact) <= bound + 1e-10, (c, res.f_Hz, bound)


def test_reduced_adds_solves_until_the_bound_holds(fn_lead):
    """A tighter tolerance costs more full solves; too few allowed is a clear error, and so
    is a tolerance below what the bound can certify in floating point (here ~3e-9: the
    rounding allowance of the residual's cancelling terms)."""
    loose = fem.sweep(fn_lead, FREQS, method="reduced", rel_tol=1e-3, parallel=False)
    tight = fem.sweep(fn_lead, FREQS, method="reduced", rel_tol=1e-8, parallel=False)
    list(loose), list(tight)
    assert loose.report.full_solves < tight.report.full_solves
    assert max(i["est_rel_error_fields"] for i in tight.info) <= 1e-8
    few = with_method(fn_lead, "reduced", 1e-8, max_full_solves=2)
    with pytest.raises(fem.SolveError, match=r"did not reach rel_tol = 1e-08 after 2 full "
                                             r"solves: the error bound is .* at f = .* Hz"):
        list(fem.sweep(few, FREQS, parallel=False))
    with pytest.raises(fem.SolveError, match=r"cannot certify rel_tol = 1e-12: at f = .* Hz, "
                                             r"where a full solve is in the basis"):
        list(fem.sweep(fn_lead, FREQS, method="reduced", rel_tol=1e-12, parallel=False))


def test_reduced_sweep_on_dask_equals_in_process(fn_lead):
    """Full solves of a greedy step on two Dask workers give the same basis and sweep."""
    serial = fem.sweep(fn_lead, FREQS, method="reduced", parallel=False)
    dask = fem.sweep(fn_lead, FREQS, method="reduced", parallel=True)
    a = [r.contact_mean("detector") for r in serial]
    b = [r.contact_mean("detector") for r in dask]
    assert not dask.in_process()
    assert np.allclose(a, b, rtol=1e-6, atol=0)  # both within their 1e-6 bound of exact


# ------------------------------------------------------------------ hard cases
N_SLOW = dict(kind="normal_metal", chi_m=0.05, D_m_m2_per_s=1.0e-4, tau_mL_s=1.0e-11)
CU_NO_FLIP = dict(kind="normal_metal", chi_m=0.05, D_m_m2_per_s=1.0e-2)

HARD = {
    # no spin flip in Cu, insulating everywhere, 1 kHz: A is K plus a 1e-9-relative mass
    "nearly singular": ([("Cu", 2000.0)], {"Cu": CU_NO_FLIP}, {}, 1e3),
    "500 GHz": ([("Py", 20.0), ("Cu", 300.0)], {"Py": PY_LATTICE, "Cu": CU}, {}, 5e11),
    # G_s = 1 m/s against sigma q ~ 1.6e3 m/s of Cu: split nodes barely coupled
    "small G_s": ([("Py", 20.0), ("Cu", 300.0)], {"Py": PY_LATTICE, "Cu": CU},
                  {"interfaces": [{"between": ["Py", "Cu"], "G_s_m_per_s": 1.0}]}, 1e9),
    # a 3 nm Py layer meshed at 1 nm beside 1 um of Cu meshed at ~40 nm (gmsh sizes)
    "1 nm beside 40 nm": ([("Py", 3.0), ("Cu", 1000.0)], {"Py": PY_LATTICE, "Cu": CU},
                          {"device.mesh_size_nm": None}, 1e8),
    # D (so sigma) 100 times smaller in the second metal
    "contrast 100": ([("Cu", 300.0), ("Ns", 300.0)], {"Cu": CU, "Ns": N_SLOW}, {}, 1e9),
}


@pytest.mark.parametrize("case", sorted(HARD))
def test_iterative_hard_cases(case, tmp_path):
    """GMRES + AMG on X(omega) (deflated by the region constants) reaches 1e-9, or the
    rounding floor where the system is so nearly singular that the direct solve cannot
    reach 1e-9 either, in a bounded number of iterations (the preconditioned field of
    values stays in a sector away from 0 whatever the mesh, frequency or coefficients),
    and equals the direct solve to what the conditioning allows; the bound of 60 is about
    twice the counts measured on these cases."""
    layers, mats, changes, f = HARD[case]
    dev = stack(layers, mats, dimension=2, f_Hz=[f], width_nm=40.0)
    dev = dev.with_params(**{"device.mesher": "gmsh", "device.mesh_size_nm": 4.0, **changes})
    direct = fem.prepare(dev, mesh_dir=tmp_path, method="direct")
    if case == "1 nm beside 40 nm":
        p = direct.dmesh.mesh.p[:, direct.dmesh.mesh.facets] * 1e9 * direct.dmesh.scales.length_m
        h = np.linalg.norm(p[:, 0] - p[:, 1], axis=0)
        assert h.min() < 1.5 and h.max() > 30, (h.min(), h.max())
    it = with_method(direct, "iterative", 1e-9)
    d, i = direct.solve(f), it.solve(f)
    assert i.stats.iterations <= 60, i.stats
    if case == "nearly singular":
        # mu is a huge constant (1/omega) plus a profile: SuperLU's residual is ~3e-6,
        # rounding's floor; both solutions carry the condition number (~1e7) times eps
        assert d.stats.rel_residual > 1e-7 and i.stats.rel_residual < 10 * d.stats.rel_residual
        assert np.linalg.norm(i.mu - d.mu) <= 1e-4 * np.linalg.norm(d.mu), case
    else:
        assert i.stats.rel_residual <= 1e-9, i.stats
        # error <= ||A^-1|| ||r||: measured condition numbers of these systems stay below 1e4
        assert np.linalg.norm(i.mu - d.mu) <= 1e-5 * np.linalg.norm(d.mu), case


def test_coefficients_lie_in_the_sector():
    """Every theta_q(omega) has -pi/2 <= arg <= 0, so alpha >= 1/sqrt(2) (the premise of
    the preconditioner and of the reduced basis bound), over 1 Hz .. 10 THz."""
    dev = stack([("Py", 20.0), ("Cu", 100.0), ("C0", 100.0)],
                {"Py": PY_LATTICE, "Cu": CU, "C0": CU_NO_FLIP}, far_end="lead")
    problem = fem.prepare(dev)
    for f in np.geomspace(1.0, 1e13, 40):
        theta = problem.blocks.theta(2 * np.pi * f)
        assert np.all(np.angle(theta) <= 1e-12) and np.all(np.angle(theta) >= -np.pi / 2 - 1e-12)
        assert sector_alpha(theta) >= 1 / np.sqrt(2) - 1e-12


# ------------------------------------------------------------------ choice and failure
def test_auto_picks_as_documented():
    assert auto_method(1_000, 3) == "direct"
    assert auto_method(40_000, 3) == "direct" and auto_method(40_001, 3) == "iterative"
    assert auto_method(300_000, 2) == "direct" and auto_method(500_000, 2) == "iterative"
    assert auto_method(4_999, 3, 200) == "direct"
    assert auto_method(5_000, 3, 8) == "reduced" and auto_method(5_000, 3, 7) == "direct"
    assert auto_method(10**6, 3, 200) == "reduced"


def test_auto_on_a_problem(fn_lead):
    auto = with_method(fn_lead, "auto")
    assert auto.method(1) == "direct"
    n = auto.n_unknowns
    assert auto.method(len(FREQS)) == ("reduced" if n >= 5000 else "direct")


def test_iterative_failure_names_the_frequency(fn_lead):
    it = with_method(fn_lead, "iterative", 1e-12, max_iterations=2)
    with pytest.raises(fem.SolveError, match=r"f = 1e\+09 Hz did not converge: relative "
                                             r"residual .* > rel_tol = 1e-12 after 2 GMRES"):
        it.solve(1e9)


def test_cli_reports_a_failed_solve(tmp_path):
    text = (ROOT / "devices" / "py_cu_bar.toml").read_text()
    dev = tmp_path / "dev.toml"
    dev.write_text(text + "\n[solver]\nmethod = \"iterative\"\nmax_iterations = 1\n"
                          "rel_tol = 1e-12\n")
    proc = spinfem("run", str(dev), "--out", str(tmp_path / "out"), "--serial",
                   "--mesh-dir", str(tmp_path))
    # exit 2 (a known failure, not a crash), the message names the frequency, no traceback
    # (the progress lines before it are on stderr too)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("spinfem: error: the iterative solve at f = 1e+06 Hz did not "
                           "converge"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("table", "key"), [
    ('method = "fast"', "solver.method"),
    ("rel_tol = true", "solver.rel_tol"),
    ("rel_tol = 0", "solver.rel_tol"),
    ("max_iterations = 1.5", "solver.max_iterations"),
    ("tolerance = 1e-6", "solver.tolerance"),
])
def test_bad_solver_tables(table, key, tmp_path):
    dev = tmp_path / "dev.toml"
    dev.write_text((ROOT / "devices" / "py_cu_bar.toml").read_text() + f"\n[solver]\n{table}\n")
    assert_bad_input(spinfem("check", str(dev)), key)


def test_summary_and_csv_record_the_solver(tmp_path):
    import csv
    import json

    from fem.api import run_device

    dev = fem.load_device(ROOT / "devices" / "nlsv_py_cu_2d.toml").with_params(**{
        "frequencies.f_Hz": {"start": 1e7, "stop": 1e11, "num": 9},
        "solver": {"method": "reduced", "rel_tol": 1e-6}})
    out = run_device(dev, tmp_path / "out", plots=False, parallel=False, mesh_dir=tmp_path)
    summary = json.loads((out.out_dir / "summary.json").read_text())
    rb = summary["solver"]["reduced_basis"]
    assert summary["solver"]["method"] == "reduced" and 2 <= rb["full_solves"] < 9
    assert summary["solver"]["settings"]["rel_tol"] == 1e-6
    solved = [x for step in rb["greedy_steps"] for x in step["solved"]]
    assert len(solved) == rb["full_solves"] and all(x["rel_residual"] < 1e-10 for x in solved)
    from fem.output.plot import make_all

    assert out.out_dir / "error_bound.png" in make_all(out.out_dir)
    rows = list(csv.DictReader((out.out_dir / "sweep.csv").open()))
    assert len(rows) == 9 and all(r["method"] == "reduced" for r in rows)
    assert all(float(r["est_rel_error_detector_mu"]) <= 1e-6 for r in rows)
    assert max(float(r["est_rel_error_fields"]) for r in rows) == rb["max_est_rel_error"] or \
        max(float(r["est_rel_error_detector_mu"]) for r in rows) == rb["max_est_rel_error"]


def test_iterative_on_stretched_structured_elements(tmp_path):
    """The shipped quasi-1D Py bar (structured, elements ~450 times longer across than
    along x) at 10 GHz, where the mass coefficient is almost imaginary: GMRES reaches
    1e-9 (it stalled at 1.5e-7 when a restart cycle trusted the preconditioned
    residual) in a bounded number of iterations (12 measured with evolution strength in
    the AMG; 68 with the classical measure) and equals the direct solve."""
    dev = fem.load_device(DEVICES / "py_bar.toml")
    direct = fem.prepare(dev, mesh_dir=tmp_path, method="direct")
    it = with_method(direct, "iterative", 1e-9)
    d, i = direct.solve(1e10), it.solve(1e10)
    assert i.stats.rel_residual <= 1e-9 and i.stats.iterations <= 30, i.stats
    assert np.linalg.norm(i.mu - d.mu) <= 1e-6 * np.linalg.norm(d.mu)


@pytest.mark.parametrize("method", ["direct", "iterative"])
def test_solves_run_on_one_blas_thread(fn_lead, monkeypatch, method):
    """Inside a solve every BLAS pool is limited to one thread (beside other busy
    threads a multithreaded BLAS slowed SuperLU 20-45x here, see
    results/benchmarks/blas_threads.md), and the limit is lifted afterwards."""
    import scipy.sparse as sp
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    seen = []
    real = sp.csr_matrix.__matmul__

    def spy(self, other):  # every solver multiplies by A inside its solve
        seen.append(blas_threads())
        return real(self, other)

    before = blas_threads()
    problem = with_method(fn_lead, method, 1e-10)
    monkeypatch.setattr(sp.csr_matrix, "__matmul__", spy)
    problem.solve(1e9)
    monkeypatch.undo()
    assert seen and all(s == {1} for s in seen), seen
    assert blas_threads() == before
