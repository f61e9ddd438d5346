"""fem.core.analytic and the derived material quantities, each against an independent oracle.

Oracles: numpy eigenvalues of eq. (33)'s matrix (built here from the paper,
independently of ``minus_gamma_matrix``), the paper's printed eqs. (41)-(43),
``scipy.linalg.expm`` of the time-domain operator (pins ``exp(-i omega t)``),
limits whose error is shown to fall at the expected rate (slope fitted with
``np.polyfit`` over >= 4 points), and the ODE conditions of a layered bar
checked pointwise.  Equation numbers are those of Saslow, Sun and Xu (2021).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import fem
from fem.core import analytic as an
from fem.model.materials import Ferromagnet, NormalMetal

EPS = np.finfo(float).eps
XIS = (0.01, 0.1, 0.3, 0.9, 1.0)
K2S = (0.0, 1e-3, 0.1, 1.0, 4.0, 30.0)  # k^2 / k_M^2
LATTICE = ((0.0, 0.0), (0.01, 0.05), (0.2, 0.05), (1.5, 0.3))  # (w_M/r, w_m/r); 1.5: w_M > r


def eq33(k2, *, D_m, r, xi, w_M=0.0, w_m=0.0):
    """``-Gamma`` of eq. (33), written out from the paper with lattice *times*."""
    inv_tau_ML, inv_tau_mL = w_M, w_m  # eq. (38): w = 1/tau
    gamma = np.array([
        [-inv_tau_ML, -inv_tau_ML + r],
        [-xi * (inv_tau_mL + D_m * k2), -r - (inv_tau_mL + D_m * k2)],
    ])
    return -gamma


def slope(x, err):
    """Fitted exponent p of ``err ~ x^p``."""
    return np.polyfit(np.log(x), np.log(err), 1)[0]


def assert_eigenpair(gp, gm, A):
    """``{gp, gm}`` equal the eigenvalues of ``A`` to within their conditioning.

    Tolerance: a backward-stable 2x2 eigensolver perturbs ``A`` by ~eps ||A||;
    an eigenvalue then moves by ~eps ||A|| * ||A||/gap (the eigenvector
    condition number), but never more than ~sqrt(eps) ||A|| (the defective,
    gap = 0 limit, e.g. xi = 1, k = k_M).  Factor 64 covers the few roundings
    in eq. (39) itself.
    """
    ev = np.linalg.eigvals(A)
    norm = np.linalg.norm(A, 2)
    gap = abs(ev[0] - ev[1])
    tol = 64 * EPS * norm * min(norm / gap if gap else np.inf, 1 / math.sqrt(EPS)) + 1e-300
    err = min(max(abs(gp - ev[0]), abs(gm - ev[1])), max(abs(gp - ev[1]), abs(gm - ev[0])))
    assert err <= tol, f"gamma = ({gp}, {gm}), eig = {ev}, err {err:.3g} > tol {tol:.3g}"
    # labelling: gamma+ is the faster (principal square root, Re >= 0)
    assert np.real(gp) >= np.real(gm) - tol


# ---------------------------------------------------------------- eqs. (36), (39)
@pytest.mark.parametrize("lattice", LATTICE)
@pytest.mark.parametrize("xi", XIS)
def test_gamma_pm_are_eigenvalues_of_eq33(xi, lattice):
    D_m, r = 2.0, 3.0  # not 1, so that k_M^2 = r/D_m and the scaling are exercised
    w_M, w_m = lattice[0] * r, lattice[1] * r
    kw = {"D_m": D_m, "r": r, "xi": xi, "w_M": w_M, "w_m": w_m}
    for K in K2S:
        k2 = K * r / D_m
        A = eq33(k2, **kw)
        # both are a handful of exact products/sums of the same numbers: rtol 4 eps
        np.testing.assert_allclose(an.minus_gamma_matrix(k2, **kw), A, rtol=4 * EPS, atol=0)
        gp, gm = an.gamma_pm(k2, **kw)
        assert_eigenpair(gp, gm, A)


def test_gamma_pm_vectorised_and_eq36():
    """Eq. (36) as printed (no lattice decay) on an array of k^2; real and >= 0."""
    K = np.linspace(0.0, 10.0, 101)
    for xi in XIS:
        gp, gm = an.gamma_pm(K, D_m=1.0, r=1.0, xi=xi)
        root = np.sqrt((1 + K) ** 2 - 4 * K * xi)
        assert gp.dtype == float and gm.dtype == float
        # (36) and (39) evaluate the same expression in a different order: a few eps of
        # the larger rate (gamma- is a difference of O(1 + K) numbers: absolute tolerance)
        np.testing.assert_allclose(gp, 0.5 * (1 + K + root), rtol=8 * EPS)
        assert np.all(abs(gm - 0.5 * (1 + K - root)) <= 8 * EPS * (1 + K))
        assert np.all(gm >= -4 * EPS * (1 + K))


log_uniform = st.floats(-3.0, 3.0).map(lambda e: 10.0**e)


@settings(max_examples=300, deadline=None)
@given(xi=st.floats(1e-3, 1.0), K=st.floats(0.0, 100.0), D_m=log_uniform, r=log_uniform,
       wM=st.floats(0.0, 2.0), wm=st.floats(0.0, 2.0))
def test_gamma_pm_random_parameters(xi, K, D_m, r, wM, wm):
    kw = {"D_m": D_m, "r": r, "xi": xi, "w_M": wM * r, "w_m": wm * r}
    k2 = K * r / D_m
    A = eq33(k2, **kw)
    gp, gm = an.gamma_pm(k2, **kw)
    assert_eigenpair(gp, gm, A)
    # Vieta: trace and determinant of eq. (33); sums/products of O(||A||) numbers
    norm = np.linalg.norm(A, 2)
    assert abs(gp + gm - np.trace(A)) <= 16 * EPS * norm
    det = A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]
    assert abs(gp * gm - det) <= 64 * EPS * norm**2


def test_ferromagnet_gamma_pm_in_si_matches_scaled_units():
    """Py in SI (r ~ 7e12 1/s, k_M ~ 5e7 1/m) gives the same gamma/r(k^2/k_M^2) as r = k_M = 1."""
    py = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13, tau_ML=1e-11, tau_mL=2e-12)
    K = np.array([0.0, 0.1, 1.0, 4.0])
    gp, gm = py.gamma_pm(K * py.k_M**2)
    sp, sm = an.gamma_pm(K, D_m=1.0, r=1.0, xi=0.3, w_M=py.w_M / py.r, w_m=py.w_m / py.r)
    # only the rounding of the unit conversion (a few eps per factor)
    np.testing.assert_allclose(gp / py.r, sp, rtol=1e-13)
    np.testing.assert_allclose(gm / py.r, sm, rtol=1e-13, atol=1e-13)


# ------------------------------------------------------------------- eq. (41)
@pytest.mark.parametrize("xi", XIS)
def test_k_squared_is_eq41_without_lattice_decay(xi):
    D_m, r = 2.5e-3, 7e12  # SI-sized numbers
    kM2 = r / D_m
    omega = r * np.logspace(-4, 4, 33)
    printed = 1j * (omega / r) * (omega + 1j * r) / (omega + 1j * xi * r) * kM2
    # ~10 roundings on each side: rtol 1e-14 (~50 eps)
    np.testing.assert_allclose(an.k_squared(omega, D_m=D_m, r=r, xi=xi), printed, rtol=1e-14)
    if xi < 1:
        mat = Ferromagnet(chi_M=1.0, chi_m=xi, D_m=D_m, r=r)
        np.testing.assert_allclose(mat.k2(omega), printed, rtol=1e-13)  # r round-trips via tau_mM


# ------------------------------------------------- eq. (44): the sign convention
def eq44_printed(omega, *, D_m, r, xi, w_M, w_m):
    """Eq. (44) exactly as printed in the paper (``+i omega``)."""
    iw = 1j * omega
    K = -w_m / r - (iw + r) * (iw + w_M) / (r * (iw - xi * w_M + w_M + xi * r))
    return K * r / D_m


def det_residual(A, lam):
    """``|det(A - lam I)|`` relative to the size of its terms before any cancellation.

    The diagonal of ``A - lam I`` can cancel (e.g. ``r + D_m k^2 - i omega`` when
    ``xi`` is small), so each factor is measured as ``|A_ii| + |lam|``: the
    rounding error of ``det`` is a few eps of this scale.
    """
    a = A - lam * np.eye(2)
    scale = ((abs(A[0, 0]) + abs(lam)) * (abs(A[1, 1]) + abs(lam))
             + abs(a[0, 1] * a[1, 0]))
    det = abs(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0])
    return det / scale if scale else det  # scale = 0: every entry of a product vanishes


CASES_44 = [(0.3, 0.05, 0.05, w) for w in (0.01, 0.3, 1.0, 30.0)] + [
    (0.01, 0.2, 0.05, 0.5), (0.09, 0.01, 0.05, 3.0), (1.0, 0.1, 0.2, 0.7), (0.5, 1.5, 0.3, 2.0)]


@pytest.mark.parametrize("xi, wM, wm, w", CASES_44)
def test_i_omega_is_an_eigenvalue_of_minus_gamma_at_k_omega(xi, wM, wm, w):
    D_m, r = 0.7, 1.3
    kw = {"D_m": D_m, "r": r, "xi": xi, "w_M": wM * r, "w_m": wm * r}
    omega = w * r
    k2 = an.k_squared(omega, **kw)
    A = eq33(k2, **kw)
    # det is a difference of two products each known to a few eps: 1e-13 relative
    assert det_residual(A, 1j * omega) < 1e-13
    # time domain: the mode (dM, dm) e^{ikx} evolves as exp(-i omega t) under
    # d/dt (dM, dm) = Gamma (dM, dm) (eqs. 28-29), i.e. gamma = i omega
    ev, vec = np.linalg.eig(-A)
    v = vec[:, np.argmin(abs(ev + 1j * omega))]
    t = 0.37 / max(r, omega)
    # expm to ~1e-15 relative; Gamma t = O(1): 1e-12
    np.testing.assert_allclose(scipy.linalg.expm(-A * t) @ v, np.exp(-1j * omega * t) * v,
                               atol=1e-12)

    # the printed eq. (44) is the complex conjugate ...
    printed = eq44_printed(omega, **kw)
    np.testing.assert_allclose(printed, np.conj(k2), rtol=1e-13)
    # ... whose mode goes as exp(+i omega t): -i omega is the eigenvalue, +i omega is not
    Ap = eq33(printed, **kw)
    assert det_residual(Ap, -1j * omega) < 1e-13
    assert det_residual(Ap, 1j * omega) > 1e-3, "printed eq. (44) would pass: sign not pinned"


@settings(max_examples=200, deadline=None)
@given(xi=st.floats(1e-3, 1.0), wM=st.floats(0.0, 2.0), wm=st.floats(0.0, 2.0),
       w=st.floats(-3.0, 3.0).map(lambda e: 10.0**e))
def test_dispersion_random_parameters(xi, wM, wm, w):
    kw = {"D_m": 1.0, "r": 1.0, "xi": xi, "w_M": wM, "w_m": wm}
    A = an.minus_gamma_matrix(an.k_squared(w, **kw), **kw)
    assert det_residual(A, 1j * w) < 1e-12  # as above, with margin for extreme ratios


# --------------------------------------------------------------------- limits
def test_long_wavelength_limit_eq37():
    xi = 0.3
    K = np.logspace(-5, -2, 4)
    gp, gm = an.gamma_pm(K, D_m=1.0, r=1.0, xi=xi)
    lp, lm = an.gamma_long_wavelength(K, D_m=1.0, r=1.0, xi=xi)
    for g, lim in ((gp, lp), (gm, lm)):
        err = abs(g / lim - 1)
        p = slope(K, err)
        assert abs(p - 1) < 0.05, f"relative error ~ (k/k_M)^(2*{p:.3f}), expected ^2"
        # leading term of both expansions: (1 - xi) k^2/k_M^2
        np.testing.assert_allclose(err / K, 1 - xi, rtol=0.02)


@pytest.mark.parametrize("wM, wm", [(0.0, 0.0), (0.05, 0.05), (0.2, 0.01)])
def test_short_wavelength_slow_branch(wM, wm):
    xi = 0.09
    K = np.logspace(2, 5, 4)
    _, gm = an.gamma_pm(K, D_m=1.0, r=1.0, xi=xi, w_M=wM, w_m=wm)
    lim = an.gamma_slow_short_wavelength(r=1.0, xi=xi, w_M=wM)
    assert lim == pytest.approx(wM + xi * (1 - wM), rel=4 * EPS)
    p = slope(K, abs(gm / lim - 1))
    assert abs(p + 1) < 0.05, f"relative error ~ (k/k_M)^(2*{p:.3f}), expected ^-2"


@pytest.mark.parametrize("xi", [0.01, 0.1, 0.5])
def test_low_and_high_frequency_limits_eqs42_43(xi):
    D_m, r = 3.0, 2.0
    low = xi * r * np.logspace(-6, -3, 4)
    err = abs(an.k_squared(low, D_m=D_m, r=r, xi=xi) / an.k2_low_frequency(low, D_m=D_m, xi=xi) - 1)
    p = slope(low, err)
    assert abs(p - 1) < 0.05, f"eq. (42) relative error ~ omega^{p:.3f}, expected omega^1"
    np.testing.assert_allclose(err / (low / r), (1 - xi) / xi, rtol=0.02)  # leading term

    high = r * np.logspace(3, 6, 4)
    err = abs(an.k_squared(high, D_m=D_m, r=r, xi=xi) / an.k2_high_frequency(high, D_m=D_m) - 1)
    p = slope(high, err)
    assert abs(p + 1) < 0.05, f"eq. (43) relative error ~ omega^{p:.3f}, expected omega^-1"
    np.testing.assert_allclose(err * (high / r), 1 - xi, rtol=0.02)


# ---------------------------------------------------------------- normal metal
def test_normal_metal_wavevector():
    cu = NormalMetal(chi_m=0.05, D_m=1e-2, tau_mL=1e-11)
    lam = math.sqrt(1e-2 * 1e-11)
    omega = np.logspace(8, 14, 13)
    expected_k2 = (1j * omega - 1e11) / 1e-2
    # a subtraction and a division: rtol 1e-15 (few eps)
    np.testing.assert_allclose(cu.k2(omega), expected_k2, rtol=1e-15)
    np.testing.assert_allclose(an.k_squared_normal(omega, D_m=1e-2, w_m=1e11), expected_k2,
                               rtol=1e-15)
    # q = sqrt(1 - i omega tau)/lambda_sf; principal roots on both sides: 1e-14
    np.testing.assert_allclose(cu.q(omega), np.sqrt(1 - 1j * omega * 1e-11) / lam, rtol=1e-14)
    assert cu.spin_diffusion_length == pytest.approx(lam, rel=1e-15)
    assert cu.q(0.0) == pytest.approx(1 / lam, rel=1e-15)


# ---------------------------------------------------------- q, k, lengths
@settings(max_examples=200, deadline=None)
@given(re=st.floats(-1e3, 1e3), im=st.floats(0.0, 1e3))
def test_q_root_has_positive_real_part(re, im):
    """Any k^2 with Im k^2 >= 0 (omega >= 0, lossy): Re q >= 0, Im k = Re q, k^2 = -q^2."""
    k2 = complex(re, im)
    q = an.q_from_k2(k2)
    k = an.k_from_q(q)
    assert q.real >= 0
    assert k.imag == q.real
    # a square root and a square: few eps (plus a floor for subnormal k^2)
    assert abs(k * k - k2) <= 8 * EPS * abs(k2) + 1e-300


@pytest.mark.parametrize("w", [0.0, 0.01, 0.3, 3.0, 300.0])
def test_q_of_a_ferromagnet_decays_and_travels_outwards(w):
    py = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=1.0, r=1.0, tau_ML=20.0, tau_mL=20.0)
    q = py.q(w)
    k = an.k_from_q(q)
    assert q.real > 0 and k.imag > 0
    if w > 0:  # exp(i(k x - omega t)) with Re k > 0: phase moves away from the injector
        assert k.real > 0
    x = np.array([0.0, 0.4, 1.3])
    field = np.exp(-q * x)
    ell = an.decay_length(q)
    # definitions of the lengths: amplitude falls by e over ell; phase turns by 2 pi
    np.testing.assert_allclose(abs(np.exp(-q * (x + ell)) / field), math.exp(-1), rtol=1e-14)
    lam = an.wavelength(q)
    if w > 0:
        ratio = np.exp(-q * (x + lam)) / field
        np.testing.assert_allclose(ratio / abs(ratio), 1.0, atol=1e-12)
    else:
        assert lam == np.inf


# ---------------------------------------------------------------- mu ratios
@pytest.mark.parametrize("w", [1e-3, 0.09, 1.0, 50.0])
@pytest.mark.parametrize("tau_ML", [math.inf, 20.0, 0.5])
def test_mu_ratios_satisfy_eqs28_29(w, tau_ML):
    py = Ferromagnet(chi_M=1.5, chi_m=0.3, D_m=0.8, r=1.2, tau_ML=tau_ML, tau_mL=20.0)
    dm, dM = py.mu_ratios(w)  # per unit mu
    # a few roundings each: rtol 1e-14 of the largest term
    scale = abs(dm) + py.xi * abs(dM) + py.chi_m
    assert abs(dm - (py.chi_m - py.xi * dM)) <= 1e-14 * scale
    assert abs(dM - (py.r - py.w_M) * dm / (py.w_M - 1j * w)) <= 1e-14 * abs(dM)
    # eq. (29) at frequency w for mu ~ exp(-q x):
    # -i w dm = D_m q^2 chi_m mu - (r + w_m) dm - xi w_m dM
    q2 = -py.k2(w)
    lhs, rhs = -1j * w * dm, py.D_m * q2 * py.chi_m - (py.r + py.w_m) * dm - py.xi * py.w_m * dM
    assert abs(lhs - rhs) <= 1e-13 * (abs(py.D_m * q2 * py.chi_m) + abs(dm) * (py.r + w))
    # normal metal: all of mu is m
    assert NormalMetal(chi_m=0.05, D_m=1.0).mu_ratios(w) == (0.05, 0)


def test_mu_ratios_static_limit_without_lattice_decay():
    """omega = 0, w_M = 0: eq. (28) forces dm = 0, so mu = xi dM/chi_m and dM = chi_M mu."""
    with np.errstate(all="raise"):
        dm, dM = an.mu_ratios(0.0, chi_m=0.3, r=1.0, xi=0.3)
    assert dm == 0 and dM == pytest.approx(1.0, rel=1e-15)  # chi_M = chi_m/xi = 1


# ---------------------------------------------------------------- layered bars
OMEGA = 0.7
F1 = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=1.0, r=1.0, tau_ML=20.0, tau_mL=20.0)
NM = NormalMetal(chi_m=0.05, D_m=5.0, tau_mL=2.0)
F2 = Ferromagnet(chi_M=2.0, chi_m=0.2, D_m=0.5, r=3.0, tau_mL=10.0)
J_IN = 2.0 - 0.5j


def layer(mat, n_decay):
    """A layer ``n_decay`` decay lengths thick."""
    q = mat.q(OMEGA)
    return an.BarLayer(n_decay / q.real, mat.sigma, q)


@pytest.mark.parametrize("far_end", ["insulating", "ground", "lead"])
@pytest.mark.parametrize("n_decay", [0.3, 2.0, 50.0])
def test_single_layer_equals_homogeneous_bar(far_end, n_decay):
    lay = layer(F1, n_decay)
    bar = an.LayeredBar([lay], J_IN, far_end=far_end)
    x = np.linspace(0.0, lay.thickness, 41)
    exact = an.homogeneous_bar(x, length=lay.thickness, sigma=lay.sigma, q=lay.q, j_in=J_IN,
                               far_end=far_end)
    # 2x2 solve vs closed form, both with decaying exponentials only: ~1e-15 relative
    np.testing.assert_allclose(bar.mu(x), exact, rtol=1e-12, atol=1e-14 * abs(exact[0]))
    assert np.all(np.isfinite(bar.mu(x)))


def check_bar_odes(bar, far_end, G_s):
    """Every condition of the layered-bar boundary-value problem, checked pointwise."""
    L = bar.edges[-1]
    mu0 = abs(bar.mu(0.0))
    scale = max(abs(J_IN), mu0 * max(abs(lay.q) * lay.sigma for lay in bar.layers))
    # injection flux.  Tolerances: residuals of a well-conditioned 2n x 2n complex
    # solve, ~1e-15 of the fluxes/values involved; 1e-11 leaves margin.
    s0 = bar.layers[0].sigma
    assert abs(-s0 * bar.dmu_dx(0.0) - J_IN) <= 1e-11 * scale
    for i, a in enumerate(bar.edges[1:-1]):
        right = np.nextafter(a, np.inf)  # the next float: first point of layer i+1
        sl, sr = bar.layers[i].sigma, bar.layers[i + 1].sigma
        ml, mr = bar.mu(a), bar.mu(right)
        fl, fr = -sl * bar.dmu_dx(a), -sr * bar.dmu_dx(right)
        # local scales: deep in a thick bar mu is ~exp(-50) of mu(0)
        vscale = max(abs(ml), abs(mr))
        fscale = max(abs(fl), sl * abs(bar.layers[i].q * ml), sr * abs(bar.layers[i + 1].q * mr))
        assert abs(fl - fr) <= 1e-11 * fscale, f"flux jumps at interface {i}"
        if np.isinf(G_s[i]):
            assert abs(ml - mr) <= 1e-11 * vscale, f"mu jumps at transparent interface {i}"
        else:
            assert abs(fl - G_s[i] * (ml - mr)) <= 1e-11 * (fscale + G_s[i] * vscale)
            assert abs(ml - mr) > 1e-3 * vscale  # a finite G_s really makes mu jump
    # mu'' = q^2 mu inside each layer, by central differences of mu.  Error:
    # truncation h^2 |q|^4 |mu| / 12 ~ 1e-7 |q^2 mu| with h = 1e-3/|q|, plus
    # rounding 4 eps |mu| / h^2 ~ 1e-9 |q^2 mu|: tolerance 1e-6.
    for i, lay in enumerate(bar.layers):
        h = 1e-3 / abs(lay.q)
        x = bar.edges[i] + np.linspace(0.1, 0.9, 5) * lay.thickness
        mu, dmu = bar.mu(x), bar.dmu_dx(x)
        size = abs(lay.q) ** 2 * np.maximum(abs(mu), abs(dmu) / abs(lay.q))
        d2 = (bar.mu(x + h) - 2 * mu + bar.mu(x - h)) / h**2
        assert np.all(abs(d2 - lay.q**2 * mu) <= 1e-6 * size), f"mu'' != q^2 mu in layer {i}"
        d1 = (bar.mu(x + h) - bar.mu(x - h)) / (2 * h)  # same error budget, one power less
        assert np.all(abs(d1 - dmu) <= 1e-6 * size / abs(lay.q)), f"dmu_dx wrong in layer {i}"
    last = bar.layers[-1]
    if far_end == "insulating":  # local scale |q mu(L)| (mu' = 0 there)
        assert abs(bar.dmu_dx(L)) <= 1e-11 * abs(last.q * bar.mu(L))
    elif far_end == "ground":  # local scale |mu'(L)/q| (mu = 0 there)
        assert abs(bar.mu(L)) <= 1e-11 * abs(bar.dmu_dx(L) / last.q)
    else:  # lead: a pure outgoing exp(-q x) beyond the last interface
        x = L + np.array([0.0, 1.0, 5.0]) / abs(last.q)
        np.testing.assert_allclose(bar.mu(x), bar.mu(x[0]) * np.exp(-last.q * (x - x[0])),
                                   rtol=1e-12)


STACKS = {
    "F/N": ([layer(F1, 0.8), layer(NM, 1.5)], [math.inf]),
    "F|N resistive": ([layer(F1, 0.8), layer(NM, 1.5)], [0.05]),
    "F/N/F": ([layer(F1, 0.5), layer(NM, 0.7), layer(F2, 1.2)], [math.inf, math.inf]),
    "F|N/F": ([layer(F1, 0.5), layer(NM, 0.7), layer(F2, 1.2)], [0.02, math.inf]),
    "F/N|F": ([layer(F1, 0.5), layer(NM, 0.7), layer(F2, 1.2)], [math.inf, 0.3]),
}


@pytest.mark.parametrize("far_end", ["insulating", "ground", "lead"])
@pytest.mark.parametrize("name", list(STACKS))
def test_layered_bar_solves_its_boundary_value_problem(name, far_end):
    layers, G_s = STACKS[name]
    bar = an.LayeredBar(layers, J_IN, far_end=far_end, G_s=G_s)
    check_bar_odes(bar, far_end, G_s)


def test_large_interface_conductance_recovers_transparent():
    layers = STACKS["F/N/F"][0]
    x = np.linspace(0.0, sum(lay.thickness for lay in layers), 57)
    ref = an.LayeredBar(layers, J_IN).mu(x)
    errs = []
    for G in (1e3, 1e4, 1e5, 1e6):
        mu = an.LayeredBar(layers, J_IN, G_s=[G, G]).mu(x)
        errs.append(np.max(abs(mu - ref)) / np.max(abs(ref)))
    p = slope([1e3, 1e4, 1e5, 1e6], errs)
    # the interface resistance 1/G_s adds a perturbation O(1/G_s)
    assert abs(p + 1) < 0.05, f"difference ~ G_s^{p:.3f}, expected G_s^-1"
    assert errs[-1] < 1e-5


@pytest.mark.parametrize("far_end", ["insulating", "ground", "lead"])
def test_thick_layers_do_not_overflow(far_end):
    layers = [layer(F1, 1.0), layer(NM, 50.0), layer(F2, 800.0)]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        bar = an.LayeredBar(layers, J_IN, far_end=far_end, G_s=[math.inf, 0.5])
        x = np.linspace(0.0, bar.edges[-1], 2001)
        mu = bar.mu(x)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(bar.coefficients))
    check_bar_odes(bar, far_end, [math.inf, 0.5])
    # across the 50-decay-length N layer the field falls by ~exp(-50)
    ratio = abs(bar.mu(bar.edges[2]) / bar.mu(bar.edges[1]))
    assert 0.1 * math.exp(-50) < ratio < 10 * math.exp(-50)


# -------------------------------------------------------- material validation
def test_ferromagnet_derived_quantities():
    py = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13, tau_ML=1e-9)
    assert py.xi == pytest.approx(0.3, rel=1e-15)
    assert py.r == pytest.approx(0.7e13, rel=1e-15)  # (1 - xi)/tau_mM, eq. (31)
    assert 1 / py.tau_Mm == pytest.approx(py.xi / py.tau_mM, rel=1e-15)  # Onsager, eq. (27)
    assert py.r == pytest.approx(1 / py.tau_mM - 1 / py.tau_Mm, rel=1e-14)
    assert py.k_M == pytest.approx(math.sqrt(0.7e13 / 2.5e-3), rel=1e-15)
    assert py.sigma == pytest.approx(2.5e-3 * 0.3, rel=1e-15)
    assert (py.w_M, py.w_m) == (pytest.approx(1e9, rel=1e-15), 0.0)
    same = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, r=0.7e13, tau_ML=1e-9)
    assert same.tau_mM == pytest.approx(1e-13, rel=1e-15)
    with pytest.raises(AttributeError):
        py.r = 1.0


@pytest.mark.parametrize("kwargs, loc", [
    ({"chi_M": 0.2, "chi_m": 0.3}, "chi_m"),
    ({"chi_M": 0.0}, "chi_M"),
    ({"chi_m": -0.1}, "chi_m"),
    ({"chi_M": math.nan}, "chi_M"),
    ({"D_m": 0.0}, "D_m"),
    ({"D_m": "fast"}, "D_m"),
    ({"tau_mM": 0.0}, "tau_mM"),
    ({"tau_mM": None, "r": -1.0}, "r"),
    ({"tau_ML": -1e-9}, "tau_ML"),
    ({"tau_mL": 0.0}, "tau_mL"),
    ({"tau_mM": 1e-13, "r": 7e12}, "tau_mM"),
    ({"tau_mM": None}, "tau_mM"),
])
def test_ferromagnet_rejects_bad_parameters(kwargs, loc):
    args = {"chi_M": 1.0, "chi_m": 0.3, "D_m": 2.5e-3, "tau_mM": 1e-13} | kwargs
    with pytest.raises(fem.DeviceError) as info:
        Ferromagnet(**args)
    assert info.value.loc == loc
    assert str(info.value).startswith(f"{loc}: ")


@pytest.mark.parametrize("kwargs, loc", [
    ({"chi_m": 0.0}, "chi_m"), ({"D_m": -1.0}, "D_m"), ({"tau_mL": 0.0}, "tau_mL")])
def test_normal_metal_rejects_bad_parameters(kwargs, loc):
    with pytest.raises(fem.DeviceError) as info:
        NormalMetal(**({"chi_m": 0.05, "D_m": 1e-2, "tau_mL": 1e-11} | kwargs))
    assert info.value.loc == loc


def test_kappa_finite_when_exchange_drive_vanishes():
    """xi = 1 (r = 0) at omega = 0 without lattice decay: dM decouples, kappa -> w_m."""
    with np.errstate(all="raise"):
        assert an.kappa(0.0, r=0.0, xi=1.0, w_M=0.0, w_m=0.3) == pytest.approx(0.3)


def test_slow_rate_accurate_at_long_wavelength():
    """gamma- ~ xi D k^2 (1 - (1 - xi) k^2/k_M^2) even at k^2/k_M^2 = 1e-12, where
    (tr - root)/2 would lose ~4 digits to cancellation; 1e-12 relative is rounding."""
    k2 = 1e-12
    _, minus = an.gamma_pm(k2, D_m=1.0, r=1.0, xi=0.3)
    assert float(minus) == pytest.approx(0.3 * k2 * (1 - 0.7 * k2), rel=1e-12)
