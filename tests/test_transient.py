"""Time domain: modal rates and relaxation of a homogeneous F bar (fem.solvers.transient).

Oracles (eqs. (37)-(39) of Saslow, Sun and Xu 2021): the modes ``cos(n pi x/L)`` of a bar
with insulating ends decay at ``gamma+-(k_n)`` of eq. (39), ``k_n = n pi/L``;
a smooth total-magnetization profile relaxes at ``gamma-`` which tends to
``xi D_m k^2`` for ``k << k_M`` (eq. 37); without lattice decay the integral
of ``dM + dm`` is conserved.  On a uniform P1 mesh the nodal cosines are exact
discrete eigenvectors, so the discrete rates are exactly ``gamma+-(lam_h)``
with ``lam_h = fem.solvers.transient.discrete_k2``: that separates the space error
(``lam_h / k_n^2 - 1 = theta^2/12 + ...``) from the eigen-solver and
time-stepping errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import fem
from fem.solvers import transient

PY = {"chi_M": 1.0, "chi_m": 0.3, "D_m": 2.5e-3, "tau_mM": 1e-13}
PY_LATTICE = dict(PY, tau_ML=1e-9, tau_mL=5e-12)
MATERIALS = {"Py": PY, "PyL": PY_LATTICE}
N_MODES = 3
MESHES = (16, 32, 64, 128)


@pytest.mark.parametrize("name", MATERIALS)
def test_modal_rates_converge_at_h2(name):
    mat = fem.Ferromagnet(**MATERIALS[name])
    L = 3.0 / mat.k_M  # k_n = 1.05, 2.1, 3.1 k_M: both branches far from their limits
    k2 = (np.arange(1, N_MODES + 1) * np.pi / L) ** 2
    exact = np.array(mat.gamma_pm(k2))  # (2, N_MODES): gamma+, gamma-
    err = np.array([np.abs(np.array(transient.modal_rates(mat, L, n, N_MODES)) / exact - 1.0)
                    for n in MESHES])  # (mesh, branch, mode)
    h = L / np.array(MESHES)
    for branch, label in enumerate(("gamma+", "gamma-")):
        for m in range(N_MODES):
            rate = np.polyfit(np.log(h), np.log(err[:, branch, m]), 1)[0]
            # lam_h/k^2 - 1 = theta^2/12 (1 + O(theta^2)), theta <= 3 pi/16: the fitted
            # slope is 2 up to ~1e-2; 0.15 allows the pre-asymptotic coarsest mesh.
            assert abs(rate - 2.0) < 0.15, (
                f"{name} {label} n={m + 1}: observed rate {rate:.3f}, errors {err[:, branch, m]}")
    # the finest mesh is accurate in absolute terms too: err ~ theta^2/12 <= 5e-4
    assert err[-1].max() < 1e-3, f"{name}: errors on the finest mesh {err[-1]}"


@pytest.mark.parametrize("name", MATERIALS)
def test_modal_rates_are_the_discrete_dispersion(name):
    mat = fem.Ferromagnet(**MATERIALS[name])
    L, n_el, n_modes = 3.0 / mat.k_M, 40, 10
    got = np.array(transient.modal_rates(mat, L, n_el, n_modes))
    want = np.array(mat.gamma_pm(transient.discrete_k2(np.arange(1, n_modes + 1), L, n_el)))
    # nodal cosines are exact eigenvectors, so only eig() rounding (~1e-13 in scaled
    # units) separates them; 1e-10 leaves a wide margin.
    rel = np.abs(got / want - 1.0).max()
    assert rel < 1e-10, f"{name}: max relative deviation {rel:.2e}"


@pytest.mark.parametrize("method", ["cn", "bdf2"])
def test_smooth_profile_decays_at_gamma_minus(method):
    mat = fem.Ferromagnet(**PY)
    r, k_M, n_el = mat.r, mat.k_M, 100
    L = 30.0 / k_M
    k2 = (np.pi / L) ** 2
    s = k2 / k_M**2  # (k/k_M)^2 = 1.1e-2
    # dt = 0.05/r resolves the fast mode; fit after 50/r (fast mode down by e^-50)
    # until 600/r (gamma- t ~ 2).
    res = transient.relax(mat, L, n_el, lambda x: np.cos(np.pi * x / L), lambda x: 0.0,
                          t_end_s=600.0 / r, n_steps=12000, method=method)
    rate = transient.measured_decay_rate(res.times_s, res.amplitude, t_from=50.0 / r)
    exact = mat.gamma_pm(k2)[1]
    discrete = mat.gamma_pm(transient.discrete_k2(1, L, n_el))[1]
    # time stepping alone: second order in z = gamma- dt = 1.7e-4, i.e. ~z^2 = 3e-8
    assert abs(rate / discrete - 1.0) < 1e-6, f"{method}: {rate / discrete - 1.0:.2e}"
    # plus the space error theta^2/12 = (pi/100)^2/12 = 8e-5: 1e-3 has a 10x margin
    assert abs(rate / exact - 1.0) < 1e-3, f"{method}: {rate / exact - 1.0:.2e}"
    # Fig. 1 process: rate -> xi D_m k^2 with relative correction
    # -(1 - xi) s + (1 - xi)(1 - 2 xi) s^2 + O(s^3) (expansion of eq. 36)
    rel = rate / (mat.xi * mat.D_m * k2) - 1.0
    assert -s < rel < 0.0, f"{method}: relative deviation {rel:.3e}, (k/k_M)^2 = {s:.3e}"
    # leading coefficient -(1 - xi): the s^2 term (0.3 s) and the space error (8e-5/s)
    # shift it by < 0.01; 0.05 allows both
    assert abs(rel / s + (1.0 - mat.xi)) < 0.05, f"{method}: rel/s = {rel / s:.4f}"


@pytest.mark.parametrize("method", ["cn", "bdf2"])
def test_total_magnetization_is_conserved(method):
    mat = fem.Ferromagnet(**PY)
    r, L = mat.r, 3.0 / mat.k_M
    res = transient.relax(mat, L, 50, lambda x: 1.0 + 0.5 * np.cos(np.pi * x / L) + (x > L / 3),
                          lambda x: 0.2 * np.sin(2 * np.pi * x / L), t_end_s=20.0 / r,
                          n_steps=400, method=method)
    # 1^T K = 0 and the M couplings cancel, so the integral is an exact linear
    # invariant of the semi-discrete system, kept exactly by CN and BDF2: only
    # rounding of 400 LU solves (~400 eps) remains.
    drift = np.abs(res.mean / res.mean[0] - 1.0).max()
    assert drift < 1e-11, f"{method}: relative drift of the mean {drift:.2e}"
    # the initial mean itself: the P1 interpolant of the step moves its edge by < h/2 = L/100
    assert abs(res.mean[0] - (1.0 + 2.0 / 3.0)) < 0.01, f"initial mean {res.mean[0]}"
    np.testing.assert_allclose(res.dm, mat.chi_m * res.mu - mat.xi * res.dM, atol=1e-14)


def test_uniform_mode_decays_at_gamma_minus_zero_with_lattice():
    mat = fem.Ferromagnet(**PY_LATTICE)
    r, L = mat.r, 3.0 / mat.k_M
    g0 = mat.gamma_pm(0.0)[1]
    res = transient.relax(mat, L, 8, lambda x: 1.0, lambda x: 0.0, t_end_s=3.0 / g0,
                          n_steps=4000)
    rate = transient.measured_decay_rate(res.times_s, res.mean, t_from=50.0 / r)
    # k = 0 is exact on any mesh; CN error (g0 dt)^2 / 12 = (3/4000)^2/12 = 5e-8
    assert abs(rate / g0 - 1.0) < 1e-6, f"{rate / g0 - 1.0:.2e}"


def test_bad_input_raises():
    mat = fem.Ferromagnet(**PY)
    with pytest.raises(ValueError):
        transient.modal_rates(mat, 1e-7, 4, 5)
    with pytest.raises(TypeError):
        transient.modal_rates(fem.NormalMetal(chi_m=0.05, D_m=1e-2), 1e-7, 10, 2)
    with pytest.raises(ValueError):
        transient.relax(mat, 1e-7, 10, np.cos, np.cos, 1e-12, 10, method="euler")
    with pytest.raises(ValueError):
        transient.measured_decay_rate([0.0, 1.0, 2.0], [1.0, -1.0, 1.0], 0.0)
