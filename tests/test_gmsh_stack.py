"""gmsh meshes of stacks against the exact layered bar, with and without interface
spin conductance, and the non-reflecting lead.

Oracles: fem.core.analytic.LayeredBar (transparent or G_s interfaces) and the semi-infinite
bar ``mu = j exp(-q x)/(sigma q)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CU, PY_LATTICE, exact_bar, stack

import fem
from fem.discretize.meshing import device_mesh
from fem.solvers.verify import error_norms, fitted_rate, mean_edge_length_m

MATERIALS = {"Py": PY_LATTICE, "Cu": CU}
LAYERS = [("Py", 20.0), ("Cu", 100.0)]
WIDTH = 8.0  # nm: thin cross-section, so h = 4, 2, 1 nm stays affordable in 3D


def gmsh_stack(dim, h_nm, f_Hz, far_end="insulating", G_s=None, layers=LAYERS):
    dev = stack(layers, MATERIALS, dimension=dim, far_end=far_end, f_Hz=[f_Hz],
                width_nm=WIDTH, height_nm=WIDTH)
    changes = {"device.mesher": "gmsh", "device.mesh_size_nm": h_nm}
    if G_s is not None:
        changes["interfaces"] = [{"between": ["Py", "Cu"], "G_s_m_per_s": G_s}]
    return dev.with_params(**changes)


def solve(dev, f_Hz, tmp_path):
    return fem.prepare(dev, [f_Hz], mesh_dir=tmp_path).solve(f_Hz)


@pytest.mark.parametrize("G_s", [None, 3e3])
@pytest.mark.parametrize("dim", [2, 3])
def test_gmsh_stack_rate_against_exact(dim, G_s, tmp_path, record_rates):
    """G_s = 3e3 m/s: the interface resistance 1/G_s is comparable to the Cu
    layer's 1/(sigma q) ~ 1e3 s/m, so mu jumps by a visible fraction."""
    f = 1e11
    # The 8 nm cross-section is only 2 elements across at 4 nm (pre-asymptotic), so
    # start at 2 nm.  The rate is fitted against the measured mean edge length:
    # gmsh does not halve an unstructured mesh exactly.
    h_list = [2.0, 1.0, 0.5] if dim == 2 else [2.0, 1.4, 1.0, 0.7]
    l2, h_eff = [], []
    for h in h_list:
        dev = gmsh_stack(dim, h, f, far_end="ground", G_s=G_s)
        res = solve(dev, f, tmp_path)
        exact = exact_bar(dev, f, G_s=None if G_s is None else [G_s])
        l2.append(error_norms(res, exact.mu, exact.dmu_dx)[0])
        h_eff.append(mean_edge_length_m(res))
    rate = fitted_rate(h_eff, l2)
    assert abs(rate - 2) < 0.15, f"L2 rate {rate:.3f}, errors {l2}"
    record_rates(case="gmsh F/N" + (" G_s" if G_s else ""), dim=dim, far_end="ground", f_Hz=f,
                 l2_rate=rate, h1_rate=float("nan"), l2_error=l2[-1])
    # unstructured P1 at |q| h <= 0.05 (Py, finest mesh): relative L2 error ~ 1e-4
    assert l2[-1] < 2e-4, l2
    if G_s is not None:  # the jump at the interface is the exact one
        a = 20e-9
        off = [WIDTH * 0.5e-9] * (dim - 1)
        s = res.sample(np.array([[a - 1e-12, *off], [a + 1e-12, *off]]))
        jump = exact.mu(a - 1e-12) - exact.mu(a + 1e-12)
        assert abs((s.mu[0] - s.mu[1]) / jump - 1) < 1e-2, (s.mu, jump)


def test_large_G_s_recovers_transparent(tmp_path):
    """A finite G_s adds 1/G_s in series: the difference to the transparent solution
    falls as 1/G_s (fitted slope -1), on the same mesh."""
    f = 1e11
    ref = solve(gmsh_stack(2, 2.0, f), f, tmp_path)
    x = np.array([[0.0, 4e-9], [60e-9, 4e-9]])
    mu_ref = ref.sample(x).mu
    G = np.array([1e5, 1e6, 1e7])
    diff = [np.max(np.abs(solve(gmsh_stack(2, 2.0, f, G_s=g), f, tmp_path).sample(x).mu - mu_ref))
            / np.max(np.abs(mu_ref)) for g in G]
    slope = fitted_rate(G, diff)
    assert abs(slope + 1) < 0.05, (slope, diff)
    assert diff[-1] < 1e-3


@pytest.mark.parametrize("f_Hz", [1e8, 1e10, 1e11, 1e12])
@pytest.mark.parametrize("dim", [1, 3])
def test_lead_is_non_reflecting(dim, f_Hz, tmp_path):
    """A 100 nm Cu bar ending in a Cu lead equals the semi-infinite bar
    j exp(-q x)/(sigma q): no reflection, at frequencies across the dispersion
    (Cu: 1/(2 pi tau_sf) = 1.6e10 Hz)."""
    dev = stack([("Cu", 100.0)], {"Cu": CU}, dimension=dim, f_Hz=[f_Hz], width_nm=WIDTH,
                height_nm=WIDTH)
    dev = dev.with_params(**{"contacts.end": {"at": "x_max", "kind": "lead"},
                             "device.mesh_size_nm": 1.0})
    if dim == 3:
        dev = dev.with_params(**{"device.mesher": "gmsh"})
    res = solve(dev, f_Hz, tmp_path)
    cu = dev.material("Cu")
    q = cu.q(2 * np.pi * f_Hz)
    x = np.linspace(0, 100e-9, 11)
    pts = np.column_stack([x] + [np.full(11, 4e-9)] * (dim - 1))
    exact = 1.0 * np.exp(-q * x) / (cu.sigma * q)
    err = np.max(np.abs(res.sample(pts).mu - exact)) / np.max(np.abs(exact))
    # h = 1 nm, |q| h < 0.02: discretisation error ~ 1e-4; a reflection would be
    # of order |exp(-2 q L)| ~ 0.5 to 0.01 here
    assert err < 1e-3, err
    if dim == 1:  # the grounded or insulating end would be far off
        for kind in ("insulating", "ground"):
            other = dev.with_params(**{"contacts.end.kind": kind})
            e2 = np.max(np.abs(fem.prepare(other).solve(f_Hz).sample(pts).mu - exact))
            assert e2 / np.max(np.abs(exact)) > 1e-2


def test_mesh_saved_and_reused(tmp_path):
    dev = gmsh_stack(2, 4.0, 1e9)
    fem.prepare(dev, mesh_dir=tmp_path)
    msh = tmp_path / f"{dev.name}.msh"
    stamp = msh.stat().st_mtime_ns
    fem.prepare(dev.with_params(**{"materials.Cu.tau_mL_s": 2e-11}), mesh_dir=tmp_path)
    assert msh.stat().st_mtime_ns == stamp  # materials with mesh_size_nm: same geometry
    fem.prepare(dev.with_params(**{"layers.1.thickness_nm": 80}), mesh_dir=tmp_path)
    assert msh.stat().st_mtime_ns != stamp


def test_region_and_contact_names_survive(tmp_path):
    dev = gmsh_stack(3, 4.0, 1e9, far_end="ground")
    dm = device_mesh(dev, [1e9], tmp_path)
    assert set(dm.mesh.subdomains) == {"Py_0", "Cu_1"}
    assert {"x_min", "x_max", "y_min", "y_max", "z_min", "z_max"} <= set(dm.mesh.boundaries)
    assert dm.contacts == {"injector": "x_min", "end": "x_max"}
    x = dm.nodes_m()[:, 0]
    assert np.allclose(x[dm.mesh.facets[:, dm.mesh.boundaries["x_max"]]], 120e-9)


def test_contact_across_two_regions(tmp_path):
    """A detector on the y_min face of a 2D gmsh F/N stack spans Py and Cu: its mean
    is the exact layered solution averaged over the face, (1/L) int mu dx, and its dm
    mean weighs each layer by its own dm/mu (exact: Simpson's rule on the exact bar)."""
    f = 1e10
    dev = gmsh_stack(2, 1.0, f).with_params(**{"contacts.side": {"at": "y_min",
                                                                 "kind": "detector"}})
    res = solve(dev, f, tmp_path)
    exact = exact_bar(dev, f)
    x = np.linspace(0, 120e-9, 24001)
    w = 2 * np.pi * f
    ratio = np.where(x < 20e-9, dev.material("Py").mu_ratios(w)[0],
                     dev.material("Cu").mu_ratios(w)[0])
    mean_mu = np.trapezoid(exact.mu(x), x) / 120e-9
    mean_dm = np.trapezoid(ratio * exact.mu(x), x) / 120e-9
    # P1 at 1 nm: ~1e-4 relative; the quadrature of the reference ~1e-8
    assert abs(res.contact_mean("side") / mean_mu - 1) < 1e-3
    assert abs(res.contact_mean("side", "dm") / mean_dm - 1) < 1e-3
