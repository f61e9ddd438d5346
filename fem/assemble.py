"""Frequency-independent blocks of the spin-potential system.

The discrete system at angular frequency ``omega`` is always::

    A(omega) = K + sum_materials c_mat(omega) M_mat,   c = chi_m kappa(omega) / rate

with ``K`` the sigma-weighted stiffness and ``M_mat`` the mass matrix over
the regions of one material, all in scaled units.  They are assembled once;
a frequency is a linear combination of their data arrays (aligned on one
sparsity pattern) and a solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from skfem import Basis, FacetBasis, asm

from .forms import mass, stiffness, unit_load
from .materials import Material
from .mesh import DeviceMesh, element_type


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
    loads : dict[str, ndarray]
        Per contact and region, ``int_contact v`` over all nodes (scaled area);
        keys ``(contact, region)``.
    free : ndarray, int
        Indices of the free nodes (all but grounded ones).
    materials : dict[str, Material]
        The materials by name.
    """

    dmesh: DeviceMesh
    pattern: sp.csr_matrix
    K: np.ndarray
    M: dict[str, np.ndarray]
    loads: dict[tuple[str, str], np.ndarray]
    free: np.ndarray
    materials: dict[str, Material]

    @property
    def n_nodes(self) -> int:
        return self.dmesh.mesh.nvertices

    def coefficients(self, omega: float) -> dict[str, complex]:
        """Per material, the scaled ``kappa(omega)/R0`` that multiplies ``M``
        (``chi_m`` is already inside ``M``)."""
        rate = self.dmesh.scales.rate_per_s
        return {name: complex(mat.kappa(omega)) / rate for name, mat in self.materials.items()
                if name in self.M}

    def system(self, omega: float) -> sp.csr_matrix:
        """``A(omega)`` on the free nodes, a linear combination of the blocks."""
        data = self.K.astype(complex)
        for name, c in self.coefficients(omega).items():
            data += c * self.M[name]
        p = self.pattern
        return sp.csr_matrix((data, p.indices, p.indptr), shape=p.shape)

    def contact_load(self, contact: str) -> np.ndarray:
        """``int_contact v`` over all nodes (scaled area units)."""
        return sum(v for (c, _), v in self.loads.items() if c == contact)

    def contact_area(self, contact: str) -> float:
        """Scaled area of a contact (length in 1D-2D: 1 and the face length)."""
        return float(self.contact_load(contact).sum())


def _aligned(pattern: sp.csr_matrix, block: sp.spmatrix) -> np.ndarray:
    """Data of ``block`` laid out on the (sorted, superset) ``pattern``."""
    b = block.tocoo()
    n = pattern.shape[1]
    rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    keys = rows.astype(np.int64) * n + pattern.indices
    pos = np.searchsorted(keys, b.row.astype(np.int64) * n + b.col)
    out = np.zeros(pattern.nnz)
    np.add.at(out, pos, b.data)
    return out


def assemble(dmesh: DeviceMesh, materials: dict[str, Material],
             grounded: list[str] = ()) -> Blocks:
    """Assemble the blocks of a device mesh once.

    Parameters
    ----------
    dmesh : DeviceMesh
    materials : dict[str, Material]
        Material objects by the names used in ``dmesh.region_material``.
    grounded : list[str]
        Contacts held at ``mu = 0``.
    """
    mesh = dmesh.mesh
    elem = element_type(mesh)
    scales = dmesh.scales
    n = mesh.nvertices
    K = sp.csr_matrix((n, n))
    M: dict[str, sp.csr_matrix] = {}
    for region, mat_name in dmesh.region_material.items():
        mat = materials[mat_name]
        basis = Basis(mesh, elem, elements=mesh.subdomains[region])
        K = K + (mat.sigma / scales.diffusivity_m2_per_s) * asm(stiffness, basis)
        Mr = mat.chi_m * asm(mass, basis)
        M[mat_name] = M[mat_name] + Mr if mat_name in M else Mr

    loads = {}
    for contact in dmesh.contacts:
        facets = dmesh.contact_facets(contact)
        owner = dmesh.element_region[mesh.f2t[0, facets]]
        for i, region in enumerate(dmesh.region_names):
            sel = facets[owner == i]
            if sel.size:
                loads[(contact, region)] = asm(unit_load, FacetBasis(mesh, elem, facets=sel))

    fixed = np.unique(np.concatenate(
        [mesh.facets[:, dmesh.contact_facets(c)].ravel() for c in grounded]
    )) if grounded else np.array([], dtype=np.int64)
    free = np.setdiff1d(np.arange(n), fixed)

    def restrict(A):
        return A.tocsr()[free][:, free]

    Kf = restrict(K)
    Mf = {k: restrict(v) for k, v in M.items()}
    pattern = abs(Kf)
    for v in Mf.values():
        pattern = pattern + abs(v)
    pattern = pattern.tocsr()
    pattern.sort_indices()
    return Blocks(
        dmesh=dmesh, pattern=pattern, K=_aligned(pattern, Kf),
        M={k: _aligned(pattern, v) for k, v in Mf.items()}, loads=loads, free=free,
        materials={k: materials[k] for k in M},
    )
