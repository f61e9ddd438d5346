"""The chunked closed-form P1 volume assembly equals scikit-fem's ``asm`` of the weak
forms in fem.solvers.forms (the oracle: skfem's quadrature is exact for P1 stiffness and mass)."""

from __future__ import annotations

import numpy as np
import pytest
import skfem
from skfem import Basis, asm

import fem.solvers.assemble as assemble
from fem.discretize.mesh import element_type
from fem.solvers.forms import mass, stiffness


def meshes():
    rng = np.random.default_rng(1)
    line = skfem.MeshLine(np.sort(np.r_[0.0, rng.random(30), 1.0]))
    tri = skfem.MeshTri.init_sqsymmetric().refined(3)
    tet = skfem.MeshTet.init_tensor(*[np.linspace(0, 1, 6)] * 3)
    # distort the interior so the elements are irregular
    tri = skfem.MeshTri(tri.p + 0.01 * rng.standard_normal(tri.p.shape) *
                        (np.abs(tri.p - 0.5) < 0.49).all(axis=0), tri.t)
    tet = skfem.MeshTet(tet.p + 0.02 * rng.standard_normal(tet.p.shape) *
                        (np.abs(tet.p - 0.5) < 0.49).all(axis=0), tet.t)
    return [line, tri, tet]


@pytest.mark.parametrize("mesh", meshes(), ids=["1D", "2D", "3D"])
def test_closed_form_p1_equals_skfem(mesh, monkeypatch):
    monkeypatch.setattr(assemble, "CHUNK_ELEMENTS", 7)  # many chunks, a ragged last one
    elements = np.arange(0, mesh.nelements, 2)  # a "region": every other element
    K, M = assemble.p1_volume_blocks(mesh, elements)
    basis = Basis(mesh, element_type(mesh), elements=elements)
    Kref, Mref = asm(stiffness, basis), asm(mass, basis)
    # rounding of sums of O(1)-scaled entries: 1e-12 of the largest entry
    assert abs(K - Kref).max() <= 1e-12 * abs(Kref).max()
    assert abs(M - Mref).max() <= 1e-12 * abs(Mref).max()
