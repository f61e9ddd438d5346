"""Point location stays exact on graded meshes: a point in a large element beside
thousands of small ones is found (the nearest element centroids are all small ones)."""

from __future__ import annotations

import numpy as np
import skfem

from fem.core.units import Scales
from fem.discretize.mesh import LOCATE_NEAREST_MAX, DeviceMesh


def _graded_mesh() -> DeviceMesh:
    """The unit square in 2 x 96^2 small triangles, and one large triangle (1,0), (3,0.5),
    (1,1) against its right side."""
    fine = skfem.MeshTri.init_tensor(np.linspace(0, 1, 97), np.linspace(0, 1, 97))
    p = np.hstack([fine.p, [[3.0], [0.5]]])
    corner = lambda x, y: int(np.argmin((fine.p[0] - x) ** 2 + (fine.p[1] - y) ** 2))  # noqa: E731
    big = np.array([[corner(1, 0)], [p.shape[1] - 1], [corner(1, 1)]])
    mesh = skfem.MeshTri(p, np.hstack([fine.t, big]))
    mesh = mesh.with_subdomains({"fine": np.arange(fine.nelements),
                                 "big": np.array([fine.nelements])})
    return DeviceMesh(mesh=mesh, scales=Scales(length_m=1e-6, rate_per_s=1e9),
                      region_material={"fine": "Cu", "big": "Cu"}, contacts={})


def test_point_in_a_large_element_beside_many_small_ones():
    dm = _graded_mesh()
    x = np.array([[1.05, 1.2, 0.5], [0.5, 0.5, 0.5]])  # two in the big one, one in the fine
    # the nearest centroids of the first point are all small triangles
    centroids = dm.mesh.p[:, dm.mesh.t].mean(axis=1)
    dist = np.linalg.norm(centroids - x[:, :1], axis=0)
    assert np.sum(dist < dist[-1]) > LOCATE_NEAREST_MAX
    elements, w = dm.locate(x)
    big = dm.mesh.nelements - 1
    assert elements[0] == big and elements[1] == big and elements[2] != big
    # the barycentric weights reproduce the points exactly
    vertices = dm.mesh.p[:, dm.mesh.t[:, elements]]  # (dim, 3, n)
    np.testing.assert_allclose(np.einsum("dkn,nk->dn", vertices, w), x, rtol=0, atol=1e-12)


def test_a_point_outside_is_still_refused():
    import pytest

    dm = _graded_mesh()
    with pytest.raises(ValueError, match="outside the mesh"):
        dm.locate(np.array([[2.9], [0.9]]))
