"""Verification helpers: error norms against exact fields and rates read off a field.

Used by the test suite and by ``spinfem verify``; every function compares a
:class:`~fem.solvers.result.Result` with an exact 1D solution ``mu(x)`` (the closed forms of
:mod:`fem.core.analytic`) or extracts a physical quantity from the FEM field.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from skfem import Basis

from ..discretize.mesh import element_type
from .result import Result


def error_norms(result: Result, mu_exact: Callable, dmu_dx_exact: Callable,
                intorder: int = 4) -> tuple[float, float]:
    """Relative L2 and H1-seminorm errors of ``result.mu`` against an exact 1D field.

    Parameters
    ----------
    mu_exact, dmu_dx_exact : callable
        ``mu(x)`` [A/m] and ``d mu/dx`` [A/m^2] of x [m]; the exact field depends
        on x only (uniform injection over the whole end face).

    Returns
    -------
    (l2, h1) : float
        ``||mu_h - mu|| / ||mu||`` in L2 and in the H1 seminorm.
    """
    mesh = result.dmesh.mesh
    L0 = result.dmesh.scales.length_m
    basis = Basis(mesh, element_type(mesh), intorder=intorder)
    x = np.asarray(basis.global_coordinates())[0] * L0
    re, im = basis.interpolate(result.mu.real), basis.interpolate(result.mu.imag)
    uh = np.asarray(re) + 1j * np.asarray(im)
    guh = (re.grad + 1j * im.grad) / L0  # SI gradient [A/m^2]
    u = mu_exact(x.ravel()).reshape(x.shape)
    du = dmu_dx_exact(x.ravel()).reshape(x.shape)
    dx = basis.dx
    l2 = np.sqrt(np.sum(np.abs(uh - u) ** 2 * dx) / np.sum(np.abs(u) ** 2 * dx))
    gerr = np.abs(guh[0] - du) ** 2 + sum(np.abs(guh[k]) ** 2 for k in range(1, mesh.dim()))
    h1 = np.sqrt(np.sum(gerr * dx) / np.sum(np.abs(du) ** 2 * dx))
    return float(l2), float(h1)


def fitted_rate(h, err) -> float:
    """Slope of ``log err`` against ``log h`` (least squares over all meshes)."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def decay_constant_from_field(result: Result, x_m: float, spacing_m: float,
                              line: tuple[float, ...] = ()) -> complex:
    """The local ``q`` [1/m] of the FEM field at ``x_m`` along x.

    In a uniform layer every 1D solution is ``A exp(-q x) + B exp(q x)``, so
    ``mu(x - s) + mu(x + s) = 2 cosh(q s) mu(x)`` whatever the boundary
    conditions: ``q = arccosh((mu(x-s) + mu(x+s)) / (2 mu(x))) / s`` with
    ``Re q > 0``.  Needs ``|Im q| s < pi`` and the three points in one layer.

    Parameters
    ----------
    x_m, spacing_m : float
        Centre point and spacing ``s`` along x [m].
    line : tuple of float
        The (y, z) [m] of the sampling line in 2D/3D.
    """
    xs = np.array([x_m - spacing_m, x_m, x_m + spacing_m])
    pts = np.column_stack([xs] + [np.full(3, c) for c in line])
    mu = result.sample(pts).mu
    return complex(np.arccosh((mu[0] + mu[2]) / (2.0 * mu[1]) + 0j) / spacing_m)


def mean_edge_length_m(result: Result) -> float:
    """Mean edge length [m] of the mesh: the ``h`` of an unstructured mesh."""
    mesh = result.dmesh.mesh
    edges = mesh.edges if mesh.dim() == 3 else mesh.facets
    d = mesh.p[:, edges[0]] - mesh.p[:, edges[1]]
    return float(np.mean(np.linalg.norm(d, axis=0))) * result.dmesh.scales.length_m
