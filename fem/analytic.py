"""Exact results of the longitudinal M/m model (numpy only).

Conventions (``shared/design/physics.md``): fields go as ``Re[X exp(-i omega t)]``;
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
    eliminated (physics.md section 4)::

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

        A[0, 0:2] = flux(0, 0.0)
        rhs[0] = j_in
        row = 1
        for i in range(n - 1):
            d = self.layers[i].thickness
            fl, fr = flux(i, d), flux(i + 1, 0.0)
            A[row, 2 * i : 2 * i + 2] = fl
            A[row, 2 * i + 2 : 2 * i + 4] = [-fr[0], -fr[1]]
            row += 1
            vl, vr = value(i, d), value(i + 1, 0.0)
            if np.isinf(G[i]):
                A[row, 2 * i : 2 * i + 2] = vl
                A[row, 2 * i + 2 : 2 * i + 4] = [-vr[0], -vr[1]]
            else:  # flux = G_s (mu- - mu+)
                A[row, 2 * i : 2 * i + 2] = [fl[0] - G[i] * vl[0], fl[1] - G[i] * vl[1]]
                A[row, 2 * i + 2 : 2 * i + 4] = [G[i] * vr[0], G[i] * vr[1]]
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
    """Closed-form ``mu(x)`` [A/m] of a homogeneous bar (physics.md section 6).

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
