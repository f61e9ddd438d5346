"""Goal-oriented mesh adaptivity for the transfer function ``Z`` of one contact.

:func:`adapt` refines a device mesh until the estimated relative error of
``Z = <mu>_contact / I_in`` is below ``rel_error`` at every listed frequency, and
returns the prepared :class:`~fem.solvers.solve.Problem` on that mesh with
``problem.error_estimate`` (frequency [Hz] -> estimated relative error of ``Z``)
and ``problem.adapt_history`` (one dict per step).

The estimator: dual-weighted residual with fine-mesh adjoint weights
-------------------------------------------------------------------------
``J(mu) = l^T mu`` is the contact mean of ``mu`` (``l`` = the contact's load over its
area, as in :meth:`fem.solvers.solve.Problem.signal_functionals`).  ``A(omega)`` is complex
symmetric (``A^T = A``, no conjugation), so the adjoint ``A^T z = l`` is the same
system driven at the contact.  The error of the functional is the primal residual
tested with the adjoint error::

    J(u) - J(u_h) = rho(u_h)(z - I_h z),      rho(u_h)(v) = b(v) - a(u_h, v).

``z - I_h z`` is approximated on the once uniformly refined mesh ``T_f`` (every
element split at its edge midpoints: the nodes of ``T_f`` are the P2 nodes of the
coarse mesh).  The unsplit mesh is refined (regions and named boundaries carried over
by :func:`fem.discretize.mesh.refine_device_mesh`) and prepared like any mesh, so ``A_f``, ``b_f``,
``l_f`` come from the same assembly, interfaces split the same way.  With ``P`` the
P1 prolongation (coarse -> fine, per region side) and ``z_f = A_f^-1 l_f`` the fine
adjoint (one more solve per frequency, on the fine mesh)::

    eta = r_f . (z_f - P R z_f),          r_f = b_f - A_f P u_h,

``R`` the restriction to the coarse vertices.  Because the spaces are nested and every
block is integrated exactly (P1 stiffness, exact P1 mass, boundary and interface
masses), ``P^T A_f P = A_h`` and ``P^T b_f = b_h``: Galerkin orthogonality makes
``r_f . P R z_f = 0`` and ``l_f . P u_h = J(u_h)``, so ``eta = J(u_f) - J(u_h)``
exactly -- the estimate is the functional's change under one uniform refinement, no
interpolation constant, no unknown weights.  The P1 functional converges as ``h^2``
(``J(u) - J(u_f) ~ (J(u) - J(u_h))/4``), so the error estimate is
``|eta| / (1 - SATURATION)`` with ``SATURATION = 1/4`` (where the rate is lower, e.g. at
a corner singularity, ``J(u_f)`` is less improved and the estimate low by the factor
``(1 - 2^-p)/(1 - 1/4)``: about 0.8 for ``p = 4/3``; not measured here).  Measured on
the exact F|G_s|N bars with a lead (1D, 2D; injector and detector Z; 1 MHz and
100 GHz; h = 8, 4, 2, 1 nm): effectivity 0.87 - 1.00.  Subtracting ``P R z_f`` does
not change the sum but removes the large cancelling nodal terms, so the nodal
contributions ``r_i w_i`` (nonzero only at the edge midpoints) are local; each is split
equally among the fine elements holding the node and summed onto their coarse parents:
the element indicators ``eta_K``.

Option (b) of recovering gradients (Zienkiewicz-Zhu per region) is cheaper (no fine
solve) but its effectivity rests on superconvergence that graded unstructured meshes
with resistive interfaces need not have (not tried); the fine-adjoint estimate is
exact up to the saturation assumption, so it was preferred.  Its cost: one fine
adjoint solve per frequency and step (4x the unknowns in 2D, 8x in 3D).

Refinement
----------
Per step the elements are marked by Doerfler (bulk) marking with ``theta``: the
smallest set holding ``theta`` of the total indicator, the indicator summed over the
frequencies not yet converged, each normalised by ``rel_error |J(u_h)|``.  Triangles
and tetrahedra are refined with scikit-fem's conforming adaptive refinement,
intervals by bisection.

Strategies
----------
``"refine"`` (above) splits the marked elements of any mesh.  ``"graded"`` remeshes
instead: the device's graded gmsh mesh (:func:`fem.discretize.meshing.mesh_sizing`,
which puts nodes where the physics says the signal varies: ``ell/N`` at the junctions
and contacts, ramps into the bulk) is a one-parameter family in ``refine`` (every size
divided by it), and the estimate chooses the member.  It starts at ``refine =``
:data:`GRADED_START` (times the device file's ``mesh_refine``) and, while the estimate
``e`` exceeds the goal, remeshes at ``refine (e / (GRADED_SAFETY rel_error))^(1/p)``,
the factor held within :data:`GRADED_STEP`: ``p = 2`` (P1's functional error falls as
``h^2``) until two meshes have measured the rate, then that rate (within
:data:`GRADED_RATE`).  On the 2D Py/Cu spin valve to 1e-4 it stops after two meshes at 11.6k
nodes, where splitting marked elements of a coarse mesh needs 87k (README, "Meshes"):
the graded sizes are right from the start, and the estimate only sets their scale.
``"auto"`` (the default) is ``"graded"`` for a device meshed by gmsh from its own
geometry with graded sizes and no starting mesh given, ``"refine"`` otherwise (a user
mesh, a uniform ``mesh_size_nm``, a structured stack, or ``dmesh``).

Frequencies: by default the device's lowest and highest frequency and the one
nearest their geometric mean (fields change fastest with frequency at the top, the
low end has the longest decay lengths; one in between guards the transition).

When ``max_nodes`` is reached before ``rel_error`` (the next mesh would exceed it),
:class:`AdaptError` is raised; it carries the last problem (``exc.problem``, with
its estimates and history) so the caller can still use it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..core.errors import SpinfemError
from ..discretize.mesh import DeviceMesh, _barycentric, refine_device_mesh
from ..model.device import Device
from ..solvers.linear import auto_method
from ..solvers.solve import Problem, prepare, solver_settings

log = logging.getLogger(__name__)

#: assumed ratio of the functional error on the uniformly refined mesh to that on the
#: coarse one (P1, smooth solution: (1/2)^2)
SATURATION = 0.25
#: Doerfler marking fraction
THETA = 0.5
#: the graded strategy's first ``refine`` (times the device file's ``mesh_refine``)
GRADED_START = 0.3
#: the graded strategy aims at this fraction of the goal when it picks the next refine
GRADED_SAFETY = 0.7
#: the least and the most one graded step multiplies ``refine`` by
GRADED_STEP = (1.25, 2.0)
#: bounds on the convergence rate in ``refine`` measured from the last two graded meshes
#: (below ``refine = 1`` the ramps keep their growth and graded errors fall faster than
#: ``h^2``: 3.9 measured on the 2D spin valve; a corner singularity would be slower)
GRADED_RATE = (1.0, 4.0)
STRATEGIES = ("auto", "graded", "refine")


class AdaptError(SpinfemError):
    """Adaptivity stopped before reaching its tolerance (``max_nodes`` or ``max_steps``);
    ``problem`` is the last mesh's problem, with its estimates and history (None when
    the first mesh already exceeds ``max_nodes``)."""

    def __init__(self, message: str, problem: Problem | None = None):
        super().__init__(message)
        self.problem = problem


def default_frequencies(device: Device) -> np.ndarray:
    """The device's lowest and highest frequency and the one nearest their geometric
    mean (duplicates removed)."""
    f = np.sort(np.asarray(device.f_Hz(), dtype=float))
    mid = f[np.argmin(np.abs(np.log(f) - 0.5 * (np.log(f[0]) + np.log(f[-1]))))]
    return np.unique([f[0], mid, f[-1]])


def initial_mesh(device: Device, f_Hz, mesh_dir: str | Path = "meshes",
                 size_nm: float | None = None) -> DeviceMesh:
    """A coarse starting mesh: a user mesh as it is; the device's own mesh when it sets
    ``mesh_size_nm`` (or ``size_nm`` everywhere when given); else a gmsh mesh with, per
    region, half its thinnest dimension, saved as ``<mesh_dir>/<name>_adapt0.msh``
    (structured stacks: ``mesh_size_nm`` = the thickest layer, so every layer gets the
    minimum of :data:`fem.discretize.mesh.MIN_ELEMENTS_PER_LAYER` elements)."""
    from ..discretize.meshing import MeshSizing, _region_thinnest_nm, device_mesh

    if device.geometry == "mesh" or (size_nm is None and device.device.mesh_size_nm is not None):
        return device_mesh(device, f_Hz, mesh_dir)
    coarse = device.with_params(**{"device.name": f"{device.name}_adapt0"})
    if size_nm is not None or (device.geometry == "stack" and device.device.mesher == "structured"):
        size = size_nm if size_nm is not None else max(_region_thinnest_nm(device).values())
        return device_mesh(coarse.with_params(**{"device.mesh_size_nm": float(size)}), f_Hz,
                           mesh_dir)
    sizes = {r: 0.5 * t for r, t in _region_thinnest_nm(device).items()}
    return device_mesh(coarse, f_Hz, mesh_dir, sizing=MeshSizing.uniform(sizes))


def prolongation(fine: DeviceMesh, coarse: DeviceMesh, parent: np.ndarray
                 ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """P1 interpolation from a coarse mesh to a nested fine one, both split at their
    interfaces (element order is that of the unsplit meshes; every region side
    interpolates from its own nodes).

    Returns ``(P, fine_of_coarse_rows, coarse_nodes)``: ``P`` (fine nodes x coarse
    nodes); the fine node at each coarse vertex (``R``: ``z_f[fine_of_coarse]`` are the
    coarse values) indexed by ``coarse_nodes``.
    """
    mf, mc = fine.mesh, coarse.mesh
    nv = mf.t.shape[0]
    W = np.stack([_barycentric(mc, parent, mf.p[:, mf.t[j]]) for j in range(nv)], axis=1)
    W[np.abs(W) < 1e-10] = 0.0
    rows = np.repeat(mf.t.T[:, :, None], nv, axis=2)          # (ne, j, a): fine node
    cols = np.repeat(mc.t[:, parent].T[:, None, :], nv, axis=1)  # (ne, j, a): coarse node
    count = np.bincount(mf.t.ravel(), minlength=mf.nvertices)
    P = sp.csr_matrix((W.ravel() / count[rows.ravel()], (rows.ravel(), cols.ravel())),
                      shape=(mf.nvertices, mc.nvertices))
    P.eliminate_zeros()
    hit = W > 1.0 - 1e-10
    return P, rows[hit], cols[hit]


def _localize(values: np.ndarray, fine: DeviceMesh, parent: np.ndarray, n_coarse: int
              ) -> np.ndarray:
    """Nodal values (fine nodes) split equally among the fine elements holding each node
    and summed onto the coarse parents."""
    t = fine.mesh.t
    count = np.bincount(t.ravel(), minlength=fine.mesh.nvertices)
    share = values / np.maximum(count, 1)
    per_elem = share[t].sum(axis=0)
    return (np.bincount(parent, weights=per_elem.real, minlength=n_coarse)
            + 1j * np.bincount(parent, weights=per_elem.imag, minlength=n_coarse))


def doerfler(indicator: np.ndarray, theta: float = THETA) -> np.ndarray:
    """The fewest elements whose indicators sum to ``theta`` of the total (bulk marking)."""
    order = np.argsort(indicator)[::-1]
    cum = np.cumsum(indicator[order])
    k = int(np.searchsorted(cum, theta * cum[-1])) + 1
    return np.sort(order[:k])


#: relative residual of the estimate's iterative solves (large 3D meshes): far below the
#: errors of Z it estimates, so the estimate is as if the solves were exact
ESTIMATE_REL_TOL = 1e-10


def to_rounding(problem: Problem, rel_tol: float = ESTIMATE_REL_TOL) -> Problem:
    """The same assembled problem solved to rounding: SuperLU up to
    :data:`~fem.solvers.linear.DIRECT_MAX_UNKNOWNS` unknowns (a 3D refined mesh beyond
    40k would take SuperLU minutes and gigabytes), AMG-GMRES to ``rel_tol`` above
    (default :data:`ESTIMATE_REL_TOL`, the estimate's)."""
    method = auto_method(problem.n_unknowns, problem.dmesh.dim)
    rel_tol = rel_tol if method == "iterative" else None
    return replace(problem, solver=solver_settings(problem.device, method, rel_tol))


def estimate(device: Device, dmesh: DeviceMesh, contact: str, f_Hz) -> dict:
    """The dual-weighted residual estimate of the contact's ``Z`` on an unsplit mesh.

    Returns a dict: ``problem`` (prepared on ``dmesh``, the device's solver settings),
    ``Z`` / ``J`` (the contact mean) / ``rel_estimate`` / ``eta`` (``~ J(u) - J(u_h)``,
    complex) per frequency, ``indicators`` (per frequency, complex, per element of
    ``dmesh``), ``fine_nodes``.
    """
    problem = prepare(device, dmesh=dmesh)
    fine_u, parent = refine_device_mesh(dmesh)
    fine = to_rounding(prepare(device, dmesh=fine_u))
    coarse = to_rounding(problem)
    P, fine_at, coarse_at = prolongation(fine.dmesh, coarse.dmesh, parent)
    bf = fine.blocks
    load_f = bf.contact_load(contact)
    l_f = (load_f / load_f.sum())[bf.free]
    b_f = fine.rhs()
    out = {"problem": problem, "Z": {}, "J": {}, "eta": {}, "rel_estimate": {}, "indicators": {},
           "fine_nodes": int(fine.dmesh.mesh.nvertices)}
    n_elem = dmesh.mesh.nelements
    for f in np.atleast_1d(f_Hz):
        f = float(f)
        u_h, _ = coarse.solve_rhs(f, coarse.rhs())
        res = coarse.result(f, coarse.full(u_h))
        J = res.contact_mean(contact)
        z_f, _ = fine.solve_rhs(f, l_f)
        Pu = (P @ coarse.full(u_h))[bf.free]
        r = b_f - bf.system(2.0 * np.pi * f) @ Pu
        zfull = fine.full(z_f)
        Rz = np.zeros(coarse.blocks.n_nodes, dtype=complex)
        Rz[coarse_at] = zfull[fine_at]
        w = (zfull - P @ Rz)[bf.free]
        nodal = np.zeros(bf.n_nodes, dtype=complex)
        nodal[bf.free] = r * w
        eta_K = _localize(nodal, fine.dmesh, parent, n_elem)
        eta = complex(eta_K.sum())
        out["Z"][f] = res.transfer(contact)
        out["eta"][f] = eta
        out["J"][f] = J
        out["rel_estimate"][f] = abs(eta) / (1.0 - SATURATION) / max(abs(J), 1e-300)
        out["indicators"][f] = eta_K
    return out


def uses_graded(device: Device, dmesh: DeviceMesh | None = None,
                initial_size_nm: float | None = None) -> bool:
    """Whether the ``"auto"`` strategy remeshes the graded family: a device meshed by
    gmsh from its own geometry with graded sizes, no starting mesh or size given."""
    return dmesh is None and initial_size_nm is None and device.graded_mesh


def adapt(device: Device, contact: str | None = None, rel_error: float = 1e-3,
          f_Hz=None, *, max_nodes: int = 500_000, max_steps: int = 40,
          theta: float = THETA, dmesh: DeviceMesh | None = None,
          initial_size_nm: float | None = None, mesh_dir: str | Path = "meshes",
          strategy: str = "auto") -> Problem:
    """Refine the mesh until the estimated relative error of ``Z`` of ``contact`` is below
    ``rel_error`` at every frequency of ``f_Hz``.

    Parameters
    ----------
    device : Device
    contact : str, optional
        The contact whose ``Z = <mu>/I_in`` is the goal (default: the only detector, or
        the only injection contact when there is no detector).
    rel_error : float
        Target relative error of ``Z``.
    f_Hz : iterable of float, optional
        Frequencies [Hz] (default :func:`default_frequencies`).
    max_nodes : int
        The most nodes of the (unsplit) adapted mesh; the estimator's refined mesh has
        about 4x (2D) or 8x (3D) as many.
    max_steps : int
        The most refinement steps.
    theta : float
        Doerfler marking fraction (``"refine"``).
    dmesh : DeviceMesh, optional
        The starting mesh, unsplit (default :func:`initial_mesh`; ``"refine"`` only).
    initial_size_nm : float, optional
        Element size of the default starting mesh (``"refine"`` only).
    mesh_dir : path
        Where gmsh meshes are saved.
    strategy : {"auto", "graded", "refine"}
        ``"graded"``: remesh the device's graded family at the ``refine`` the estimate
        asks for; ``"refine"``: split the marked elements; ``"auto"``: graded where it
        applies (:func:`uses_graded`).  See the module docstring.

    Returns
    -------
    Problem
        Prepared on the adapted mesh, with ``error_estimate`` (frequency -> estimated
        relative error of ``Z``) and ``adapt_history`` (per step: ``nodes`` and
        ``elements`` of the mesh before its interfaces are split, ``fine_nodes`` of the
        estimator's refined mesh, ``estimate`` and ``Z`` per frequency, ``marked``
        (``"refine"``) or ``refine`` (``"graded"``), ``seconds``).

    Raises
    ------
    AdaptError
        ``max_nodes`` or ``max_steps`` reached first (``exc.problem``: the last one).
    """
    if contact is None:
        kinds = {n: c.kind for n, c in device.contacts.items()}
        det = [n for n, k in kinds.items() if k == "detector"] or \
            [n for n, k in kinds.items() if k == "injection"]
        if len(det) != 1:
            raise SpinfemError(f"adapt: name the contact to adapt for (candidates: {det})")
        contact = det[0]
    if contact not in device.contacts:
        raise SpinfemError(f"adapt: no contact {contact!r}; contacts: {sorted(device.contacts)}")
    if not 0 < theta <= 1:
        raise SpinfemError(f"adapt: theta must be in (0, 1], got {theta}")
    if max_steps < 0:
        raise SpinfemError(f"adapt: max_steps must be >= 0, got {max_steps}")
    if strategy not in STRATEGIES:
        raise SpinfemError(f"adapt: strategy must be one of {STRATEGIES}, got {strategy!r}")
    graded = uses_graded(device, dmesh, initial_size_nm)
    if strategy == "graded" and not graded:
        raise SpinfemError("adapt: strategy 'graded' remeshes a device's own graded gmsh "
                           "mesh: not for a user mesh, a uniform mesh_size_nm, a structured "
                           "stack or a given starting mesh (use 'refine')")
    freqs = default_frequencies(device) if f_Hz is None else np.unique(np.asarray(
        list(np.atleast_1d(f_Hz)), dtype=float))
    history: list[dict] = []
    if strategy == "graded" or (strategy == "auto" and graded):
        steps = _graded_steps(device, contact, rel_error, freqs, max_nodes, max_steps,
                              mesh_dir, history)
    else:
        steps = _refine_steps(device, contact, rel_error, freqs, dmesh, max_nodes, max_steps,
                              theta, initial_size_nm, mesh_dir, history)
    problem: Problem | None = None
    est = None  # sent to the strategy's generator, which makes the next mesh from it
    while True:
        t0 = time.perf_counter()
        try:
            dmesh, extra = steps.send(est)
        except StopIteration:
            raise AdaptError(f"adapt: {max_steps} refinement steps without reaching "
                             f"rel_error = {rel_error:g} (estimate "
                             f"{max(problem.error_estimate.values()):.3g})", problem) from None
        est = estimate(device, dmesh, contact, freqs)
        problem = est["problem"]
        rel = est["rel_estimate"]
        history.append({"nodes": int(dmesh.mesh.nvertices),
                        "elements": int(dmesh.mesh.nelements), "estimate": dict(rel),
                        "Z": dict(est["Z"]), "fine_nodes": est["fine_nodes"], **extra,
                        "seconds": time.perf_counter() - t0})
        problem.error_estimate = dict(rel)
        problem.adapt_history = history
        log.info("adapt step %d: %d nodes, max estimate %.3g", len(history) - 1,
                 dmesh.mesh.nvertices, max(rel.values()))
        if max(rel.values()) <= rel_error:
            return problem


def _too_many(nodes: int, max_nodes: int, contact: str, rel_error: float,
              history: list[dict], est: dict | None, estimated: bool = False) -> AdaptError:
    """The error for a next mesh beyond ``max_nodes``, carrying the last problem (none
    when the first mesh is already too large: ``est`` None)."""
    if est is None:
        return AdaptError(f"adapt: the first mesh has {nodes} nodes > max_nodes = {max_nodes}"
                          " (raise max_nodes, or coarsen the device's mesh_refine)")
    what = f"about {nodes} nodes (estimated from the growth so far)" if estimated else \
        f"{nodes} nodes"
    return AdaptError(
        f"adapt: the next mesh would have {what} > max_nodes = {max_nodes} with the "
        f"estimated relative error of Z({contact}) still "
        f"{max(history[-1]['estimate'].values()):.3g} > rel_error = {rel_error:g}",
        est["problem"])


def _refine_steps(device, contact, rel_error, freqs, dmesh, max_nodes, max_steps, theta,
                  initial_size_nm, mesh_dir, history):
    """Meshes of the ``"refine"`` strategy: the starting mesh, then each split where the
    estimate sent back for the previous one marks it."""
    if dmesh is None:
        dmesh = initial_mesh(device, freqs, mesh_dir, initial_size_nm)
    est = None
    for step in range(max_steps + 1):
        if step:
            indicator = sum(np.abs(est["indicators"][f]) / (rel_error * abs(est["J"][f]))
                            for f in freqs if est["rel_estimate"][f] > rel_error)
            marked = doerfler(indicator, theta)
            history[-1]["marked"] = int(marked.size)
            new, _ = refine_device_mesh(dmesh, marked)
            if new.mesh.nvertices > max_nodes:
                raise _too_many(new.mesh.nvertices, max_nodes, contact, rel_error, history,
                                est)
            dmesh = new
        est = yield dmesh, {"marked": 0}


def _graded_steps(device, contact, rel_error, freqs, max_nodes, max_steps, mesh_dir, history):
    """Meshes of the ``"graded"`` strategy: the device's graded mesh at ``refine =``
    :data:`GRADED_START`, then at the ``refine`` the estimates so far (``history``) ask
    for (module docstring)."""
    from ..discretize.meshing import device_mesh, mesh_sizing

    work = device.with_params(**{"device.name": f"{device.name}_adapt"})
    refine, dim = GRADED_START, device.dimension
    est = None
    for step in range(max_steps + 1):
        if step:
            worst = [max(h["estimate"].values()) for h in history]
            rate, growth = 2.0, dim  # P1's h^2 and nodes ~ refine^dim, until measured
            if step > 1:
                (r0, r1), (n0, n1) = ([h[k] for h in history[-2:]] for k in ("refine", "nodes"))
                if worst[-1] < worst[-2]:
                    rate = float(np.clip(np.log(worst[-2] / worst[-1]) / np.log(r1 / r0),
                                         *GRADED_RATE))
                growth = float(np.clip(np.log(n1 / n0) / np.log(r1 / r0), 1.0, dim))
            factor = float(np.clip((worst[-1] / (GRADED_SAFETY * rel_error)) ** (1 / rate),
                                   *GRADED_STEP))
            # the largest step max_nodes leaves room for, by the growth measured so far
            # (extruded 3D meshes grow slower than refine^3); refuse only below the least
            nodes = history[-1]["nodes"]
            room = (max_nodes / nodes) ** (1 / growth)
            if room < GRADED_STEP[0]:
                raise _too_many(int(nodes * GRADED_STEP[0] ** growth), max_nodes, contact,
                                rel_error, history, est, estimated=True)
            refine *= min(factor, room)
        dmesh = device_mesh(work, freqs, mesh_dir, sizing=mesh_sizing(work, freqs,
                                                                        refine=refine))
        if dmesh.mesh.nvertices > max_nodes:
            raise _too_many(dmesh.mesh.nvertices, max_nodes, contact, rel_error, history, est)
        est = yield dmesh, {"refine": refine * device.device.mesh_refine}
