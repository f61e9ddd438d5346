"""Homogeneous F and N bars in 1D, 2D, 3D against the exact solution
(fem.core.analytic.homogeneous_bar).

Oracle: ``mu(x) = j cosh(q(L-x)) / (sigma q sinh(qL))`` (insulating far end) or
``j sinh(q(L-x)) / (sigma q cosh(qL))`` (grounded), with ``q(omega)`` from
fem.analytic; ``dm``, ``dM`` from the exact local ratios.  The bar is
``4/|q|`` long at each frequency, so the meshes below resolve every case with
the same ``|q| h`` = 0.2, 0.1, 0.05 and the asymptotic P1 rates must appear.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CU, PY, PY_LATTICE, stack

import fem
from fem.core import analytic
from fem.discretize.mesh import stack_mesh
from fem.solvers.verify import decay_constant_from_field, error_norms, fitted_rate

N_ELEMENTS = (20, 40, 80)  # along x: |q| h = 0.2, 0.1, 0.05
# The bar is L/20 wide (and high) with n/20 elements across y, z: cubes refined
# together, so the transverse error (the P1 solution on triangles/tetrahedra is
# not exactly 1D) falls as h^2 too and the fitted rates are the asymptotic ones.
TRANSVERSE = {1: 0, 2: 1 / 20, 3: 1 / 20}

# Py: xi r / 2 pi = 3.3e11 Hz, r / 2 pi = 1.1e12 Hz: from omega << xi r to omega >> r.
F_CASES = [("Py", PY, f) for f in (1e9, 3e11, 1e12, 1e14)] + [("PyL", PY_LATTICE, 1e11)]
# Cu: 1 / (2 pi tau_sf) = 1.6e10 Hz
N_CASES = [("Cu", CU, f) for f in (1e8, 1e10, 1e12)]


def bar(spec, f_Hz, dimension, far_end):
    name = "X"
    dev0 = stack([(name, 100.0)], {name: spec}, f_Hz=[f_Hz])
    q = dev0.material(name).q(2 * np.pi * f_Hz)
    length_nm = 4.0 / abs(q) * 1e9
    return stack([(name, length_nm)], {name: spec}, dimension=dimension, far_end=far_end,
                 f_Hz=[f_Hz], width_nm=length_nm / 20, height_nm=length_nm / 20)


def solve_on(device, f_Hz, n, dim):
    L = device.layer_edges_m()[-1]
    dmesh = stack_mesh(device, [f_Hz], h_x_m=L / n, n_transverse=round(n * TRANSVERSE[dim]))
    return fem.prepare(device, [f_Hz], dmesh=dmesh).solve(f_Hz)


@pytest.mark.parametrize("far_end", ["insulating", "ground"])
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("label,spec,f_Hz", F_CASES + N_CASES)
def test_homogeneous_bar(label, spec, f_Hz, dim, far_end, record_rates):
    device = bar(spec, f_Hz, dim, far_end)
    mat = device.material("X")
    omega = 2 * np.pi * f_Hz
    L = float(device.layer_edges_m()[-1])
    q = mat.q(omega)
    j = device.contacts["injector"].j_in
    exact = analytic.LayeredBar([(L, mat.sigma, q)], j, far_end=far_end)
    # the layered solver with one layer is the closed form of fem.core.analytic.homogeneous_bar
    xs = np.linspace(0, L, 7)
    closed = analytic.homogeneous_bar(xs, length=L, sigma=mat.sigma, q=q, j_in=j, far_end=far_end)
    assert np.allclose(exact.mu(xs), closed, rtol=1e-12)

    h, l2, h1 = [], [], []
    for n in N_ELEMENTS:
        res = solve_on(device, f_Hz, n, dim)
        e = error_norms(res, exact.mu, exact.dmu_dx)
        h.append(L / n)
        l2.append(e[0])
        h1.append(e[1])
    r2, r1 = fitted_rate(h, l2), fitted_rate(h, h1)
    assert abs(r2 - 2) < 0.15, f"L2 rate {r2:.3f}, errors {l2}"
    assert abs(r1 - 1) < 0.1, f"H1 rate {r1:.3f}, errors {h1}"
    record_rates(case=f"{label} bar", dim=dim, far_end=far_end, f_Hz=f_Hz, l2_rate=r2, h1_rate=r1,
                 l2_error=l2[-1])

    # Finest mesh, |q| h = 0.05: the P1 error constant is about (|q| h)^2 / 12 ~ 2e-4
    # relative to the field's size; 2e-3 leaves a factor ~10 for the reflected wave.
    x = np.linspace(0, L, 41)
    pts = np.column_stack([x] + [np.zeros_like(x)] * (dim - 1))
    s = res.sample(pts)
    scale = np.max(np.abs(exact.mu(x)))
    dm_ratio, dM_ratio = mat.mu_ratios(omega)
    assert np.max(np.abs(s.mu - exact.mu(x))) < 2e-3 * scale
    assert np.max(np.abs(s.dm - dm_ratio * exact.mu(x))) < 2e-3 * scale * abs(dm_ratio)
    if mat.kind == "ferromagnet":
        assert np.max(np.abs(s.dM - dM_ratio * exact.mu(x))) < 2e-3 * scale * abs(dM_ratio)
        # dm = chi_m mu - xi dM holds pointwise (the model's constitutive relation)
        assert np.allclose(s.dm, mat.chi_m * s.mu - mat.xi * s.dM, rtol=1e-12, atol=0)
    else:
        assert np.all(s.dM == 0)
    assert abs(res.contact_mean("injector") - exact.mu(0.0)) < 2e-3 * scale

    # Decay length and wavelength read off the finest field: the discrete q_h of P1
    # differs from q by ~ (|q| h)^2 / 12 = 2e-4 relative, well inside 1e-3.
    qh = decay_constant_from_field(res, L / 2, 0.5 / abs(q), line=(0.0,) * (dim - 1))
    assert abs(analytic.decay_length(qh) / analytic.decay_length(q) - 1) < 1e-3
    if abs(q.imag) > 1e-3 * abs(q):
        assert abs(analytic.wavelength(qh) / analytic.wavelength(q) - 1) < 1e-3
