"""Goal-oriented adaptivity (fem.studies.adapt): the dual-weighted residual estimate of a
contact's Z against exact layered bars, the adaptive loop reaching its tolerance,
named boundaries and regions carried through refinement, and a 2D lateral spin valve
adapted with fewer nodes than a uniform mesh of the same accuracy.

Oracles: fem.core.analytic.LayeredBar (exact F|G_s|N bar ending in a lead; the contact
mean over the top face is its exact integral), exact areas and volumes of the mesh
parts, and, for the spin valve, uniform gmsh meshes (``mesh_size_nm``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import skfem
from conftest import CU, PY_LATTICE, exact_bar, stack

import fem
from fem.core.units import Scales
from fem.discretize.mesh import DeviceMesh, refine_device_mesh, stack_mesh
from fem.discretize.meshing import device_mesh
from fem.solvers.assemble import p1_volume_blocks
from fem.studies.adapt import AdaptError, adapt, default_frequencies, estimate


def facet_measures(mesh: skfem.Mesh, facets: np.ndarray) -> np.ndarray:
    """Measure (length, area; 1 for a point) of facets, from their edge vectors."""
    facets = np.asarray(facets)
    d = mesh.dim()
    if d == 1:
        return np.ones(facets.size)
    v = mesh.p[:, mesh.facets[:, facets]]  # (dim, d, n)
    e = np.transpose(v[:, 1:, :] - v[:, :1, :], (2, 0, 1))  # (n, dim, d - 1)
    gram = np.einsum("nki,nkj->nij", e, e)
    return np.sqrt(np.abs(np.linalg.det(gram))) / math.factorial(d - 1)

G_S = 3e3  # m/s: sigma/G_s of Cu is 170 nm, so the junction matters to the signal
FREQS = [1e6, 1e11]


def fn_bar(dim: int, detector: bool):
    """Py 20 nm | G_s | Cu 200 nm continuing as a lead, injected at x = 0; in 2D
    (10 nm wide) and 3D (10 nm x 30 nm) optionally a detector on the whole y_max face."""
    dev = stack([("Py", 20.0), ("Cu", 200.0)], {"Py": PY_LATTICE, "Cu": CU}, dimension=dim,
                far_end="lead", f_Hz=FREQS, width_nm=10.0)
    changes = {"interfaces": [{"between": ["Py", "Cu"], "G_s_m_per_s": G_S}]}
    if detector:
        changes["contacts.detector"] = {"at": "y_max", "kind": "detector"}
    return dev.with_params(**changes)


def exact_Z(dev, f_Hz: float, contact: str) -> complex:
    """Exact Z of a contact of :func:`fn_bar`: mu(0) at the injector, the x-mean of mu
    over the top face at the detector (each layer's ``A e^-qs + B e^-q(d-s)``
    integrates to ``(A + B)(1 - e^-qd)/q``), over ``I_in = j_in * width``."""
    bar = exact_bar(dev, f_Hz, G_s=[G_S])
    width = dev.device.width_nm * 1e-9 if dev.dimension >= 2 else 1.0
    height = dev.device.height_nm * 1e-9 if dev.dimension == 3 else 1.0
    current = dev.contacts["injector"].j_in * width * height
    if contact == "injector":
        return complex(bar.mu(np.array([0.0]))[0]) / current
    total = sum((a + b) * (1 - np.exp(-q * d)) / q
                for (d, _, q), (a, b) in zip(bar.layers, bar.coefficients))
    return complex(total / bar.edges[-1]) / current


CASES = [(1, "injector"), (2, "injector"), (2, "detector"), (3, "injector"), (3, "detector")]


@pytest.mark.parametrize(("dim", "contact"), CASES)
def test_estimate_tracks_true_error(dim, contact):
    """Effectivity (estimate / true relative error of Z) on three uniform meshes and two
    frequencies.  Required: 0.3 - 3.  The fine-adjoint estimate is J(u_f) - J(u_h) over
    (1 - 1/4), exact up to the h^2 saturation assumption, so it is near 1 (measured
    0.87 - 1.00, the lowest on the coarsest 2D mesh, where the rate is not yet 2)."""
    dev = fn_bar(dim, contact == "detector")
    for f in FREQS:
        Zx = exact_Z(dev, f, contact)
        for h_nm in (8.0, 4.0, 2.0):
            dm = stack_mesh(dev, [f], h_x_m=h_nm * 1e-9, n_transverse=max(1, round(5 / h_nm)))
            est = estimate(dev, dm, contact, [f])
            true = abs(est["Z"][f] - Zx) / abs(Zx)
            eff = est["rel_estimate"][f] / true
            assert 0.3 < eff < 3, (dim, contact, f, h_nm, eff, true)


def test_estimate_with_iterative_solves_equals_the_direct_one(monkeypatch):
    """Above the direct solver's size limit (a refined 3D mesh beyond 40k unknowns) the
    estimate solves by AMG-GMRES to ESTIMATE_REL_TOL = 1e-10: forced here on a 3D bar,
    its eta equals the SuperLU one to 1e-9 and Z to 1e-11 (measured 2e-11 and 2e-13; a
    1e-6 tolerance would leave 8e-8 and 5e-9)."""
    from fem.solvers import linear
    from fem.studies.adapt import to_rounding

    dev = fn_bar(3, True)
    dm = stack_mesh(dev, [FREQS[0]], h_x_m=4e-9, n_transverse=2)
    direct = estimate(dev, dm, "detector", FREQS)
    monkeypatch.setitem(linear.DIRECT_MAX_UNKNOWNS, 3, 10)
    iterative = estimate(dev, dm, "detector", FREQS)
    assert to_rounding(iterative["problem"]).solver.method == "iterative"
    for f in FREQS:
        assert abs(iterative["eta"][f] / direct["eta"][f] - 1) < 1e-9, f
        assert abs(iterative["Z"][f] / direct["Z"][f] - 1) < 1e-11, f


@pytest.mark.parametrize(("dim", "contact"), CASES)
def test_adapt_reaches_tolerance_on_exact_bar(dim, contact):
    """From a 20 nm mesh (the minimum 4 elements per layer) to 1e-5 at both
    frequencies (1e-4 in 3D); the true error at the end is below the tolerance (far
    below the starting error 1e-4 - 1e-3, reached in about ten steps: 100 nodes in 1D,
    3000 in 2D, 2300 in 3D, where P1's error falls only as N^(-2/3) so 1e-5 would take
    about 70k nodes)."""
    tol = 1e-4 if dim == 3 else 1e-5
    dev = fn_bar(dim, contact == "detector")
    dm = stack_mesh(dev, FREQS, h_x_m=20e-9, n_transverse=1)
    problem = adapt(dev, contact, tol, FREQS, dmesh=dm)
    assert set(problem.error_estimate) == set(FREQS)
    hist = problem.adapt_history
    assert len(hist) > 2 and hist[-1]["nodes"] > hist[0]["nodes"]
    assert max(hist[-1]["estimate"].values()) <= tol
    for f in FREQS:
        Zh = problem.solve(f).transfer(contact)
        Zx = exact_Z(dev, f, contact)
        true = abs(Zh - Zx) / abs(Zx)
        assert true < tol, (f, true, problem.error_estimate[f])
        assert np.isclose(hist[-1]["Z"][f], Zh, rtol=1e-12)


def test_max_nodes_raises_with_last_problem():
    dev = fn_bar(1, False)
    dm = stack_mesh(dev, FREQS, h_x_m=20e-9)
    with pytest.raises(AdaptError, match="max_nodes") as info:
        adapt(dev, "injector", 1e-8, FREQS, dmesh=dm, max_nodes=40)
    p = info.value.problem
    assert p is not None and max(p.error_estimate.values()) > 1e-8
    assert p.dmesh.mesh.nvertices <= 40 + 1  # + the split interface node


def test_default_frequencies():
    dev = fn_bar(1, False).with_params(**{"frequencies.f_Hz": {
        "start": 1e6, "stop": 1e12, "num": 13, "spacing": "log"}})
    assert np.allclose(default_frequencies(dev), [1e6, 1e9, 1e12])


# --------------------------------------------------------- what refinement keeps
def _labelled(mesh_type, n):
    if mesh_type is skfem.MeshTri:
        m = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, n)] * 2)
    else:
        m = skfem.MeshTet.init_tensor(*[np.linspace(0, 1, n)] * 3)
    mid = m.p[:, m.t].mean(axis=1)
    subs = {"a": np.nonzero(mid[0] < 1 / 3)[0], "b": np.nonzero(mid[0] > 1 / 3)[0]}
    bnd = {"left": m.facets_satisfying(lambda p: p[0] < 1e-9, boundaries_only=True),
           "patch": m.facets_satisfying(lambda p: (p[1] > 1 - 1e-9) & (p[0] > 0.6),
                                        boundaries_only=True)}
    m = m.with_subdomains(subs).with_boundaries(bnd)
    return DeviceMesh(m, Scales(1.0, 1.0), {"a": "A", "b": "B"}, {"c": "left"})


@pytest.mark.parametrize("mesh_type", [skfem.MeshTri, skfem.MeshTet])
def test_refinement_keeps_boundaries_and_regions(mesh_type):
    """Adaptive (every 5th element), uniform, adaptive again: every named boundary
    covers the same area and every region the same volume (to rounding), every child
    lies in its parent, and the parts are made of boundary facets only."""
    dm = _labelled(mesh_type, 4)
    old = dm
    for marked in ("some", None, "some"):
        sel = None if marked is None else np.arange(0, old.mesh.nelements, 5)
        new, parent = refine_device_mesh(old, sel)
        assert new.mesh.nelements > old.mesh.nelements
        assert np.array_equal(old.element_region[parent], new.element_region)
        old = new
    m0, m1 = dm.mesh, old.mesh
    outer = np.zeros(m1.facets.shape[1], dtype=bool)
    outer[m1.boundary_facets()] = True
    for name in m0.boundaries:
        assert np.isclose(facet_measures(m1, m1.boundaries[name]).sum(),
                          facet_measures(m0, m0.boundaries[name]).sum(), rtol=1e-12)
        assert outer[m1.boundaries[name]].all()
    for name in m0.subdomains:
        assert np.isclose(p1_volume_blocks(m1, m1.subdomains[name])[1].sum(),
                          p1_volume_blocks(m0, m0.subdomains[name])[1].sum(), rtol=1e-12)


# ------------------------------------------------------- lateral spin valve (2D)
NLSV = """
[device]
name = "nlsv_adapt"
geometry = "nonlocal_spin_valve"
dimension = 2
[materials.Py]
kind = "ferromagnet"
chi_M = 5.67e-4
chi_m = 1.7e-4
D_m_m2_per_s = 1.0e-4
tau_mM_s = 1.0e-13
tau_ML_s = 1.0e-9
tau_mL_s = 2.5e-13
[materials.Cu]
kind = "normal_metal"
chi_m = 1.69e-5
D_m_m2_per_s = 1.0e-2
tau_mL_s = 1.2e-11
[channel]
material = "Cu"
length_nm = 3000
width_nm = 100
thickness_nm = 100
[electrodes]
material = "Py"
width_nm = 100
length_nm = 300
thickness_nm = 20
spacing_nm = 500
[contacts.injector]
at = "injector|channel"
kind = "injection"
j_in_A_per_s = [1.0, 0.0]
P_I_over_P_F = 0.92
[contacts.detector]
at = "detector|channel"
kind = "detector"
P_I_over_P_F = 0.92
[contacts.left]
at = "channel_x_min"
kind = "lead"
[contacts.right]
at = "channel_x_max"
kind = "lead"
[[interfaces]]
between = ["Py", "Cu"]
G_s_m_per_s = 4.0
[frequencies]
f_Hz = [1e9]
"""


@pytest.fixture(scope="module")
def nlsv(tmp_path_factory):
    path = tmp_path_factory.mktemp("nlsv") / "nlsv_adapt.toml"
    path.write_text(NLSV)
    return fem.load_device(path), path.parent


def _adapt_vs_uniform(device, mesh_dir: Path, rel_error: float, strategy: str):
    problem = adapt(device, "detector", rel_error, [1e9], mesh_dir=mesh_dir, strategy=strategy)
    n_adapt = problem.adapt_history[-1]["nodes"]
    Za = problem.adapt_history[-1]["Z"][1e9]
    # the uniform gmsh mesh with at least 3x the nodes: h from nodes ~ area / (h^2 sqrt(3)/2)
    area = 3000 * 100 + 2 * 100 * 20
    h = float(np.sqrt(area / (3 * n_adapt * np.sqrt(3) / 2))) * 0.95
    uni_device = device.with_params(**{"device.mesh_size_nm": h, "device.name": "nlsv_uniform"})
    uni = fem.prepare(uni_device, mesh_dir=mesh_dir, method="direct")
    n_uni = uni.dmesh.mesh_nodes  # the split junction copies not counted: the gmsh mesh's
    assert n_uni == device_mesh(uni_device, [1e9], mesh_dir).mesh.nvertices
    assert uni.n_unknowns > n_uni  # the Py/Cu junctions are split
    Zu = uni.solve(1e9).transfer("detector")
    return problem, n_adapt, Za, n_uni, Zu


@pytest.mark.parametrize("strategy", ["refine", "graded"])
def test_nlsv_adapts_to_1e3_with_fewer_nodes_than_uniform(nlsv, strategy):
    """To 1e-3 on Z of the detector at 1 GHz, both contacts on the Py/Cu junctions
    (measured: splitting elements, about 4,400 nodes after 7 steps; remeshing the graded
    family, 3,000 nodes after 2).  A uniform mesh with 3x the adaptive mesh's nodes
    still differs from the adapted Z by more than 2e-3 (measured: 1.7%): the adapted Z
    is within 1e-3 of the truth (the estimate's effectivity is 0.87-1.00 on the exact
    bars and within 2% of the Richardson-measured error on the shipped twin of this
    device, see results/accuracy), so the uniform mesh's own error exceeds 1e-3, and
    uniform refinement needs more than 3x the nodes to reach it (uniform P1 errors of
    the twin fall monotonically with h: 11%, 3.4%, 0.9% at h = 8, 4, 2 nm)."""
    device, tmp = nlsv
    problem, n_adapt, Za, n_uni, Zu = _adapt_vs_uniform(device, tmp, 1e-3, strategy)
    assert problem.error_estimate[1e9] <= 1e-3
    assert ("refine" in problem.adapt_history[-1]) == (strategy == "graded")
    assert n_uni >= 3 * n_adapt
    assert abs(Zu - Za) / abs(Za) > 2e-3, (n_adapt, n_uni, Za, Zu)


@pytest.fixture(scope="module")
def junction_reference(nlsv):
    """Z(detector) at 1 GHz of the valve with junction contacts, independent of graded
    meshes of other sizes and of the estimator: Richardson over a graded mesh (refine 1)
    split uniformly twice (nested meshes; the observed order is checked, and a third
    split moves it by 2e-7)."""
    from fem.discretize.meshing import mesh_sizing
    from fem.studies.accuracy import _nested_reference

    device, tmp = nlsv
    base = device_mesh(device, [1e9], tmp, sizing=mesh_sizing(device, [1e9], refine=1.0))
    z_ref, order = _nested_reference(device, "detector", 1e9, 2, base)
    assert 1.8 < order < 2.2, order
    return z_ref


def test_graded_meshes_of_the_junction_valve_converge_at_p1_rate(nlsv, junction_reference):
    """Graded meshes (every size, the ramps' growth included, divided by ``refine``) of
    the valve with junction contacts: Z(detector) at 1 GHz against the nested
    reference.

    Measured: 3.3e-4, 9.2e-5, 2.5e-5 at refine 1, 2, 4 (6.2k, 23k, 87k nodes), falling
    3.6x and 3.7x per halving, P1's 4x.  (With the ramps' growth held at 1.25 the
    elements 10-80 nm under the junctions stayed as they were and the error stalled
    at 4-8e-4 on the shipped twin of this device.)  The uniform 2 nm mesh, 4x the
    refine = 2 mesh's nodes, is 37x further off (3.4e-3)."""
    from fem.discretize.meshing import mesh_sizing
    from fem.studies.accuracy import _solve_z

    device, tmp = nlsv
    f = 1e9
    z_ref = junction_reference
    nodes, err = {}, {}
    for r in (1.0, 2.0, 4.0):
        dm = device_mesh(device, [f], tmp, sizing=mesh_sizing(device, [f], refine=r))
        nodes[r], z = _solve_z(device, dm, "detector", f)
        err[r] = abs(z - z_ref) / abs(z_ref)
    # per halving of every size P1's functional error falls 4x; 2.8-5.7 is order 1.5-2.5
    # (the reference's own error, ~2e-7, is 1% of the finest mesh's)
    for a, b in ((1.0, 2.0), (2.0, 4.0)):
        assert 2.8 < err[a] / err[b] < 5.7, (nodes, err)
    assert err[1.0] < 6e-4 and err[4.0] < 5e-5 and nodes[4.0] < 100_000, (nodes, err)
    uni = device.with_params(**{"device.mesh_size_nm": 2.0, "device.name": "nlsv_uniform"})
    n_u, z_u = _solve_z(uni, device_mesh(uni, [f], tmp), "detector", f)
    assert n_u > 3 * nodes[2.0] and abs(z_u - z_ref) / abs(z_ref) > 10 * err[2.0], (n_u, z_u)


def test_graded_strategy_reaches_1e4_with_fewer_nodes_than_splitting(nlsv, junction_reference):
    """Remeshing the graded family at the scale the estimate asks for reaches 1e-4 on
    Z(detector) of the junction valve, its true error (against the nested reference)
    below the goal too, with fewer nodes than splitting marked elements of a coarse
    mesh to the same goal.  Measured: graded 24.6k nodes after 4 meshes (refine 0.3,
    0.6, 1.2, 2.4 -- the graded error falls faster than h^2 below refine 1), splitting
    49.5k after 11 steps; on the shipped 2D twin 11.6k against 87k (README)."""
    device, tmp = nlsv
    graded = adapt(device, "detector", 1e-4, [1e9], mesh_dir=tmp)  # "auto": graded here
    steps = graded.adapt_history
    assert [h["refine"] for h in steps][0] == pytest.approx(0.3)
    assert all(b["refine"] >= 1.25 * a["refine"] - 1e-12 for a, b in zip(steps, steps[1:]))
    z = steps[-1]["Z"][1e9]
    true = abs(z - junction_reference) / abs(junction_reference)
    assert graded.error_estimate[1e9] <= 1e-4 and true <= 1e-4, (true, steps[-1])
    # the estimate tracks the true error on the graded meshes as on the exact bars
    assert 0.5 < graded.error_estimate[1e9] / true < 2.0, (graded.error_estimate, true)
    split = adapt(device, "detector", 1e-4, [1e9], mesh_dir=tmp, strategy="refine")
    assert steps[-1]["nodes"] < split.adapt_history[-1]["nodes"], (
        [h["nodes"] for h in steps], [h["nodes"] for h in split.adapt_history])


def test_graded_strategy_refuses_what_it_cannot_remesh(nlsv, tmp_path):
    """'graded' needs the device's own graded gmsh mesh: not a given starting mesh nor a
    uniform mesh_size_nm (named in a device file, a DeviceError on the key); past
    max_nodes it stops with the last problem."""
    device, tmp = nlsv
    dm = fem.prepare(device.with_params(**{"device.mesh_size_nm": 20.0,
                                           "device.name": "nlsv_coarse"}),
                     mesh_dir=tmp).dmesh
    with pytest.raises(fem.SpinfemError, match="strategy 'graded'"):
        adapt(device, "detector", 1e-3, [1e9], dmesh=dm, strategy="graded")
    with pytest.raises(fem.SpinfemError, match="strategy must be one of"):
        adapt(device, "detector", 1e-3, [1e9], strategy="finest")
    with pytest.raises(fem.DeviceError, match="adapt.strategy"):
        device.with_params(**{"device.mesh_size_nm": 20.0,
                              "adapt": {"contact": "detector", "strategy": "graded"}})
    # past max_nodes: a step shrinks to fit (measured: 1,474 nodes at refine 0.3, then
    # 1.84x, not 2x, to 2,681 nodes; the next mesh had 6,543), then it stops with the
    # last problem, its history clean
    with pytest.raises(AdaptError) as err:
        adapt(device, "detector", 1e-6, [1e9], mesh_dir=tmp, max_nodes=5_000)
    history = err.value.problem.adapt_history
    assert "max_nodes = 5000" in str(err.value) and len(history) >= 2
    assert history[1]["refine"] / history[0]["refine"] < 2.0 - 1e-6  # capped by the room
    assert all(h["nodes"] <= 5_000 for h in history)
    assert all("_est" not in h for h in history)
    with pytest.raises(AdaptError, match="the first mesh has") as err:
        adapt(device, "detector", 1e-3, [1e9], mesh_dir=tmp, max_nodes=500)
    assert err.value.problem is None
