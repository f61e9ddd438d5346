"""Frequency-independent blocks of the spin-potential system.

The discrete system at angular frequency ``omega`` is always::

    A(omega) = K + sum_materials c_mat(omega) M_mat + sum_leads s_lead(omega) S_lead

with ``K`` the sigma-weighted stiffness plus the interface terms
``G_s/(L0 R0) int (u_a - u_b)(v_a - v_b)`` of split spin-resistive interfaces,
``M_mat`` the ``chi_m``-weighted mass matrix over the regions of one material
(``c = kappa(omega)/R0``), and ``S_lead`` the boundary mass of a semi-infinite
lead (``s = sigma q(omega)/(L0 R0)``, the non-reflecting Robin condition), all in
scaled units.  They are assembled once;
a frequency is a linear combination of their data arrays (aligned on one
sparsity pattern) and a solve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from skfem import FacetBasis, asm

from ..discretize.mesh import DeviceMesh, element_type
from ..model.materials import Material
from .forms import mass, unit_load


@dataclass
class Blocks:
    """Assembled, frequency-independent pieces of a device (scaled units).

    Attributes
    ----------
    pattern : scipy.sparse.csr_matrix
        Sparsity pattern of ``A`` on the free (non-grounded) nodes.
    K : ndarray, float, shape (nnz,)
        Stiffness ``sum_r sigma_r/(L0^2 R0) int grad u . grad v`` on ``pattern``.
    M : dict[str, ndarray]
        Per material, ``chi_m int u v`` on ``pattern``.
    S : dict[tuple[str, str], ndarray]
        Per lead contact and adjacent region, ``int_contact u v`` on ``pattern``.
    loads : dict[str, ndarray]
        Per contact and region, ``int_contact v`` over all nodes (scaled area);
        keys ``(contact, region)``.  On a split junction each side is weighted
        (:meth:`fem.discretize.mesh.DeviceMesh.contact_sides`), the weights summing to 1,
        so the loads still sum to the contact's area.
    free : ndarray, int
        Indices of the free nodes (all but grounded ones).
    materials : dict[str, Material]
        The materials by name.
    K_parts : dict[str, ndarray]
        ``K`` split by coefficient, on ``pattern``: ``"sigma:<material>"`` (that
        material's stiffness) and ``"G_s:<i>"`` (interface ``i`` of ``dmesh.interfaces``);
        they sum to ``K``.  :meth:`with_coefficients` rescales them for new parameters
        and :mod:`fem.solvers.sensitivity` differentiates through them.
    """

    dmesh: DeviceMesh
    pattern: sp.csr_matrix
    K: np.ndarray
    M: dict[str, np.ndarray]
    S: dict[tuple[str, str], np.ndarray]
    loads: dict[tuple[str, str], np.ndarray]
    free: np.ndarray
    materials: dict[str, Material]
    K_parts: dict[str, np.ndarray] = field(default_factory=dict)
    _probes: dict = field(default_factory=dict, init=False, repr=False)
    _row_sums: list | None = field(default=None, init=False, repr=False)

    @property
    def n_nodes(self) -> int:
        return self.dmesh.mesh.nvertices

    def coefficients(self, omega: float) -> dict[str, complex]:
        """Per material, the scaled ``kappa(omega)/R0`` that multiplies ``M``
        (``chi_m`` is already inside ``M``)."""
        rate = self.dmesh.scales.rate_per_s
        return {name: complex(mat.kappa(omega)) / rate for name, mat in self.materials.items()
                if name in self.M}

    def term_names(self) -> list[str]:
        """Names of the terms of ``A(omega) = sum_q theta_q(omega) A_q``: ``"K"``, then
        ``"M:<material>"``, then ``"S:<contact>:<region>"``."""
        return ["K", *(f"M:{m}" for m in self.M), *(f"S:{c}:{r}" for c, r in self.S)]

    def term_data(self) -> list[np.ndarray]:
        """The fixed real symmetric matrices ``A_q`` (data on ``pattern``), in
        :meth:`term_names` order."""
        return [self.K, *self.M.values(), *self.S.values()]

    def theta(self, omega: float) -> np.ndarray:
        """The scalar coefficients ``theta_q(omega)`` of :meth:`term_names`, complex:
        1 for ``K``, ``kappa(omega)/R0`` per material, ``sigma q(omega)/(L0 R0)`` per lead."""
        s = self.dmesh.scales
        c = self.coefficients(omega)
        leads = []
        for _, region in self.S:
            mat = self.materials[self.dmesh.region_material[region]]
            leads.append(mat.sigma * complex(mat.q(omega)) / (s.length_m * s.rate_per_s))
        return np.array([1.0, *(c[m] for m in self.M), *leads], dtype=complex)

    def row_sums(self) -> list[np.ndarray]:
        """``A_q 1`` on the free nodes for every term (:meth:`term_names` order): the
        test function 1 applied to each term, so ``theta_q (A_q 1) . x`` is the spin
        current a solution ``x`` sends into term ``q`` (for ``K``: into the grounds,
        since the stiffness and the interface terms conserve)."""
        if self._row_sums is None:
            ones = np.ones(self.pattern.shape[0])
            self._row_sums = [self.matrix(d) @ ones for d in self.term_data()]
        return self._row_sums

    def matrix(self, data: np.ndarray) -> sp.csr_matrix:
        """A sparse matrix on ``pattern`` with the given data."""
        p = self.pattern
        return sp.csr_matrix((data, p.indices, p.indptr), shape=p.shape)

    def system(self, omega: float) -> sp.csr_matrix:
        """``A(omega)`` on the free nodes, a linear combination of the blocks."""
        return self.matrix(self.combine(self.theta(omega)))

    def combine(self, weights, absolute: bool = False) -> np.ndarray:
        """``sum_q weights_q A_q`` as data on ``pattern`` (complex or real weights);
        ``absolute``: of the entrywise absolute values ``|A_q|``."""
        weights = np.asarray(weights)
        data = np.zeros(self.pattern.nnz, dtype=weights.dtype)
        for w, d in zip(weights, self.term_data()):
            data += w * (np.abs(d) if absolute else d)
        return data

    def with_coefficients(self, materials: dict[str, Material],
                          G_s: list[float] | None = None) -> Blocks:
        """The blocks of the same mesh with other material parameters and interface
        conductances ``G_s`` [m/s] (``dmesh.interfaces`` order): every block is linear in
        its coefficient (``sigma`` in the stiffness, ``chi_m`` in the mass, ``G_s`` in an
        interface term), so rescaling them equals assembling anew, without the mesh work."""
        from dataclasses import replace

        G_s = [itf.G_s for itf in self.dmesh.interfaces] if G_s is None else list(G_s)
        if len(G_s) != len(self.dmesh.interfaces):
            raise ValueError(f"{len(G_s)} conductances for {len(self.dmesh.interfaces)} "
                             "interfaces")
        old = self.materials
        factor = {f"sigma:{m}": materials[m].sigma / old[m].sigma for m in old}
        factor.update({f"G_s:{i}": g / itf.G_s
                       for i, (g, itf) in enumerate(zip(G_s, self.dmesh.interfaces))})
        parts = {k: factor[k] * v for k, v in self.K_parts.items()}
        dmesh = replace(self.dmesh, interfaces=[
            replace(itf, G_s=g) for g, itf in zip(G_s, self.dmesh.interfaces)])
        dmesh._locator = self.dmesh._locator
        return replace(self, dmesh=dmesh, K=sum(parts.values()), K_parts=parts,
                       M={m: materials[m].chi_m / old[m].chi_m * v for m, v in self.M.items()},
                       materials={m: materials[m] for m in old})

    def probe(self, points_m: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix]:
        """``(elements, P)`` for points [m], shape ``(n, dim)``: the holding elements and
        the sparse P1 interpolation ``P @ nodal_values``; cached per point set."""
        key = (points_m.shape, hash(np.ascontiguousarray(points_m).tobytes()))
        if key not in self._probes:
            if len(self._probes) > 8:
                self._probes.clear()
            dm = self.dmesh
            elements, w = dm.locate(points_m.T / dm.scales.length_m)
            n = len(points_m)
            P = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n), w.shape[1]),
                                           dm.mesh.t[:, elements].T.ravel())),
                              shape=(n, dm.mesh.nvertices))
            self._probes[key] = (elements, P)
        return self._probes[key]

    def contact_load(self, contact: str) -> np.ndarray:
        """``int_contact v`` over all nodes (scaled area units)."""
        return sum(v for (c, _), v in self.loads.items() if c == contact)

    def contact_area(self, contact: str) -> float:
        """Scaled area of a contact (length in 1D-2D: 1 and the face length)."""
        return float(self.contact_load(contact).sum())

    def contact_area_m2(self, contact: str) -> float:
        """Area of a contact [m^2] (a length [m] in 2D, per unit depth; 1 in 1D)."""
        return self.contact_area(contact) * self.dmesh.scales.length_m ** (self.dmesh.dim - 1)

    def injected_current(self, j_in: dict[str, complex]) -> complex:
        """``I_in = sum over injection contacts of int j_in dA`` [A m^2/s] (complex) for
        the spin-current densities ``j_in`` [A/s] by contact."""
        return sum((j * self.contact_area_m2(n) for n, j in j_in.items()), 0j)


def _aligned(pattern: sp.csr_matrix, block: sp.spmatrix) -> np.ndarray:
    """Data of ``block`` laid out on the (sorted, superset) ``pattern``."""
    b = block.tocoo()
    n = pattern.shape[1]
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    keys = rows.astype(np.int64) * n + pattern.indices
    bkeys = b.row.astype(np.int64) * n + b.col
    pos = np.minimum(np.searchsorted(keys, bkeys), len(keys) - 1)
    nonzero = b.data != 0
    if not np.array_equal(keys[pos[nonzero]], bkeys[nonzero]):
        raise AssertionError("a block has entries outside the sparsity pattern")
    return np.bincount(pos, weights=b.data, minlength=pattern.nnz)


#: elements per chunk of the volume assembly (bounds its temporaries to ~100 MB)
CHUNK_ELEMENTS = 250_000


def p1_volume_blocks(mesh, elements: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """P1 stiffness ``int grad u . grad v`` and mass ``int u v`` over ``elements``.

    Closed-form element matrices of a simplex (``vol grad l_i . grad l_j`` with the
    barycentric gradients from the inverse Jacobian, and ``vol (1 + delta_ij) / ((d + 1)
    (d + 2))``), vectorized over chunks of :data:`CHUNK_ELEMENTS` elements, so only the
    sparse result and one chunk's temporaries are ever held; equal to scikit-fem's
    ``asm(stiffness / mass)`` to rounding (tested)."""
    n, d = mesh.nvertices, mesh.dim()
    nv = d + 1
    local = (1.0 + np.eye(nv)) / (nv * (nv + 1))
    K = sp.csr_matrix((n, n))
    M = sp.csr_matrix((n, n))
    for start in range(0, elements.size, CHUNK_ELEMENTS):
        t = mesh.t[:, elements[start:start + CHUNK_ELEMENTS]]
        v = mesh.p[:, t]  # (d, nv, ne)
        J = np.transpose(v[:, 1:, :] - v[:, :1, :], (2, 0, 1))  # (ne, d, d): columns edges
        det = np.linalg.det(J)
        vol = np.abs(det) / math.factorial(d)
        G = np.linalg.inv(J)  # rows: gradients of l_1..l_d
        G = np.concatenate([-G.sum(axis=1, keepdims=True), G], axis=1)  # (ne, nv, d)
        Ke = np.einsum("eid,ejd->eij", G, G) * vol[:, None, None]
        Me = local[None] * vol[:, None, None]
        rows = np.repeat(t.T, nv, axis=1).ravel()
        cols = np.tile(t.T, (1, nv)).ravel()
        K = K + sp.csr_matrix((Ke.ravel(), (rows, cols)), shape=(n, n))
        M = M + sp.csr_matrix((Me.ravel(), (rows, cols)), shape=(n, n))
    return K, M


def _interface_matrix(mesh, elem, itf) -> sp.csr_matrix:
    """``int (u_a - u_b)(v_a - v_b)`` over an interface (scaled units)."""
    Mg = asm(mass, FacetBasis(mesh, elem, facets=itf.facets))
    n = mesh.nvertices
    k = itf.nodes_a.size
    D = sp.csr_matrix((np.r_[np.ones(k), -np.ones(k)],
                       (np.r_[itf.nodes_a, itf.nodes_a], np.r_[itf.nodes_a, itf.nodes_b])),
                      shape=(n, n))
    return (D.T @ Mg @ D).tocsr()


def assemble(dmesh: DeviceMesh, materials: dict[str, Material],
             grounded: list[str] = (), leads: list[str] = ()) -> Blocks:
    """Assemble the blocks of a device mesh once.

    Parameters
    ----------
    dmesh : DeviceMesh
    materials : dict[str, Material]
        Material objects by the names used in ``dmesh.region_material``.
    grounded : list[str]
        Contacts held at ``mu = 0``.
    leads : list[str]
        Contacts that continue as semi-infinite leads of the adjacent material.
    """
    mesh = dmesh.mesh
    elem = element_type(mesh)
    scales = dmesh.scales
    n = mesh.nvertices
    Kp: dict[str, sp.csr_matrix] = {}
    M: dict[str, sp.csr_matrix] = {}
    for region, mat_name in dmesh.region_material.items():
        mat = materials[mat_name]
        Kr, Mr = p1_volume_blocks(mesh, np.asarray(mesh.subdomains[region]))
        Kr = (mat.sigma / scales.diffusivity_m2_per_s) * Kr
        Mr = mat.chi_m * Mr
        key = f"sigma:{mat_name}"
        Kp[key] = Kp[key] + Kr if key in Kp else Kr
        M[mat_name] = M[mat_name] + Mr if mat_name in M else Mr
    for i, itf in enumerate(dmesh.interfaces):
        Kp[f"G_s:{i}"] = itf.G_s / (scales.length_m * scales.rate_per_s) * \
            _interface_matrix(mesh, elem, itf)

    loads, S = {}, {}
    for contact in dmesh.contacts:
        for facets, weight, side in dmesh.contact_sides(contact):
            owner = dmesh.element_region[mesh.f2t[0, facets]] if side is None else \
                np.full(facets.size, dmesh.region_names.index(side))
            for i, region in enumerate(dmesh.region_names):
                sel = facets[owner == i]
                if sel.size:
                    fb = FacetBasis(mesh, elem, facets=sel)
                    load = weight * asm(unit_load, fb)
                    key = (contact, region)
                    loads[key] = loads[key] + load if key in loads else load
                    if contact in leads:
                        S[key] = asm(mass, fb)

    fixed = np.unique(np.concatenate(
        [mesh.facets[:, dmesh.contact_facets(c)].ravel() for c in grounded]
    )) if grounded else np.array([], dtype=np.int64)
    free = np.setdiff1d(np.arange(n), fixed)

    def restrict(A):
        return A.tocsr()[free][:, free]

    Kf = {k: restrict(v) for k, v in Kp.items()}
    Mf = {k: restrict(v) for k, v in M.items()}
    Sf = {k: restrict(v) for k, v in S.items()}
    pattern = sp.csr_matrix((free.size, free.size))
    for v in [*Kf.values(), *Mf.values(), *Sf.values()]:
        pattern = pattern + abs(v)
    pattern = pattern.tocsr()
    pattern.sort_indices()
    parts = {k: _aligned(pattern, v) for k, v in Kf.items()}
    return Blocks(
        dmesh=dmesh, pattern=pattern, K=sum(parts.values()),
        M={k: _aligned(pattern, v) for k, v in Mf.items()},
        S={k: _aligned(pattern, v) for k, v in Sf.items()}, loads=loads, free=free,
        materials={k: materials[k] for k in M}, K_parts=parts,
    )
