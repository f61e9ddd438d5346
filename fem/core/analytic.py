"""Exact results of the longitudinal M/m model (numpy only).

Conventions: fields go as ``Re[X exp(-i omega t)]``;
in space a wave decaying away from an injector at ``x = 0`` goes as
``exp(i k x) = exp(-q x)`` with ``q = -i k`` and ``Re q > 0``.  Equation numbers
are those of Saslow, Sun and Xu (2021).  Eq. (44) is used sign-corrected: as
printed it is the complex conjugate of the ``exp(-i omega t)`` result.

Every rate is in 1/s, every length in m, ``D_m`` in m^2/s; the functions are
unit-agnostic, so they work equally in scaled units.

>>> import numpy as np
>>> k2 = k_squared(2.0, D_m=1.0, r=1.0, xi=0.5)          # eq. (41), r = k_M = 1
>>> bool(np.isclose(k2, 1j * 2.0 * (2.0 + 1j) / (2.0 + 0.5j)))
True
>>> q = q_from_k2(k2); bool(q.real > 0)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

FarEnd = Literal["insulating", "ground", "lead"]


# ---------------------------------------------------------------- dispersion
def kappa(omega, *, r: float, xi: float, w_M: float = 0.0, w_m: float = 0.0):
    """Complex relaxation rate ``kappa(omega)`` [1/s] of the spin potential.

    In a uniform material the spin potential obeys
    ``-div(sigma grad mu) + chi_m kappa mu = 0`` after the local ``dM`` is
    eliminated (eq. (28) solved for ``dM`` at frequency ``omega``, put into eq. (29))::

        kappa = w_m + (r - i omega)(w_M - i omega) / (w_M - i omega + xi (r - w_M))

    A normal metal is ``r = xi = w_M = 0``: ``kappa = w_m - i omega``.
    """
    omega = np.asarray(omega, dtype=float)
    if xi == 0.0:
        return w_m + r - 1j * omega
    if r == w_M:  # no net exchange drive: dM decouples, (r - i omega) s / s
        return w_m + r - 1j * omega
    s = w_M - 1j * omega
    return w_m + (r - 1j * omega) * s / (s + xi * (r - w_M))


def k_squared(omega, *, D_m: float, r: float, xi: float, w_M: float = 0.0, w_m: float = 0.0):
    """Complex ``k^2(omega)`` [1/m^2] of a ferromagnet, eq. (44) sign-corrected.

    ``k^2 = -kappa / D_m``; with ``w_M = w_m = 0`` this is eq. (41),
    ``k^2/k_M^2 = i (omega/r)(omega + i r)/(omega + i xi r)``.
    """
    return -kappa(omega, r=r, xi=xi, w_M=w_M, w_m=w_m) / D_m


def k_squared_normal(omega, *, D_m: float, w_m: float = 0.0):
    """Complex ``k^2(omega) = (i omega - w_m)/D_m`` [1/m^2] of a normal metal."""
    return (1j * np.asarray(omega, dtype=float) - w_m) / D_m


def q_from_k2(k2):
    """Spatial decay constant ``q = -i k`` [1/m], the root with ``Re q > 0``."""
    return np.sqrt(-np.asarray(k2, dtype=complex))


def k_from_q(q):
    """Wavevector ``k = i q`` [1/m]; ``Im k = Re q > 0`` decays towards ``+x``."""
    return 1j * np.asarray(q, dtype=complex)


def decay_length(q):
    """Decay length ``1/Re q`` [m]."""
    return 1.0 / np.real(q)


def wavelength(q):
    """Wavelength ``2 pi/|Im q|`` [m] (infinite for a purely decaying field)."""
    with np.errstate(divide="ignore"):
        return 2.0 * np.pi / np.abs(np.imag(q))


def k2_low_frequency(omega, *, D_m: float, xi: float):
    """Limit (42), ``omega << xi r``: ``k^2 -> i omega/(xi D_m)`` (no lattice decay)."""
    return 1j * np.asarray(omega, dtype=float) / (xi * D_m)


def k2_high_frequency(omega, *, D_m: float):
    """Limit (43), ``omega >> r``: ``k^2 -> i omega / D_m`` (no lattice decay)."""
    return 1j * np.asarray(omega, dtype=float) / D_m


# ------------------------------------------------------------- local ratios
def dM_per_dm(omega, *, r: float, w_M: float = 0.0):
    """``dM/dm = (r - w_M)/(w_M - i omega)`` from eq. (28) at frequency omega."""
    return (r - w_M) / (w_M - 1j * np.asarray(omega, dtype=float))


def mu_ratios(omega, *, chi_m: float, r: float, xi: float, w_M: float = 0.0):
    """``(dm/mu, dM/mu)`` in a ferromagnet at frequency ``omega``.

    From ``mu = (dm + xi dM)/chi_m`` and ``dM = a dm`` with ``a = dM/dm``:
    ``dm = chi_m mu/(1 + xi a)``, ``dM = a dm``.  A normal metal (``xi = 0``)
    gives ``(chi_m, 0)``.
    """
    if xi == 0.0:
        omega = np.asarray(omega, dtype=float)
        return chi_m + 0j * omega, 0j * omega
    # the same ratios multiplied through by s = w_M - i omega: finite at omega = w_M = 0
    s = w_M - 1j * np.asarray(omega, dtype=float)
    den = s + xi * (r - w_M)
    return chi_m * s / den, chi_m * (r - w_M) / den


# ------------------------------------------------------------ time domain
def minus_gamma_matrix(k2, *, D_m: float, r: float, xi: float, w_M: float = 0.0, w_m: float = 0.0):
    """The matrix ``-Gamma`` of eq. (33) acting on ``(dM, dm)``; shape ``(..., 2, 2)``.

    Modes ``exp(-gamma t + i k x)`` have ``gamma`` among its eigenvalues.
    """
    k2 = np.asarray(k2)
    d = w_m + D_m * k2
    out = np.empty(k2.shape + (2, 2), dtype=np.result_type(k2, float))
    out[..., 0, 0] = w_M
    out[..., 0, 1] = w_M - r
    out[..., 1, 0] = xi * d
    out[..., 1, 1] = r + d
    return out


def gamma_pm(k2, *, D_m: float, r: float, xi: float, w_M: float = 0.0, w_m: float = 0.0):
    """Eigenrates ``(gamma+, gamma-)`` [1/s] at wavevector ``k^2`` [1/m^2], eq. (39).

    Eq. (36) is the case ``w_M = w_m = 0``.  Written with rates (not divided
    by ``r``) so that ``r = 0`` is allowed.
    """
    dk2 = D_m * np.asarray(k2)
    tr = w_m + w_M + dk2 + r
    disc = (w_m - w_M + dk2 + r) ** 2 - 4.0 * xi * (r - w_M) * (dk2 + w_m)
    root = np.sqrt(disc + 0j)
    if np.all(np.abs(root.imag) <= 1e-14 * np.abs(root.real) + 1e-300):
        root = root.real
    plus = 0.5 * (tr + root)
    # gamma- = det/gamma+ avoids the cancellation in (tr - root)/2 at small k
    det = w_M * (r + dk2 + w_m) + xi * (r - w_M) * (dk2 + w_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        minus = np.where(plus != 0, det / np.where(plus != 0, plus, 1), 0.5 * (tr - root))
    return plus, minus


def gamma_long_wavelength(k2, *, D_m: float, r: float, xi: float):
    """Limit (37), ``k -> 0`` without lattice decay: ``(r, xi D_m k^2)``."""
    k2 = np.asarray(k2, dtype=float)
    return r + 0.0 * k2, xi * D_m * k2


def gamma_slow_short_wavelength(*, r: float, xi: float, w_M: float = 0.0):
    """``k -> infinity`` limit of the slow branch: ``w_M + xi (r - w_M)``."""
    return w_M + xi * (r - w_M)


# ------------------------------------------------------- exact layered bars
class BarLayer(NamedTuple):
    """One layer of a 1D bar: thickness [m], ``sigma = D_m chi_m`` [m^2/s], ``q`` [1/m]."""

    thickness: float
    sigma: float
    q: complex


class LayeredBar:
    """Exact ``mu(x)`` of a layered bar ``0 < x < sum(thickness)`` at one frequency.

    Spin current ``j_in`` [A/s] (per unit area, into the device) is injected
    at ``x = 0``; interfaces are transparent (``G_s = inf``) or carry an
    interface spin conductance ``G_s`` [m/s] with ``-sigma mu' = G_s (mu- - mu+)``;
    the far end is ``"insulating"`` (``mu' = 0``), ``"ground"`` (``mu = 0``)
    or ``"lead"`` (the last layer continues to infinity).

    ``near_end = "ground"`` holds ``mu(0) = 0`` instead (``j_in`` must then be 0; the
    bar is driven by ``sources``).

    ``sources`` adds a junction injection at interfaces: ``{i: (s_left, s_right)}``
    [A/s] injects ``s_left`` on the left side and ``s_right`` on the right side of
    interface ``i`` (between layers ``i`` and ``i + 1``).  With ``F(x) = -sigma mu'``
    the current along ``+x``, the interface current ``J`` obeys
    ``F(a-) = J - s_left`` and ``F(a+) = J + s_right``, and ``J = G_s (mu- - mu+)``
    (transparent: ``mu`` continuous, ``F(a+) - F(a-) = s_left + s_right``).  This is a
    charge current ``j_c`` crossing from a ferromagnet (bulk polarization ``P_F``) into
    a normal metal through a junction of polarization ``P_I``:
    ``s_left = (P_F - P_I) j_c``, ``s_right = P_I j_c``.

    In layer ``i`` (local coordinate ``s = x - x_i``, thickness ``d``) the
    solution is ``A_i exp(-q s) + B_i exp(-q (d - s))``: both terms are bounded
    by their coefficients, so the linear system stays well conditioned for
    layers many decay lengths thick.
    """

    def __init__(
        self,
        layers: Sequence[BarLayer],
        j_in: complex,
        far_end: FarEnd = "insulating",
        G_s: Sequence[float] | None = None,
        sources: dict[int, tuple[complex, complex]] | None = None,
        near_end: Literal["injection", "ground"] = "injection",
    ):
        self.layers = [BarLayer(float(t), float(s), complex(q)) for t, s, q in layers]
        n = len(self.layers)
        if n == 0:
            raise ValueError("a bar needs at least one layer")
        G = [np.inf] * (n - 1) if G_s is None else [float(g) for g in G_s]
        if len(G) != n - 1:
            raise ValueError(f"G_s needs {n - 1} values, one per interface")
        self.edges = np.concatenate([[0.0], np.cumsum([lay.thickness for lay in self.layers])])
        A = np.zeros((2 * n, 2 * n), dtype=complex)
        rhs = np.zeros(2 * n, dtype=complex)

        def value(i, s):  # coefficients of (A_i, B_i) in mu_i(s)
            d, _, q = self.layers[i]
            return np.exp(-q * s), np.exp(-q * (d - s))

        def flux(i, s):  # coefficients of (A_i, B_i) in -sigma mu_i'(s)
            d, sig, q = self.layers[i]
            return sig * q * np.exp(-q * s), -sig * q * np.exp(-q * (d - s))

        if near_end == "injection":
            A[0, 0:2] = flux(0, 0.0)
            rhs[0] = j_in
        elif near_end == "ground" and j_in == 0:
            A[0, 0:2] = value(0, 0.0)
        else:
            raise ValueError(f"near_end must be 'injection' or 'ground' (with j_in = 0), not "
                             f"{near_end!r} with j_in = {j_in!r}")
        row = 1
        sources = sources or {}
        if any(not 0 <= i < n - 1 for i in sources):
            raise ValueError(f"sources name interfaces 0..{n - 2}, got {sorted(sources)}")
        for i in range(n - 1):
            d = self.layers[i].thickness
            fl, fr = flux(i, d), flux(i + 1, 0.0)
            s_left, s_right = sources.get(i, (0.0, 0.0))
            A[row, 2 * i : 2 * i + 2] = fl
            A[row, 2 * i + 2 : 2 * i + 4] = [-fr[0], -fr[1]]
            rhs[row] = -(s_left + s_right)
            row += 1
            vl, vr = value(i, d), value(i + 1, 0.0)
            if np.isinf(G[i]):
                A[row, 2 * i : 2 * i + 2] = vl
                A[row, 2 * i + 2 : 2 * i + 4] = [-vr[0], -vr[1]]
            else:  # F(a-) + s_left = J = G_s (mu- - mu+)
                A[row, 2 * i : 2 * i + 2] = [fl[0] - G[i] * vl[0], fl[1] - G[i] * vl[1]]
                A[row, 2 * i + 2 : 2 * i + 4] = [G[i] * vr[0], G[i] * vr[1]]
                rhs[row] = -s_left
            row += 1
        last = n - 1
        d = self.layers[last].thickness
        if far_end == "insulating":
            A[row, 2 * last : 2 * last + 2] = flux(last, d)
        elif far_end == "ground":
            A[row, 2 * last : 2 * last + 2] = value(last, d)
        elif far_end == "lead":
            A[row, 2 * last + 1] = 1.0
        else:
            raise ValueError(f"far_end must be insulating, ground or lead, not {far_end!r}")
        self.coefficients = np.linalg.solve(A, rhs).reshape(n, 2)

    def layer_index(self, x):
        """Index of the layer holding each ``x`` [m] (the left layer at an interface)."""
        x = np.asarray(x, dtype=float)
        return np.clip(np.searchsorted(self.edges, x, side="left") - 1, 0, len(self.layers) - 1)

    def _eval(self, x, derivative: bool):
        x = np.asarray(x, dtype=float)
        idx = self.layer_index(x)
        out = np.empty(x.shape, dtype=complex)
        for i, (d, _, q) in enumerate(self.layers):
            sel = idx == i
            s = x[sel] - self.edges[i]
            a, b = self.coefficients[i]
            ea, eb = a * np.exp(-q * s), b * np.exp(-q * (d - s))
            out[sel] = q * (eb - ea) if derivative else ea + eb
        return out

    def mu(self, x):
        """Spin potential ``mu(x)`` [A/m] (complex amplitude)."""
        return self._eval(x, derivative=False)

    def dmu_dx(self, x):
        """``d mu/dx`` [A/m^2]."""
        return self._eval(x, derivative=True)


def homogeneous_bar(x, *, length: float, sigma: float, q: complex, j_in: complex,
                    far_end: FarEnd = "insulating"):
    """Closed-form ``mu(x)`` [A/m] of a homogeneous bar injected with ``j_in`` at ``x = 0``.

    Insulating far end: ``j cosh(q(L-x)) / (sigma q sinh(qL))``; ground:
    ``j sinh(q(L-x)) / (sigma q cosh(qL))``; lead (``L -> inf``):
    ``j exp(-qx)/(sigma q)``.  Written with decaying exponentials only.
    """
    x = np.asarray(x, dtype=float)
    e = np.exp(-q * x)
    if far_end == "lead":
        return j_in * e / (sigma * q)
    refl = np.exp(-q * (2.0 * length - x))
    e2 = np.exp(-2.0 * q * length)
    if far_end == "insulating":
        return j_in * (e + refl) / (sigma * q * (1.0 - e2))
    if far_end == "ground":
        return j_in * (e - refl) / (sigma * q * (1.0 + e2))
    raise ValueError(f"far_end must be insulating, ground or lead, not {far_end!r}")


# ------------------------------------------- nonlocal spin valve (1D network)
def channel_point_injection(x, *, I_in: complex, sigma: float, q: complex, area: float):
    """``mu(x) = I_in exp(-q|x|) / (2 sigma q area)`` [A/m]: an infinite 1D channel
    (spin conductance ``sigma * area`` [m^4/s]) with a point injection of spin
    current ``I_in`` [A m^2/s = (A/s) m^2] at ``x = 0``; half of ``I_in`` flows
    each way, each half into a semi-infinite lead of admittance ``sigma area q``.
    """
    x = np.asarray(x, dtype=float)
    return I_in * np.exp(-q * np.abs(x)) / (2.0 * sigma * q * area)


def _sinh_ratio(q: complex, s, d: float):
    """``sinh(q s)/sinh(q d)`` (``|.| <~ 1`` for ``0 <= s <= d``); ``s/d`` at ``q = 0``."""
    s = np.asarray(s, dtype=float)
    z = q * d
    if z == 0:
        return s / d + 0j
    if abs(z) <= 1.0:
        return np.sinh(q * s) / np.sinh(z)
    return np.exp(-q * (d - s)) * (1.0 - np.exp(-2.0 * q * s)) / (1.0 - np.exp(-2.0 * z))


def _sinh_ratio_ds(q: complex, s, d: float):
    """``d/ds [sinh(q s)/sinh(q d)] = q cosh(q s)/sinh(q d)``; ``1/d`` at ``q = 0``."""
    s = np.asarray(s, dtype=float)
    z = q * d
    if z == 0:
        return 1.0 / d + 0j * s
    if abs(z) <= 1.0:
        return np.cosh(q * s) * (z / np.sinh(z)) / d
    return q * np.exp(-q * (d - s)) * (1.0 + np.exp(-2.0 * q * s)) / (1.0 - np.exp(-2.0 * z))


def _sech_tanh(z: complex):
    """``(sech z, tanh z)`` without overflow (``Re z >= 0``)."""
    if abs(z) <= 1.0:
        return 1.0 / np.cosh(z), np.tanh(z)
    e2 = np.exp(-2.0 * z)
    return 2.0 * np.exp(-z) / (1.0 + e2), (1.0 - e2) / (1.0 + e2)


def _nlsv_check(sigma_N, q_N, A_N, sigma_F, q_F, A_F, t_F, L, G_s, A_c):
    for name, v in (("sigma_N", sigma_N), ("A_N", A_N), ("sigma_F", sigma_F), ("A_F", A_F),
                    ("t_F", t_F), ("L", L)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    if not complex(q_N).real > 0:
        raise ValueError(f"q_N must have Re q_N > 0 (decaying channel), got {q_N!r}")
    if complex(q_F).real < 0:
        raise ValueError(f"q_F must have Re q_F >= 0, got {q_F!r}")
    A_c = A_F if A_c is None else float(A_c)
    if not (np.isfinite(A_c) and A_c > 0):
        raise ValueError(f"A_c must be finite and > 0, got {A_c!r}")
    G_s = float(G_s)
    if np.isnan(G_s) or G_s < 0:
        raise ValueError(f"G_s must be >= 0 (inf: transparent), got {G_s!r}")
    return A_c, G_s


class NonlocalSpinValve1D:
    """Exact 1D network model of a lateral nonlocal spin valve at one frequency.

    Geometry: a normal-metal channel ``-inf < x < inf`` (spin conductance
    ``sigma_N A_N``, decay constant ``q_N``) with two ferromagnetic electrodes
    (``sigma_F A_F``, ``q_F``, thickness ``t_F``), each a vertical segment
    ``0 <= s <= t_F`` (``s`` measured *downwards* from the electrode's top)
    joined to the channel at one node: the injector at ``x = 0``, the detector
    at ``x = L``.  ``I_in`` [A m^2/s, i.e. ``j_in`` times area] flows into the
    injector's top (``-sigma_F A_F mu'(0) = I_in``); the detector's top is
    insulating.  Junction: transparent (``G_s = inf``: ``mu`` continuous) or
    spin-resistive, ``J = G_s A_c (mu_F(t_F) - mu_N(node))`` where ``J`` is the
    current down through the junction; in both cases ``J`` equals the current
    out of the segment's bottom and (Kirchhoff) the sum of the currents into
    the two channel branches at the node,
    ``J = sigma_N A_N (mu_N'(node-) - mu_N'(node+))``.

    Every branch obeys ``mu'' = q^2 mu`` (the eliminated-``dM`` equation
    ``-div(sigma grad mu) + chi_m kappa mu = 0`` in 1D).

    Derivation (nodal analysis).  A segment of length ``d`` between end values
    ``u0`` (at ``s = 0``) and ``u1`` (at ``s = d``) is exactly

        mu(s) = u0 S(d - s) + u1 S(s),     S(s) = sinh(q s)/sinh(q d),

    so the currents *into* the segment at its two ends are
    ``sigma A q [[coth qd, -csch qd], [-csch qd, coth qd]] (u0, u1)``; a
    semi-infinite channel branch draws ``Y_N u`` with ``Y_N = sigma_N A_N q_N``
    (``mu = u exp(-q_N |x - x_node|)``).  The unknowns are the six end values
    (channel nodes ``u0 = mu_N(0)``, ``u1 = mu_N(L)``; each electrode's top
    and bottom) and the two junction currents ``J_I, J_D``; the eight
    equations are current conservation at the six points and the two junction
    laws, written as ``a (mu_F - mu_N) - b J = 0`` with
    ``(a, b) = (G Y, Y)/(G + Y)``, ``G = G_s A_c``, so that ``G_s = 0`` and
    ``G_s = inf`` are both regular.  ``S``, ``q coth``, ``q csch`` are
    evaluated from decaying exponentials only (``|S| <= ~1``), so the system
    stays well conditioned for ``L >> 1/Re q_N`` and ``t_F >> 1/Re q_F``, and
    ``q_F -> 0`` (a ferromagnet without relaxation at ``omega = 0``) is the
    regular limit ``S = s/d``.  See :func:`nlsv_closed_form` for the same
    network reduced by hand (an independent derivation) and its limits.

    With ``contacts = "junction"`` the injection and the detection sit on the
    junctions instead of the tops (both tops insulating): ``I_in`` enters
    ``(1 - P_I_over_P_F) I_in`` at the injector's bottom and ``P_I_over_P_F I_in`` at
    the channel node, ``J`` then being the current through the junction proper; the
    detector reads ``(1 - P_I_over_P_F) mu_F + P_I_over_P_F mu_N`` across its
    junction (the same weights, by reciprocity; on a transparent junction both are
    the node's ``mu``).

    Attributes: ``mu_detector`` (mu at the detector's top, or its junction reading:
    the quantity the detector contact averages), ``mu_injector`` (injector top),
    ``transfer`` (``mu_detector / I_in``), ``mu_nodes`` (channel values at
    ``x = 0, L``), ``mu_bottoms`` (electrode bottoms, injector first),
    ``junction_currents`` (``J_I, J_D``, positive downwards into the channel).
    """

    _ELECTRODES = ("injector", "detector")
    _BRANCHES = ("left", "middle", "right")

    def __init__(self, *, sigma_N: float, q_N: complex, A_N: float, sigma_F: float,
                 q_F: complex, A_F: float, t_F: float, L: float, I_in: complex,
                 G_s: float = np.inf, A_c: float | None = None, contacts: str = "top",
                 P_I_over_P_F: float = 1.0):
        A_c, G_s = _nlsv_check(sigma_N, q_N, A_N, sigma_F, q_F, A_F, t_F, L, G_s, A_c)
        if contacts not in ("top", "junction"):
            raise ValueError(f"contacts must be 'top' or 'junction', not {contacts!r}")
        share = float(P_I_over_P_F) if np.isfinite(G_s) else 0.0
        self.sigma_N, self.q_N, self.A_N = float(sigma_N), complex(q_N), float(A_N)
        self.sigma_F, self.q_F, self.A_F = float(sigma_F), complex(q_F), float(A_F)
        self.t_F, self.L, self.I_in = float(t_F), float(L), complex(I_in)
        self.G_s, self.A_c = G_s, A_c
        gN, gF = self.sigma_N * self.A_N, self.sigma_F * self.A_F
        Y_lead = gN * self.q_N
        aN = gN * complex(_sinh_ratio_ds(self.q_N, self.L, self.L))   # sigma A q coth(q L)
        bN = gN * complex(_sinh_ratio_ds(self.q_N, 0.0, self.L))      # sigma A q csch(q L)
        aF = gF * complex(_sinh_ratio_ds(self.q_F, self.t_F, self.t_F))
        bF = gF * complex(_sinh_ratio_ds(self.q_F, 0.0, self.t_F))
        Y = abs(aF)  # scale of the junction rows and of the current unknowns
        G = G_s * A_c
        if np.isinf(G):
            ja, jb = Y, 0.0
        else:
            ja, jb = G * Y / (G + Y), Y / (G + Y)
        # unknowns: u0, u1, vIT, vIB, vDT, vDB, J_I/Y, J_D/Y
        M = np.zeros((8, 8), dtype=complex)
        rhs = np.zeros(8, dtype=complex)
        M[0, [2, 3]] = aF, -bF                              # injector top
        M[1, [2, 3, 6]] = -bF, aF, Y                        # injector bottom
        M[2, [0, 1, 6]] = Y_lead + aN, -bN, -Y              # channel node x = 0
        if contacts == "top":
            rhs[0] = self.I_in
        else:
            rhs[1], rhs[2] = (1 - share) * self.I_in, share * self.I_in
        M[3, [0, 1, 7]] = -bN, Y_lead + aN, -Y              # channel node x = L
        M[4, [4, 5, 7]] = -bF, aF, Y                        # detector bottom
        M[5, [4, 5]] = aF, -bF                              # detector top
        M[6, [3, 0, 6]] = ja, -ja, -jb * Y                  # injector junction
        M[7, [5, 1, 7]] = ja, -ja, -jb * Y                  # detector junction
        scale = np.abs(M).max(axis=1)
        x = np.linalg.solve(M / scale[:, None], rhs / scale)
        self._u = x[:2]
        self._v = {"injector": x[2:4], "detector": x[4:6]}
        self.junction_currents = (x[6] * Y, x[7] * Y)
        self.mu_nodes = (x[0], x[1])
        self.mu_bottoms = (x[3], x[5])
        self.mu_injector = x[2]
        self.mu_detector = x[4] if contacts == "top" else (1 - share) * x[5] + share * x[1]
        self.transfer = self.mu_detector / self.I_in if self.I_in != 0 else np.nan + 0j

    # channel ------------------------------------------------------------
    def _branch(self, x, branch):
        if branch is not None:
            if branch not in self._BRANCHES:
                raise ValueError(f"branch must be one of {self._BRANCHES}, not {branch!r}")
            return np.full(x.shape, self._BRANCHES.index(branch))
        return np.where(x < 0.0, 0, np.where(x > self.L, 2, 1))

    def _channel(self, x, branch, derivative):
        x = np.asarray(x, dtype=float)
        b = self._branch(x, branch)
        q, L = self.q_N, self.L
        u0, u1 = self._u
        out = np.empty(x.shape, dtype=complex)
        sel = b == 0
        out[sel] = u0 * np.exp(q * x[sel]) * (q if derivative else 1.0)
        sel = b == 2
        out[sel] = u1 * np.exp(-q * (x[sel] - L)) * (-q if derivative else 1.0)
        sel = b == 1
        xs = x[sel]
        if derivative:
            out[sel] = -u0 * _sinh_ratio_ds(q, L - xs, L) + u1 * _sinh_ratio_ds(q, xs, L)
        else:
            out[sel] = u0 * _sinh_ratio(q, L - xs, L) + u1 * _sinh_ratio(q, xs, L)
        return out

    def mu_channel(self, x, branch: str | None = None):
        """Channel ``mu(x)`` [A/m]; ``branch`` ("left" ``x<0``, "middle", "right"
        ``x>L``) forces one branch's formula (for one-sided values at a node)."""
        return self._channel(x, branch, derivative=False)

    def dmu_channel_dx(self, x, branch: str | None = None):
        """Channel ``d mu/dx`` [A/m^2]; see :meth:`mu_channel` for ``branch``."""
        return self._channel(x, branch, derivative=True)

    def channel_current(self, x, branch: str | None = None):
        """Spin current along ``+x`` in the channel, ``-sigma_N A_N mu'`` [A m^2/s]."""
        return -self.sigma_N * self.A_N * self.dmu_channel_dx(x, branch)

    # electrodes ---------------------------------------------------------
    def _ends(self, which):
        if which not in self._ELECTRODES:
            raise ValueError(f"which must be one of {self._ELECTRODES}, not {which!r}")
        return self._v[which]

    def mu_electrode(self, s, which: str = "detector"):
        """``mu`` [A/m] in an electrode at depth ``s`` below its top (``0 <= s <= t_F``)."""
        top, bot = self._ends(which)
        s = np.asarray(s, dtype=float)
        return top * _sinh_ratio(self.q_F, self.t_F - s, self.t_F) + bot * _sinh_ratio(
            self.q_F, s, self.t_F)

    def dmu_electrode_ds(self, s, which: str = "detector"):
        """``d mu/ds`` [A/m^2] in an electrode (``s`` downwards from the top)."""
        top, bot = self._ends(which)
        s = np.asarray(s, dtype=float)
        return -top * _sinh_ratio_ds(self.q_F, self.t_F - s, self.t_F) + bot * _sinh_ratio_ds(
            self.q_F, s, self.t_F)

    def electrode_current(self, s, which: str = "detector"):
        """Downward spin current ``-sigma_F A_F mu'(s)`` [A m^2/s] in an electrode."""
        return -self.sigma_F * self.A_F * self.dmu_electrode_ds(s, which)


def nlsv_network(*, sigma_N: float, q_N: complex, A_N: float, sigma_F: float, q_F: complex,
                 A_F: float, t_F: float, L: float, I_in: complex, G_s: float = np.inf,
                 A_c: float | None = None, contacts: str = "top",
                 P_I_over_P_F: float = 1.0) -> complex:
    """``mu`` [A/m] the detector of the 1D NLSV network reads (its top, or its junction:
    :class:`NonlocalSpinValve1D`, solved as a linear system)."""
    return NonlocalSpinValve1D(sigma_N=sigma_N, q_N=q_N, A_N=A_N, sigma_F=sigma_F, q_F=q_F,
                               A_F=A_F, t_F=t_F, L=L, I_in=I_in, G_s=G_s, A_c=A_c,
                               contacts=contacts, P_I_over_P_F=P_I_over_P_F).mu_detector


class NLSVClosedForm(NamedTuple):
    """Closed-form NLSV network values (see :func:`nlsv_closed_form`)."""

    mu_detector: complex
    mu_injector: complex
    mu_node_injector: complex
    mu_node_detector: complex
    J_injector: complex
    J_detector: complex
    g: complex          # Y_e / (2 Y_N): electrode shunt relative to the channel
    tau: complex        # G/(G + Y_F): junction transmission


def nlsv_closed_form(*, sigma_N: float, q_N: complex, A_N: float, sigma_F: float,
                     q_F: complex, A_F: float, t_F: float, L: float, I_in: complex,
                     G_s: float = np.inf, A_c: float | None = None) -> NLSVClosedForm:
    """The NLSV network of :class:`NonlocalSpinValve1D` reduced by hand.

    * An electrode with an insulating top, seen from its bottom, is a shunt of
      admittance ``Y_F = sigma_F A_F q_F tanh(z)``, ``z = q_F t_F`` (current
      into it per ``mu`` at its bottom).  The injector with ``I_in`` at its top
      is a Norton source ``I_in sech(z)`` in parallel with ``Y_F``.
    * A junction ``G = G_s A_c`` in series: ``tau = G/(G + Y_F)`` (1 when
      transparent); the electrode then loads its node with
      ``Y_e = tau Y_F`` and the injector's source becomes ``I_s = tau I_in sech z``.
    * The infinite channel's Green function: a current ``I_k`` injected at
      ``x_k`` gives ``mu_N = I_k exp(-q_N|x - x_k|)/(2 Y_N)``,
      ``Y_N = sigma_N A_N q_N``.  With ``I_0 = I_s - Y_e mu_0``,
      ``I_1 = -Y_e mu_1``, ``g = Y_e/(2 Y_N)``, ``E = exp(-q_N L)``:

          mu_N(L) = I_s E / (2 Y_N D),  mu_N(0) = I_s (1 + g - g E^2)/(2 Y_N D),
          D = (1 + g)^2 - g^2 E^2,

      and the detector top is ``mu_det = tau sech(z) mu_N(L)``, i.e.

          mu_det = I_in E tau^2 sech^2(q_F t_F) / (2 Y_N [(1 + g)^2 - g^2 E^2]).

    Limits (checked in ``tests/test_analytic_network.py``):

    * thin or weakly absorbing electrodes, transparent (``g -> 0``, ``z -> 0``):
      ``mu_det -> I_in E/(2 Y_N)`` = :func:`channel_point_injection` at ``x = L``;
      ``mu_det/that - 1 = -2 g - z^2 + O(g^2, z^4, g z^2)`` and, for thin
      electrodes, ``2 g ~ sigma_F A_F q_F^2 t_F / Y_N``.
    * transparent, any ``t_F``: ``mu_det = sech(q_F t_F) mu_N(L)`` exactly.
    * strongly absorbing transparent electrodes (``|g| >> 1``, ``|g| |1 - E^2| >> 1``):
      ``mu_det ~ I_in Y_N sech^2(z) / (Y_F^2 sinh(q_N L))``.
    * ``G_s -> 0``: ``mu_det ~ I_in E (G_s A_c)^2 / (2 Y_N (sigma_F A_F q_F sinh z)^2)``
      (``O(G_s^2)``: two junctions in series); ``G_s -> inf``: the transparent
      result with an ``O(Y_F/(G_s A_c))`` correction.

    See also :func:`nlsv_detector_limits`.
    """
    A_c, G_s = _nlsv_check(sigma_N, q_N, A_N, sigma_F, q_F, A_F, t_F, L, G_s, A_c)
    q_N, q_F, I_in = complex(q_N), complex(q_F), complex(I_in)
    Y_N = sigma_N * A_N * q_N
    sech, tanh = _sech_tanh(q_F * t_F)
    Y_F = sigma_F * A_F * q_F * tanh
    G = G_s * A_c
    tau = 1.0 + 0j if np.isinf(G) else G / (G + Y_F)
    Y_e = tau * Y_F
    g = Y_e / (2.0 * Y_N)
    E = np.exp(-q_N * L)
    D = (1.0 + g) ** 2 - g**2 * E**2
    I_s = tau * I_in * sech
    mu1 = I_s * E / (2.0 * Y_N * D)
    mu0 = I_s * (1.0 + g - g * E**2) / (2.0 * Y_N * D)
    J_I = I_s - Y_e * mu0
    J_D = -Y_e * mu1
    # injector top: segment with I_in in at the top and J_I out at the bottom:
    # mu_top = I_in tanh(z)/(sigma_F A_F q_F) + mu_bottom sech(z)
    gF = sigma_F * A_F
    if q_F * t_F == 0:
        drop = I_in * t_F / gF
    else:
        drop = I_in * tanh / (gF * q_F)
    if np.isinf(G):
        v_bot = mu0
    elif abs(G) >= abs(Y_F):
        v_bot = mu0 + J_I / G
    else:  # current out of the bottom = I_in sech z - Y_F v_bot
        v_bot = (I_in * sech - J_I) / Y_F
    return NLSVClosedForm(mu_detector=tau * sech * mu1, mu_injector=drop + v_bot * sech,
                          mu_node_injector=mu0, mu_node_detector=mu1,
                          J_injector=J_I, J_detector=J_D, g=g, tau=tau)


def nlsv_detector_limits(*, sigma_N: float, q_N: complex, A_N: float, sigma_F: float,
                         q_F: complex, A_F: float, t_F: float, L: float, I_in: complex,
                         G_s: float = np.inf, A_c: float | None = None) -> dict:
    """Limiting forms of ``mu_det`` (see :func:`nlsv_closed_form`), each valid only
    in its regime:

    * ``"point_injection"``: ``I_in exp(-q_N L)/(2 sigma_N q_N A_N)`` (thin /
      non-absorbing electrodes, transparent);
    * ``"transparent"``: the exact ``G_s = inf`` value;
    * ``"strong_absorption"``: ``I_in Y_N sech^2(z)/(Y_F^2 sinh(q_N L))``
      (transparent, ``|g| >> 1``);
    * ``"weak_coupling"``: ``I_in E (G_s A_c)^2/(2 Y_N (sigma_F A_F q_F sinh z)^2)``
      (``G_s A_c << |Y_F|, |Y_N|``).
    """
    A_c, G_s = _nlsv_check(sigma_N, q_N, A_N, sigma_F, q_F, A_F, t_F, L, G_s, A_c)
    q_N, q_F = complex(q_N), complex(q_F)
    z = q_F * t_F
    sech, tanh = _sech_tanh(z)
    Y_N = sigma_N * A_N * q_N
    Y_F = sigma_F * A_F * q_F * tanh
    E = np.exp(-q_N * L)
    kw = dict(sigma_N=sigma_N, q_N=q_N, A_N=A_N, sigma_F=sigma_F, q_F=q_F, A_F=A_F,
              t_F=t_F, L=L, I_in=I_in, A_c=A_c)
    out = {
        "point_injection": complex(channel_point_injection(L, I_in=I_in, sigma=sigma_N, q=q_N,
                                                           area=A_N)),
        "transparent": nlsv_closed_form(**kw, G_s=np.inf).mu_detector,
        # 1/sinh(q_N L) = 2 E/(1 - E^2): no overflow for q_N L >> 1
        "strong_absorption": (I_in * Y_N * sech**2 * 2.0 * E / (Y_F**2 * (1.0 - E**2))
                              if Y_F != 0 else np.inf + 0j),
        "weak_coupling": (I_in * E * (G_s * A_c) ** 2 * (sech / tanh) ** 2
                          / (2.0 * Y_N * (sigma_F * A_F * q_F) ** 2)
                          if Y_F != 0 and np.isfinite(G_s) else np.nan + 0j),
    }
    return out
