"""Time-domain relaxation of a homogeneous ferromagnetic bar (1D, P1).

The bar ``0 < x < L`` has insulating ends.  The unknowns are ``dM`` and the
spin potential ``mu = delta_m / chi_m`` [A/m], both P1 on one ``MeshLine``
(one region, so a continuous ``dM`` is exact here).  Eqs. (28), (29) of Saslow,
Sun and Xu (2021) with ``dm = chi_m mu - xi dM`` read::

    d/dt dM       = -alpha dM + (r - w_M) chi_m mu
    chi_m d/dt mu = div(sigma grad mu) - c0 chi_m mu + xi (1 - xi)(r - w_M) dM

with ``alpha = w_M + xi (r - w_M)``, ``c0 = (1 - xi) r + w_m + xi w_M`` and
``sigma = D_m chi_m``.  With the P1 mass ``M`` and stiffness ``K`` this is
``B du/dt = -A u``, ``u = (dM, mu)``, ``B = diag(M, chi_m M)``.

On a uniform mesh the nodal cosines ``cos(n pi x_j / L)`` are exact
eigenvectors of ``K v = lam M v`` with ``lam_h`` from :func:`discrete_k2`, so the
discrete modal rates are exactly ``gamma+-(lam_h)`` of eq. (39), and
``lam_h = k_n^2 (1 + theta^2/12 + O(theta^4))``, ``theta = k_n h``: O(h^2).

Inside, lengths are in units of ``L`` and rates in units of ``r`` (of
``D_m / L^2`` when ``r = 0``); the interface is SI (m, s, 1/s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
import scipy.linalg
import skfem
from scipy import sparse
from scipy.sparse.linalg import splu

from ..core.errors import SolveError
from ..core.units import Scales
from ..discretize.mesh import element_type
from ..model.materials import Ferromagnet
from . import forms

Profile = Callable[[np.ndarray], np.ndarray]


class ModalRates(NamedTuple):
    """Decay rates of the modes ``cos(n pi x / L)``, ``n = 1 .. n_modes``.

    Attributes
    ----------
    gamma_plus, gamma_minus : numpy.ndarray
        Shape ``(n_modes,)``, float, [1/s]; entry ``n - 1`` belongs to ``k_n = n pi / L``.
    """

    gamma_plus: np.ndarray
    gamma_minus: np.ndarray


class Relaxation(NamedTuple):
    """Result of :func:`relax`.

    Attributes
    ----------
    times_s : numpy.ndarray
        Shape ``(n_steps + 1,)``, the time levels [s], ``times_s[0] = 0``.
    amplitude : numpy.ndarray
        Shape ``(n_steps + 1,)`` [A/m]: ``(2/L) int (dM + dm) cos(pi x/L) dx``.
    mean : numpy.ndarray
        Shape ``(n_steps + 1,)`` [A/m]: ``(1/L) int (dM + dm) dx``.
    x_m : numpy.ndarray
        Shape ``(n_elements + 1,)``, node coordinates [m].
    dM, dm, mu : numpy.ndarray
        Shape ``(n_elements + 1,)``, nodal fields at ``t_end_s`` [A/m].
    """

    times_s: np.ndarray
    amplitude: np.ndarray
    mean: np.ndarray
    x_m: np.ndarray
    dM: np.ndarray
    dm: np.ndarray
    mu: np.ndarray


class _Operator(NamedTuple):
    A: sparse.csc_matrix  # (2 n, 2 n), scaled; M: P1 mass, x: nodes, both in units of L
    B: sparse.csc_matrix
    M: sparse.csr_matrix
    x: np.ndarray
    scales: Scales


def _operator(material: Ferromagnet, length_m: float, n_elements: int) -> _Operator:
    """Assemble ``A`` and ``B`` in scaled units (see the module docstring)."""
    if not isinstance(material, Ferromagnet):
        raise TypeError(f"need a Ferromagnet, got {type(material).__name__}")
    if not length_m > 0.0 or int(n_elements) < 1:
        raise ValueError(f"need length_m > 0 and n_elements >= 1, got {length_m!r}, {n_elements!r}")
    rate = material.r if material.r > 0.0 else material.D_m / length_m**2
    sc = Scales(length_m=float(length_m), rate_per_s=rate)
    mesh = skfem.MeshLine(np.linspace(0.0, 1.0, int(n_elements) + 1))
    basis = skfem.Basis(mesh, element_type(mesh))
    K, M = forms.stiffness.assemble(basis), forms.mass.assemble(basis)
    xi, chi = material.xi, material.chi_m
    r, w_M, w_m = material.r / rate, material.w_M / rate, material.w_m / rate
    sigma = material.sigma / sc.diffusivity_m2_per_s
    alpha, c0 = w_M + xi * (r - w_M), (1.0 - xi) * r + w_m + xi * w_M
    A = sparse.bmat([[alpha * M, -(r - w_M) * chi * M],
                     [-xi * (1.0 - xi) * (r - w_M) * M, sigma * K + c0 * chi * M]], format="csc")
    B = sparse.bmat([[M, None], [None, chi * M]], format="csc")
    return _Operator(A, B, M.tocsr(), basis.doflocs[0], sc)


def discrete_k2(n, length_m: float, n_elements: int):
    """P1 eigenvalue ``lam_h`` [1/m^2] of ``-d2/dx2`` (Neumann) for mode ``n``.

    ``lam_h = 6 (1 - cos theta) / (h^2 (2 + cos theta))`` with ``h = L/n_elements``
    and ``theta = n pi h / L``; the exact value is ``k_n^2 = (n pi / L)^2``.
    """
    h = length_m / n_elements
    theta = np.pi * np.asarray(n, dtype=float) / n_elements
    return 6.0 * (1.0 - np.cos(theta)) / (h**2 * (2.0 + np.cos(theta)))


def modal_rates(material: Ferromagnet, length_m: float, n_elements: int,
                n_modes: int) -> ModalRates:
    """Discrete decay rates of the modes ``n = 1 .. n_modes`` of a bar.

    All generalised eigenpairs ``A u = gamma B u`` are computed densely
    (``scipy.linalg.eig``; fine for a few hundred elements).  Each
    eigenvector ``u = (dM, mu)`` is assigned to the mode ``n`` whose nodal
    cosine holds most of its ``M``-norm (``|<c_n, dM>_M|^2 + |<c_n, mu>_M|^2``
    over ``|dM|_M^2 + |mu|_M^2``, ``c_n`` normalised); on a uniform mesh the
    content is 1 for one ``n`` and 0 for the rest.  Of the two eigenvalues of
    a mode the larger is ``gamma+``.  Both are real for ``0 < xi <= 1``: with
    ``a = D_m k^2 + w_m``, ``b = r - w_M`` the discriminant of eq. (39) is
    ``(a + b)^2 - 4 xi a b >= min((a - b)^2, (a + b)^2)``.

    Parameters
    ----------
    material : Ferromagnet
        The bar's material (SI).
    length_m : float
        Bar length ``L`` [m].
    n_elements, n_modes : int
        Number of uniform P1 elements (``>= n_modes``) and of modes ``n = 1 .. n_modes``.

    Returns
    -------
    ModalRates
        ``(gamma_plus, gamma_minus)`` [1/s], each of shape ``(n_modes,)``.
    """
    if not 1 <= n_modes <= n_elements:
        raise ValueError(f"need 1 <= n_modes <= n_elements, got {n_modes}, {n_elements}")
    op = _operator(material, length_m, n_elements)
    lam, vec = scipy.linalg.eig(op.A.toarray(), op.B.toarray())
    npts, C = op.x.size, np.cos(np.pi * np.outer(op.x, np.arange(n_modes + 1)))
    MC = op.M @ C / np.sqrt(np.sum(C * (op.M @ C), axis=0))  # M c_n, c_n M-normalised
    dM, mu = vec[:npts], vec[npts:]
    norm = np.real(np.sum(dM.conj() * (op.M @ dM) + mu.conj() * (op.M @ mu), axis=0))
    content = (np.abs(MC.T @ dM) ** 2 + np.abs(MC.T @ mu) ** 2) / norm
    mode = np.where(content.max(axis=0) > 0.5, content.argmax(axis=0), -1)
    out = np.empty((2, n_modes))
    for n in range(1, n_modes + 1):
        g = lam[mode == n]
        if g.size != 2 or np.any(np.abs(g.imag) > 1e-8 * np.abs(g)):
            raise SolveError(f"mode {n}: expected two real eigenvalues, got {g}")
        out[:, n - 1] = np.sort(g.real)[::-1]
    return ModalRates(*(out * op.scales.rate_per_s))


def relax(material: Ferromagnet, length_m: float, n_elements: int, dM0: Profile, dm0: Profile,
          t_end_s: float, n_steps: int, method: Literal["cn", "bdf2"] = "cn") -> Relaxation:
    """Relax initial profiles of ``dM`` and ``dm`` in a bar with insulating ends.

    Implicit time stepping of ``B du/dt = -A u`` with a fixed step
    ``dt = t_end_s / n_steps``; each system matrix is LU-factorised once.

    Parameters
    ----------
    material, length_m, n_elements
        As in :func:`modal_rates`: material (SI), bar length [m], element count.
    dM0, dm0 : callable
        Initial ``dM(x)``, ``dm(x)`` [A/m] of ``x`` [m] (numpy array), taken at
        the nodes; ``mu0 = (dm0 + xi dM0) / chi_m``.
    t_end_s, n_steps : float, int
        Final time [s] and number of time steps.
    method : {"cn", "bdf2"}
        Crank-Nicolson (A-stable, second order; stiff modes are damped only
        if ``rate * dt`` is not large) or BDF2 (L-stable, second order,
        started by one Crank-Nicolson step).

    Returns
    -------
    Relaxation
        Times [s], cosine amplitude and mean of ``dM + dm`` [A/m], final fields.
    """
    if method not in ("cn", "bdf2"):
        raise ValueError(f"method must be 'cn' or 'bdf2', not {method!r}")
    n_steps = int(n_steps)
    if not t_end_s > 0.0 or n_steps < 1:
        raise ValueError(f"need t_end_s > 0 and n_steps >= 1, got {t_end_s!r}, {n_steps!r}")
    op = _operator(material, length_m, n_elements)
    xi, chi, npts = material.xi, material.chi_m, op.x.size
    x_m = op.x * length_m
    dM, dm = (np.broadcast_to(np.asarray(f(x_m), dtype=float), x_m.shape) for f in (dM0, dm0))
    u = np.concatenate([dM, (dm + xi * dM) / chi])
    # observables of dM + dm = (1 - xi) dM + chi_m mu, integrals in units of L
    Mc, M1 = op.M @ np.cos(np.pi * op.x), op.M @ np.ones(npts)
    G = np.array([np.concatenate([2.0 * (1.0 - xi) * Mc, 2.0 * chi * Mc]),
                  np.concatenate([(1.0 - xi) * M1, chi * M1])])
    dt = t_end_s * op.scales.rate_per_s / n_steps
    A, B = op.A, op.B.tocsr()
    lu, R0, R1 = splu((B + 0.5 * dt * A).tocsc()), (B - 0.5 * dt * A).tocsr(), None  # CN
    obs = np.empty((n_steps + 1, 2))
    obs[0], u_old = G @ u, u
    for k in range(1, n_steps + 1):
        u_old, u = u, lu.solve(R0 @ u if R1 is None else R0 @ u + R1 @ u_old)
        obs[k] = G @ u
        if k == 1 and method == "bdf2":  # BDF2 from here on, after one CN step
            lu, R0, R1 = splu((B + (2.0 / 3.0) * dt * A).tocsc()), (4.0 / 3.0) * B, -B / 3.0
    if not np.all(np.isfinite(u)):
        raise SolveError("time stepping produced non-finite values")
    dM, mu = u[:npts], u[npts:]
    return Relaxation(times_s=np.linspace(0.0, t_end_s, n_steps + 1), amplitude=obs[:, 0],
                      mean=obs[:, 1], x_m=x_m, dM=dM, dm=chi * mu - xi * dM, mu=mu)


def measured_decay_rate(times, amplitude, t_from: float, t_to: float = np.inf) -> float:
    """Decay rate [1/s] from a least-squares fit of ``log|amplitude|`` vs time.

    Parameters
    ----------
    times, amplitude : array_like
        Times [s] and amplitudes (any unit, one sign on the fitted window).
    t_from, t_to : float
        Fitted window ``t_from <= t <= t_to`` [s], after the fast modes have died.

    Returns
    -------
    float
        ``-d log|amplitude| / dt`` [1/s].
    """
    t, a = np.asarray(times, dtype=float), np.asarray(amplitude, dtype=float)
    sel = (t >= t_from) & (t <= t_to)
    if np.count_nonzero(sel) < 2:
        raise ValueError("need at least two samples in the fitted window")
    a = a[sel]
    if not (np.all(a > 0.0) or np.all(a < 0.0)):
        raise ValueError("amplitude vanishes or changes sign in the fitted window")
    return float(-np.polyfit(t[sel] - t[sel][0], np.log(np.abs(a)), 1)[0])
