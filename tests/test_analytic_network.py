"""The 1D network model of a lateral nonlocal spin valve (fem.core.analytic), each
result against an independent oracle.

Oracles: the defining conditions of the network checked pointwise (current
conservation and junction laws at every node and end, ``mu'' = q^2 mu`` by
finite differences in every branch); a closed form derived separately (Norton
sources + the infinite channel's Green function, :func:`nlsv_closed_form`)
against the linear system of :class:`NonlocalSpinValve1D`; a brute-force 1D P1
finite-element solve on the graph (written here, sharing no code with
``fem.core.analytic``) with its measured h^2 convergence and Richardson
extrapolation; limits whose error is shown to fall at the expected rate
(``np.polyfit`` slope over >= 4 points); and textbook special cases
(a floating electrode is an insulated bar, a non-relaxing electrode a lossless
wire, a point injection splits half/half into two leads).

Realistic parameters: Cu channel ``chi_m = 0.05, D_m = 1e-2 m^2/s, tau_mL = 1e-11 s``
(100 nm x 50 nm), Py electrodes ``chi_M = 1, chi_m = 0.3, D_m = 2.5e-3 m^2/s,
tau_mM = 1e-13 s, tau_ML = 1e-9 s, tau_mL = 5e-12 s`` (pillar 100 nm x 100 nm,
20 nm thick), L = 500 nm.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import fem
from fem.core import analytic as an

CU = fem.NormalMetal(chi_m=0.05, D_m=1e-2, tau_mL=1e-11)
PY = fem.Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13, tau_ML=1e-9, tau_mL=5e-12)
PY_NO_LATTICE = fem.Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13)
FREQS = (0.0, 1e9, 1e10, 1e11, 1e12)  # Hz
G_SS = (np.inf, 1e5, 1e3)  # m/s: transparent, ~ sigma_F q_F, ~ sigma_N q_N
I_IN = 1e-20 * (0.8 - 0.6j)  # A m^2/s (1e-20 ~ 1e-6 A/s over 1e-14 m^2)


def slope(x, y):
    """Fitted exponent p of ``y ~ x^p``."""
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def params(f_Hz=1e9, **over):
    w = 2 * np.pi * f_Hz
    p = dict(sigma_N=CU.sigma, q_N=CU.q(w), A_N=100e-9 * 50e-9, sigma_F=PY.sigma, q_F=PY.q(w),
             A_F=100e-9 * 100e-9, t_F=20e-9, L=500e-9, I_in=I_IN, G_s=np.inf)
    p.update(over)
    return p


# ------------------------------------------------------------------ oracles
def graph_fem(p, qh=0.02, refine=1, far_decays=3.0):
    """P1 FEM of the NLSV graph: five branches (three channel, two electrodes).

    Each branch of length d, conductance gA and decay constant q gets
    ``n = refine * max(8, ceil(d |q| / qh))`` equal elements with element
    matrix ``gA/h [[1,-1],[-1,1]] + gA q^2 h/6 [[2,1],[1,2]]``.  The channel
    is cut ``far_decays`` decay lengths beyond each node; there the Robin
    condition ``-gA mu' = gA q mu`` (the semi-infinite lead's exact
    Dirichlet-to-Neumann map) is added.  A junction of finite ``G_s`` is a
    conductance ``G_s A_c`` between two distinct nodes; a transparent one is
    one shared node.  Returns the values at the named points.
    """
    qN, qF = complex(p["q_N"]), complex(p["q_F"])
    gN, gF = p["sigma_N"] * p["A_N"], p["sigma_F"] * p["A_F"]
    X = far_decays / qN.real
    transparent = math.isinf(p["G_s"])
    names = ["FL", "N0", "N1", "FR", "IT", "DT"] + ([] if transparent else ["IB", "DB"])
    idx = {n: i for i, n in enumerate(names)}
    if transparent:
        idx["IB"], idx["DB"] = idx["N0"], idx["N1"]
    branches = [(X, gN, qN, "FL", "N0"), (p["L"], gN, qN, "N0", "N1"), (X, gN, qN, "N1", "FR"),
                (p["t_F"], gF, qF, "IT", "IB"), (p["t_F"], gF, qF, "DT", "DB")]
    rows, cols, vals = [], [], []
    nnodes = len(names)
    for d, gA, q, a, b in branches:
        n = refine * max(8, math.ceil(d * abs(q) / qh))
        h = d / n
        chain = [idx[a]] + list(range(nnodes, nnodes + n - 1)) + [idx[b]]
        nnodes += n - 1
        ke = gA / h * np.array([[1, -1], [-1, 1]]) + gA * q**2 * h / 6 * np.array([[2, 1], [1, 2]])
        for i, j in zip(chain[:-1], chain[1:]):
            for (r, c), v in zip([(i, i), (i, j), (j, i), (j, j)], ke.ravel()):
                rows.append(r)
                cols.append(c)
                vals.append(v)
    for end in ("FL", "FR"):
        rows.append(idx[end]); cols.append(idx[end]); vals.append(gN * qN)  # noqa: E702
    if not transparent:
        G = p["G_s"] * p.get("A_c", p["A_F"])
        for a, b in (("IB", "N0"), ("DB", "N1")):
            for (r, c), v in zip([(a, a), (a, b), (b, a), (b, b)], (G, -G, -G, G)):
                rows.append(idx[r]); cols.append(idx[c]); vals.append(v)  # noqa: E702
    scale = abs(gN * qN)
    K = sp.csc_matrix((np.array(vals) / scale, (rows, cols)), shape=(nnodes, nnodes))
    rhs = np.zeros(nnodes, dtype=complex)
    rhs[idx["IT"]] = p["I_in"] / scale
    u = spla.spsolve(K, rhs)
    return {n: u[idx[n]] for n in ("N0", "N1", "IT", "IB", "DT", "DB")}


def exact_values(net):
    return {"N0": net.mu_nodes[0], "N1": net.mu_nodes[1], "IT": net.mu_injector,
            "IB": net.mu_bottoms[0], "DT": net.mu_detector, "DB": net.mu_bottoms[1]}


# --------------------------------------------------------- point injection
@pytest.mark.parametrize("f_Hz", FREQS)
def test_channel_point_injection_is_two_half_leads(f_Hz):
    """Oracle: each half of the channel is a semi-infinite lead fed with I_in/2
    (``homogeneous_bar(far_end="lead")``); the current jump at 0 is I_in."""
    q = CU.q(2 * np.pi * f_Hz)
    A, I0 = 5e-15, I_IN
    x = np.linspace(0, 5 / q.real, 11)
    half = an.homogeneous_bar(x, length=1.0, sigma=CU.sigma, q=q, j_in=I0 / (2 * A),
                              far_end="lead")
    for sign in (1, -1):
        got = an.channel_point_injection(sign * x, I_in=I0, sigma=CU.sigma, q=q, area=A)
        np.testing.assert_allclose(got, half, rtol=1e-14)
    # current jump from second-order one-sided differences at 0+ and 0-
    # (truncation (q h)^2/3 ~ 3e-9, rounding ~ 3 eps/(q h) ~ 7e-12, relative)
    h = 1e-4 / abs(q)
    mu = lambda y: an.channel_point_injection(y, I_in=I0, sigma=CU.sigma, q=q, area=A)  # noqa: E731
    d_plus = (-3 * mu(0.0) + 4 * mu(h) - mu(2 * h)) / (2 * h)
    d_minus = (3 * mu(0.0) - 4 * mu(-h) + mu(-2 * h)) / (2 * h)
    jump = -CU.sigma * A * (d_plus - d_minus)
    assert abs(jump - I0) <= 1e-7 * abs(I0)


# ---------------------------------------------------- (a) conditions pointwise
CASES_A = [dict(f_Hz=f, G_s=G) for f in FREQS for G in G_SS] + [
    dict(f_Hz=1e10, G_s=0.0),
    dict(f_Hz=1e10, G_s=3e3, A_c=4e-15),                      # contact smaller than footprint
    dict(f_Hz=1e11, L=40 / CU.q(2 * np.pi * 1e11).real,       # many decay lengths
         t_F=30 / PY.q(2 * np.pi * 1e11).real, G_s=1e4),
]


CASE_IDS = ["-".join(f"{k}={v:.3g}" for k, v in c.items()) for c in CASES_A]


def _branch_points(net):
    """(mu, dmu, q, interior sample points) per branch."""
    qN, qF, L, t = net.q_N, net.q_F, net.L, net.t_F
    lam = 1 / qN.real
    ch = lambda b: (lambda y: net.mu_channel(y, b), lambda y: net.dmu_channel_dx(y, b))  # noqa
    el = lambda w: (lambda y: net.mu_electrode(y, w), lambda y: net.dmu_electrode_ds(y, w))  # noqa
    return [(*ch("left"), qN, np.linspace(-4 * lam, -0.05 * lam, 6)),
            (*ch("middle"), qN, L * np.linspace(0.02, 0.98, 7)),
            (*ch("right"), qN, L + np.linspace(0.05, 4, 6) * lam),
            (*el("injector"), qF, t * np.linspace(0.05, 0.95, 5)),
            (*el("detector"), qF, t * np.linspace(0.05, 0.95, 5))]


@pytest.mark.parametrize("case", CASES_A, ids=CASE_IDS)
def test_network_conditions_hold_pointwise(case):
    case = dict(case)
    p = params(case.pop("f_Hz"), **case)
    net = an.NonlocalSpinValve1D(**p)
    gF = p["sigma_F"] * p["A_F"]
    L, t = p["L"], p["t_F"]
    tol = 1e-12  # residuals of an 8x8 backward-stable solve, relative to the row's terms

    # injector top: current I_in in; detector top: insulating
    assert abs(net.electrode_current(0.0, "injector") - p["I_in"]) <= tol * abs(p["I_in"])
    top, bot = net.mu_detector, net.mu_bottoms[1]
    row = gF * (abs(top) * abs(an._sinh_ratio_ds(net.q_F, t, t))
                + abs(bot) * abs(an._sinh_ratio_ds(net.q_F, 0.0, t)))
    assert abs(net.electrode_current(0.0, "detector")) <= tol * row + 1e-300
    for k, (x0, which) in enumerate(((0.0, "injector"), (L, "detector"))):
        lb, rb = ("left", "middle") if k == 0 else ("middle", "right")
        # mu continuous along the channel at the node
        ml, mr = net.mu_channel(x0, lb), net.mu_channel(x0, rb)
        assert abs(ml - mr) <= tol * max(abs(ml), abs(mr), 1e-300)
        # Kirchhoff: current down the electrode's bottom = current into the branches
        J = net.electrode_current(t, which)
        into = net.channel_current(x0, rb) - net.channel_current(x0, lb)
        # (I_in, the system's own scale, bounds the rounding too: with G_s = 0 nothing
        # crosses the junctions and J is 2.6e-16 I_in of rounding, which relative to the
        # zero currents it should match is anything)
        terms = (abs(J) + abs(net.channel_current(x0, rb)) + abs(net.channel_current(x0, lb))
                 + abs(p["I_in"]))
        assert abs(J - into) <= tol * terms
        assert abs(J - net.junction_currents[k]) <= tol * terms
        # junction law
        mu_F = net.mu_electrode(t, which)
        if math.isinf(p["G_s"]):
            assert abs(mu_F - ml) <= tol * abs(ml)
        else:
            Gc = p["G_s"] * p.get("A_c", p["A_F"])
            assert abs(J - Gc * (mu_F - ml)) <= tol * (abs(J) + Gc * (abs(mu_F) + abs(ml))
                                                        + abs(p["I_in"]))
    # semi-infinite branches carry only the decaying wave: mu' = -+ q mu
    for x, sgn, b in ((-2 / net.q_N.real, 1, "left"), (L + 2 / net.q_N.real, -1, "right")):
        assert abs(net.dmu_channel_dx(x, b) - sgn * net.q_N * net.mu_channel(x, b)) <= (
            tol * abs(net.q_N * net.mu_channel(x, b)))
    # mu'' = q^2 mu and mu' by finite differences in every branch.  Central
    # second difference, q h = 1e-3: truncation (qh)^2/12 ~ 1e-7, rounding
    # ~ 4 eps/(qh)^2 ~ 1e-9 (relative); first difference at q h = 1e-4:
    # (qh)^2/6 ~ 2e-9 + eps/(qh) ~ 2e-12.  Scale: |mu| at the three points.
    for mu, dmu, q, xs in _branch_points(net):
        h2, h1 = 1e-3 / abs(q), 1e-4 / abs(q)
        m0, mp, mm = mu(xs), mu(xs + h2), mu(xs - h2)
        scale = np.abs(m0) + np.abs(mp) + np.abs(mm)
        d2 = (mp - 2 * m0 + mm) / h2**2
        assert np.all(np.abs(d2 - q**2 * m0) <= 1e-6 * abs(q) ** 2 * scale)
        d1 = (mu(xs + h1) - mu(xs - h1)) / (2 * h1)
        assert np.all(np.abs(d1 - dmu(xs)) <= 1e-7 * abs(q) * scale)


@pytest.mark.parametrize("case", CASES_A, ids=CASE_IDS)
def test_linear_system_matches_closed_form(case):
    """Two derivations (8x8 nodal system; Norton + Green function by hand)
    agree to rounding (1e-12 relative; both sides are O(10) flops of O(1) terms)."""
    case = dict(case)
    p = params(case.pop("f_Hz"), **case)
    net = an.NonlocalSpinValve1D(**p)
    cf = an.nlsv_closed_form(**p)
    assert an.nlsv_network(**p) == net.mu_detector
    pairs = [(net.mu_detector, cf.mu_detector), (net.mu_injector, cf.mu_injector),
             (net.mu_nodes[0], cf.mu_node_injector), (net.mu_nodes[1], cf.mu_node_detector),
             (net.junction_currents[0], cf.J_injector),
             (net.junction_currents[1], cf.J_detector)]
    for got, want in pairs:
        assert abs(got - want) <= 1e-12 * abs(want) + 1e-300, (got, want)
    assert np.isfinite(net.mu_detector)


def test_far_regime_is_finite_and_tiny():
    """L = 200/Re q_N and t_F = 100/Re q_F: no overflow; mu_det ~ e^{-400}."""
    p = params(1e10, L=200 / CU.q(2 * np.pi * 1e10).real, t_F=100 / PY.q(2 * np.pi * 1e10).real)
    net = an.NonlocalSpinValve1D(**p)
    cf = an.nlsv_closed_form(**p)
    assert net.mu_detector != 0 and abs(net.mu_detector - cf.mu_detector) <= 1e-11 * abs(
        cf.mu_detector)
    assert abs(net.mu_injector - cf.mu_injector) <= 1e-12 * abs(cf.mu_injector)


# ----------------------------------------------------------- (b) thin limits
@pytest.mark.parametrize("sigma_factor", (1e-3, 1.0, 1e3))
def test_thin_detector_reads_its_channel_node(sigma_factor):
    """Transparent, t_F -> 0, any sigma_F: mu_det -> mu_N(L); error ~ t_F^2
    (``1 - sech(q_F t_F)``)."""
    ts = 20e-9 * np.logspace(0, -3, 7)
    err = []
    for t in ts:
        net = an.NonlocalSpinValve1D(**params(1e10, t_F=t, sigma_F=PY.sigma * sigma_factor))
        node = net.mu_channel(net.L)
        err.append(abs(net.mu_detector - node) / abs(node))
    assert err[-1] < 1e-7
    assert abs(slope(ts, err) - 2.0) < 0.02


def test_thin_weak_electrodes_recover_point_injection():
    """t_F -> 0, transparent: mu_det -> I_in e^{-q_N L}/(2 sigma_N q_N A_N) with
    ``mu_det/that - 1 = -2g - (q_F t_F)^2 + O(t_F^2)``, g = Y_F/(2 Y_N) ~ t_F:
    the difference falls as t_F^1 and matches its leading term."""
    p0 = params(1e10)
    pt = an.channel_point_injection(p0["L"], I_in=I_IN, sigma=CU.sigma, q=p0["q_N"], area=p0["A_N"])
    ts = 20e-9 * np.logspace(0, -4, 9)
    diff, lead = [], []
    for t in ts:
        p = params(1e10, t_F=t)
        net = an.NonlocalSpinValve1D(**p)
        diff.append(abs(net.mu_detector / pt - 1))
        g = p["sigma_F"] * p["A_F"] * p["q_F"] * np.tanh(p["q_F"] * t) / (
            2 * p["sigma_N"] * p["A_N"] * p["q_N"])
        lead.append(abs(-2 * g - (p["q_F"] * t) ** 2))
    diff, lead = np.array(diff), np.array(lead)
    assert diff[-1] < 1e-3 and diff[0] > 0.5  # realistic Py pillar: far from the limit
    assert abs(slope(ts[-5:], diff[-5:]) - 1.0) < 0.02
    rel = np.abs(diff / lead - 1)
    assert rel[-1] < 1e-3 and abs(slope(ts[-5:], rel[-5:]) - 1.0) < 0.05
    # weak absorption alone (sigma_F A_F -> 0 at fixed t_F) leaves the F bulk's
    # own relaxation, |1 - sech^2(q_F t_F)|: both limits are needed.
    net = an.NonlocalSpinValve1D(**params(1e10, sigma_F=PY.sigma * 1e-9))
    z = p0["q_F"] * p0["t_F"]
    assert abs(net.mu_detector / pt - 1 / np.cosh(z) ** 2) < 1e-6


def test_non_relaxing_electrode_is_a_lossless_wire():
    """Py without lattice decay at omega = 0 has q_F = 0 exactly: the electrodes
    shunt nothing, so mu_det is the point-injection value and the injector top
    sits an ohmic drop I_in t_F/(sigma_F A_F) above its node."""
    q_F = PY_NO_LATTICE.q(0.0)
    assert q_F == 0
    p = params(0.0, q_F=q_F, sigma_F=PY_NO_LATTICE.sigma)
    net = an.NonlocalSpinValve1D(**p)
    pt = an.channel_point_injection([0.0, p["L"]], I_in=I_IN, sigma=CU.sigma, q=p["q_N"],
                                    area=p["A_N"])
    assert abs(net.mu_detector - pt[1]) <= 1e-13 * abs(pt[1])
    drop = I_IN * p["t_F"] / (p["sigma_F"] * p["A_F"])
    assert abs(net.mu_injector - (pt[0] + drop)) <= 1e-13 * abs(pt[0] + drop)
    cf = an.nlsv_closed_form(**p)
    assert abs(cf.mu_injector - net.mu_injector) <= 1e-13 * abs(net.mu_injector)


def test_strong_absorption_limit():
    """|g| >> 1 (thick, highly conducting electrodes): mu_det ->
    I_in Y_N sech^2(z)/(Y_F^2 sinh(q_N L)), relative error ~ 2/|g|."""
    fs = np.logspace(1, 4, 5)
    err, gs = [], []
    for fac in fs:
        p = params(1e10, sigma_F=PY.sigma * fac)
        net = an.NonlocalSpinValve1D(**p)
        lim = an.nlsv_detector_limits(**p)["strong_absorption"]
        err.append(abs(net.mu_detector / lim - 1))
        gs.append(abs(an.nlsv_closed_form(**p).g))
    assert err[-1] < 1e-3 and abs(slope(gs, err) + 1.0) < 0.05


# ------------------------------------------------ (c) brute-force graph FEM
@pytest.mark.parametrize("G_s", G_SS)
@pytest.mark.parametrize("f_Hz", FREQS)
def test_matches_graph_fem(f_Hz, G_s):
    """P1 FEM on the graph at three meshes (q h = 0.02, 0.01, 0.005): observed
    order 2 +- 0.05 at every named point; finest raw error < 1e-4; the
    Richardson value (4 u_{h/2} - u_h)/3 of the two finest within 1e-6 (its
    O(h^4) remainder, ~ (error at h/4)^2, is ~1e-9 here)."""
    p = params(f_Hz, G_s=G_s)
    exact = exact_values(an.NonlocalSpinValve1D(**p))
    sols = [graph_fem(p, refine=r) for r in (1, 2, 4)]
    for key, want in exact.items():
        if want == 0:
            continue
        e = [abs(s[key] - want) / abs(want) for s in sols]
        assert e[2] < 1e-4, (key, e)
        assert abs(math.log2(e[1] / e[2]) - 2.0) < 0.05, (key, e)
        rich = (4 * sols[2][key] - sols[1][key]) / 3
        assert abs(rich - want) / abs(want) < 1e-6, (key, e)


def test_graph_fem_truncation_is_exact_with_robin():
    """The Robin ends are the leads' exact Dirichlet-to-Neumann map: cutting the
    channel 1 or 6 decay lengths out changes the FEM only at the level of its
    O(h^2) discretisation error."""
    p = params(1e11, G_s=1e4)
    a, b = graph_fem(p, far_decays=1.0, refine=2), graph_fem(p, far_decays=6.0, refine=2)
    want = an.nlsv_network(**p)
    assert abs(a["DT"] - want) / abs(want) < 1e-4 and abs(b["DT"] - want) / abs(want) < 1e-4


# --------------------------------------------------------- (d) G_s limits
def test_large_Gs_recovers_transparent_at_rate_one():
    p = params(1e10)
    tr = an.nlsv_network(**p)
    Y_F = abs(p["sigma_F"] * p["A_F"] * p["q_F"] * np.tanh(p["q_F"] * p["t_F"]))
    G = Y_F / p["A_F"] * np.logspace(2, 6, 5)
    err = [abs(an.nlsv_network(**{**p, "G_s": g}) / tr - 1) for g in G]
    assert err[-1] < 1e-5 and abs(slope(G, err) + 1.0) < 0.01


def test_small_Gs_decouples_at_rate_two():
    """G_s -> 0: |mu_det| ~ G_s^2 (two junctions in series) and matches the
    weak-coupling formula with relative error O(G_s)."""
    p = params(1e10)
    Y_N = abs(p["sigma_N"] * p["A_N"] * p["q_N"])
    G = Y_N / p["A_F"] * np.logspace(-2, -6, 5)
    mus = np.array([an.nlsv_network(**{**p, "G_s": g}) for g in G])
    lims = np.array([an.nlsv_detector_limits(**{**p, "G_s": g})["weak_coupling"] for g in G])
    assert abs(slope(G, np.abs(mus)) - 2.0) < 0.01
    rel = np.abs(mus / lims - 1)
    assert rel[-1] < 1e-5 and abs(slope(G, rel) - 1.0) < 0.02


def test_zero_Gs_floating_injector_is_an_insulated_bar():
    """G_s = 0: nothing reaches the channel; the injector is a bar with
    insulating far end (``homogeneous_bar``), the detector reads 0."""
    p = params(1e10, G_s=0.0)
    net = an.NonlocalSpinValve1D(**p)
    assert net.mu_detector == 0 and net.mu_nodes == (0, 0)
    s = np.linspace(0, p["t_F"], 5)
    bar = an.homogeneous_bar(s, length=p["t_F"], sigma=p["sigma_F"], q=p["q_F"],
                             j_in=I_IN / p["A_F"])
    np.testing.assert_allclose(net.mu_electrode(s, "injector"), bar, rtol=1e-13)


def test_bad_parameters_raise():
    for bad in (dict(G_s=-1.0), dict(t_F=0.0), dict(L=-1e-9), dict(q_N=1j * 1e6),
                dict(A_c=0.0), dict(q_F=-1e6)):
        with pytest.raises(ValueError):
            an.NonlocalSpinValve1D(**params(1e9, **bad))
