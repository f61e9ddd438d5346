"""Device meshes: a scikit-fem mesh in scaled coordinates with named parts.

:class:`DeviceMesh` holds the mesh in units of ``scales.length_m``, its
regions (``mesh.subdomains``, element indices, one per layer) with their
material names, and its boundary faces and contacts (``mesh.boundaries``,
facet indices).  ``stack_mesh`` builds a layered bar from scikit-fem's own
structured constructors (intervals, triangles, tetrahedra).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import skfem

from ..core.errors import DeviceError
from ..core.units import Scales, to_si
from ..model.device import Device

#: elements per shortest field length ``1/|q|`` in the default mesh
ELEMENTS_PER_LENGTH = 10
#: at least this many elements across any layer
MIN_ELEMENTS_PER_LAYER = 4
#: point location tries this many nearest element centroids before it tests every
#: element whose bounding box holds the point (exact, slower)
LOCATE_NEAREST_MAX = 512


@dataclass
class DeviceMesh:
    """A mesh with named regions and contacts, in scaled coordinates.

    Attributes
    ----------
    mesh : skfem.Mesh
        Coordinates in units of ``scales.length_m``; ``mesh.subdomains`` maps
        region name -> element indices, ``mesh.boundaries`` maps face and
        contact names -> boundary facet indices.
    scales : Scales
        The length and rate units of the solver.
    region_material : dict[str, str]
        Region name -> material name of the device file.
    contacts : dict[str, str]
        Contact name -> the boundary name it sits on, or ``"F|N"`` for a contact on
        the junction of regions ``F`` and ``N`` (found from the regions, so it follows
        refinement and interface splitting).
    junction_share : dict[str, float]
        Junction contact -> the weight of its ``N`` side where the junction is split
        (a spin-resistive interface): ``P_I / P_F`` (the ``F`` side has the rest).
    """

    mesh: skfem.Mesh
    scales: Scales
    region_material: dict[str, str]
    contacts: dict[str, str]
    #: spin-resistive interfaces (fem.discretize.interfaces.Interface) of a split mesh
    interfaces: list = field(default_factory=list)
    junction_share: dict[str, float] = field(default_factory=dict)
    element_region: np.ndarray = field(init=False, repr=False)
    _locator: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        reg = np.full(self.mesh.nelements, -1, dtype=np.int64)
        for i, name in enumerate(self.region_names):
            reg[self.mesh.subdomains[name]] = i
        if np.any(reg < 0):
            raise ValueError(f"{int(np.sum(reg < 0))} elements belong to no region")
        self.element_region = reg

    @property
    def region_names(self) -> list[str]:
        return list(self.region_material)

    @property
    def mesh_nodes(self) -> int:
        """Nodes of the mesh as meshed: the split copies of spin-resistive interface
        nodes not counted (``mesh.nvertices`` counts them: the unknowns)."""
        return int(self.mesh.nvertices) - sum(int(i.nodes_a.size) for i in self.interfaces)

    @property
    def dim(self) -> int:
        return self.mesh.dim()

    def contact_facets(self, contact: str) -> np.ndarray:
        """Boundary facet indices of a contact on an outer face (a plain array: meshio
        boundaries come as skfem's OrientedBoundary, whose orientation would not follow
        a selection)."""
        return np.asarray(self.mesh.boundaries[self.contacts[contact]])

    def contact_sides(self, contact: str) -> list[tuple[np.ndarray, float, str | None]]:
        """The facets a contact's load and mean run over, with their weights and the
        region whose ``dm``/``dM`` ratios apply there (None: each facet's element's).
        An outer contact: its face, weight 1.  A junction ``"F|N"``: the facets the two
        regions share (weight 1, one ``mu`` on both sides, counted as F's) and, where a
        spin-resistive interface splits them, the F-side and N-side facets weighted
        ``1 - share`` and ``share`` (:attr:`junction_share`)."""
        place = self.contacts[contact]
        if "|" not in place:
            return [(self.contact_facets(contact), 1.0, None)]
        f_region, n_region = place.split("|")
        shared, f_side, n_side = junction_facets(self, f_region, n_region)
        share = self.junction_share.get(contact, 1.0)
        sides = ((shared, 1.0, f_region), (f_side, 1.0 - share, f_region),
                 (n_side, share, n_region))
        return [(f, w, r) for f, w, r in sides if f.size and w != 0.0]

    def check_junctions(self) -> None:
        """Raise :class:`DeviceError` for a junction contact whose regions share no face."""
        for contact, place in self.contacts.items():
            if "|" in place:
                shared, f_side, _ = junction_facets(self, *place.split("|"))
                if shared.size + f_side.size == 0:
                    raise DeviceError(f"contacts.{contact}.at", "regions {} and {} share no "
                                      "face: no junction there".format(*place.split("|")))

    def nodes_m(self) -> np.ndarray:
        """Node coordinates [m], shape ``(n_nodes, dim)``."""
        return self.mesh.p.T * self.scales.length_m

    def locate(self, x: np.ndarray, candidates: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Elements holding points and the points' barycentric coordinates.

        Parameters
        ----------
        x : ndarray, shape (dim, n)
            Points in scaled coordinates.

        Returns
        -------
        elements : ndarray, int, shape (n,)
        weights : ndarray, shape (n, dim + 1)
            P1 basis values at the points (barycentric coordinates).

        Raises
        ------
        ValueError
            A point lies outside the mesh.
        """
        if self._locator is None:
            from scipy.spatial import cKDTree

            mesh = self.mesh
            v = mesh.p[:, mesh.t]  # (dim, dim + 1, nelems)
            v0 = v[:, 0, :].T
            T = np.transpose(v[:, 1:, :] - v[:, :1, :], (2, 0, 1))  # (nelems, dim, dim)
            self._locator = (cKDTree(v.mean(axis=1).T), v0, np.linalg.inv(T),
                             v.min(axis=1), v.max(axis=1))
        tree, v0, inv, lo, hi = self._locator
        pts = np.asarray(x, dtype=float).T
        n = pts.shape[0]
        elements = np.full(n, -1)
        weights = np.zeros((n, self.dim + 1))
        todo = np.arange(n)
        k = min(candidates, self.mesh.nelements)
        while todo.size:
            _, cand = tree.query(pts[todo], k=k)
            cand = cand.reshape(todo.size, -1)
            lam = np.einsum("nkij,nkj->nki", inv[cand], pts[todo, None, :] - v0[cand])
            bary = np.concatenate([1 - lam.sum(axis=2, keepdims=True), lam], axis=2)
            inside = bary.min(axis=2) >= -1e-9
            ok = inside.any(axis=1)
            first = np.argmax(inside, axis=1)
            rows = np.arange(todo.size)[ok]
            elements[todo[ok]] = cand[rows, first[ok]]
            weights[todo[ok]] = bary[rows, first[ok]]
            todo = todo[~ok]
            if todo.size and k >= min(LOCATE_NEAREST_MAX, self.mesh.nelements):
                # a large element among many small ones has its centroid far from points
                # near its edge: test every element whose bounding box holds the point
                for i in todo:
                    e, b = self._in_boxes(pts[i], lo, hi, v0, inv)
                    if e < 0:
                        raise ValueError(f"points lie outside the mesh, e.g. "
                                         f"{pts[i] * self.scales.length_m} m")
                    elements[i], weights[i] = e, b
                break
            k = min(4 * k, self.mesh.nelements)
        return elements, np.clip(weights, 0.0, 1.0)

    @staticmethod
    def _in_boxes(pt, lo, hi, v0, inv) -> tuple[int, np.ndarray]:
        """The first element holding ``pt`` among those whose bounding box does (-1 if
        none), with the barycentric coordinates."""
        tol = 1e-9 * max(float(np.max(hi - lo)), 1e-300)
        cand = np.nonzero(np.all((lo - tol <= pt[:, None]) & (pt[:, None] <= hi + tol),
                                 axis=0))[0]
        if cand.size:
            lam = np.einsum("kij,kj->ki", inv[cand], pt[None, :] - v0[cand])
            bary = np.concatenate([1 - lam.sum(axis=1, keepdims=True), lam], axis=1)
            inside = np.nonzero(bary.min(axis=1) >= -1e-9)[0]
            if inside.size:
                return int(cand[inside[0]]), bary[inside[0]]
        return -1, np.zeros(pt.size + 1)


#: scikit-fem's lazily built topology (facets, element-facet maps): arrays of ``t`` alone
_TOPOLOGY = ("_facets", "_t2f", "_f2t")


def same_topology(new: skfem.Mesh, old: skfem.Mesh) -> skfem.Mesh:
    """``new`` with the facets ``old`` already built, when both have the same elements
    (scikit-fem's ``with_boundaries``, ``scaled``, ``replace`` start a fresh object that
    would sort all facets again: seconds per copy on a million-element mesh)."""
    if new.t is old.t or np.array_equal(new.t, old.t):
        for name in _TOPOLOGY:
            if name in old.__dict__:
                object.__setattr__(new, name, old.__dict__[name])
    return new


def element_type(mesh: skfem.Mesh) -> skfem.Element:
    """The P1 Lagrange element of a mesh."""
    if isinstance(mesh, skfem.MeshLine):
        return skfem.ElementLineP1()
    if isinstance(mesh, skfem.MeshTri):
        return skfem.ElementTriP1()
    if isinstance(mesh, skfem.MeshTet):
        return skfem.ElementTetP1()
    raise TypeError(f"unsupported mesh type {type(mesh).__name__}")


def device_length_m(device: Device) -> float:
    """The device's characteristic length [m]: a stack's or pillar's total thickness,
    a nonlocal spin valve's channel length (a user mesh: set from its bounding box)."""
    if device.geometry == "nonlocal_spin_valve":
        return to_si("length_nm", device.channel.length_nm)
    return float(device.layer_edges_m()[-1])


def device_scales(device: Device, length_m: float | None = None) -> Scales:
    """Solver units of a device: its length and the diffusion rate across it."""
    length = device_length_m(device) if length_m is None else length_m
    D_max = max(device.material(m).D_m for m in set(device.region_materials().values()))
    return Scales(length_m=length, rate_per_s=D_max / length**2)


def field_length_m(device: Device, material: str, f_Hz) -> float:
    """Shortest field length ``1/max|q|`` [m] of a material over the frequencies.

    Raises
    ------
    DeviceError
        If it is not a finite length a mesh can resolve (absurd frequencies).
    """
    mat = device.material(material)
    with np.errstate(all="ignore"):
        q = np.abs(mat.q(2.0 * np.pi * np.asarray(f_Hz, dtype=float)))
        ell = float(1.0 / np.max(q))
    if not (np.all(np.isfinite(q)) and 1e-12 < ell < np.inf):
        raise DeviceError("frequencies.f_Hz", f"the field length 1/|q| of {material} at these "
                          f"frequencies ({ell:.3g} m) cannot be meshed")
    return ell


def _axis(edges: np.ndarray, sizes: list[float]) -> np.ndarray:
    pts = [edges[:1]]
    for a, b, h in zip(edges[:-1], edges[1:], sizes):
        n = max(MIN_ELEMENTS_PER_LAYER, math.ceil((b - a) / h - 1e-9))
        pts.append(np.linspace(a, b, n + 1)[1:])
    return np.concatenate(pts)


def facets_between(mesh: skfem.Mesh, in_a: np.ndarray, in_b: np.ndarray) -> np.ndarray:
    """Mask of the interior facets with an element of ``in_a`` on one side and one of
    ``in_b`` on the other (``in_a``, ``in_b``: boolean masks over the elements)."""
    f2t = mesh.f2t
    inner = f2t[1] >= 0
    e0, e1 = f2t[0], np.where(inner, f2t[1], 0)
    return inner & ((in_a[e0] & in_b[e1]) | (in_b[e0] & in_a[e1]))


def junction_facets(dmesh: DeviceMesh, f_region: str, n_region: str
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The facets between regions ``f_region`` and ``n_region``: ``(shared, f_side,
    n_side)``, the interior facets the two share and, across a split (spin-resistive)
    interface, each side's boundary facet and its twin on the other side (same order)."""
    from .interfaces import find_facets

    mesh = dmesh.mesh
    names = dmesh.region_names
    for r in (f_region, n_region):
        if r not in names:
            raise DeviceError("contacts", f"no region {r!r} for a junction; regions: "
                              f"{sorted(names)}")
    i_f, i_n = names.index(f_region), names.index(n_region)
    region = dmesh.element_region
    shared = np.nonzero(facets_between(mesh, region == i_f, region == i_n))[0]
    none = np.zeros(0, dtype=np.int64)
    if not dmesh.interfaces:
        return shared, none, none
    twin = np.arange(mesh.nvertices)
    for itf in dmesh.interfaces:
        twin[itf.nodes_a], twin[itf.nodes_b] = itf.nodes_b, itf.nodes_a
    r0 = region[mesh.f2t[0]]
    bf = mesh.boundary_facets()
    cand = bf[r0[bf] == i_f]
    nodes = mesh.facets[:, cand]
    moved = (twin[nodes] != nodes).all(axis=0)
    cand = cand[moved]
    other = find_facets(mesh, twin[mesh.facets[:, cand]], missing=-1)
    ok = other >= 0
    ok[ok] = r0[other[ok]] == i_n
    return shared, cand[ok], other[ok]


def stack_spacing_m(device: Device, f_Hz) -> list[float]:
    """Element size along x per layer [m]: ``mesh_size_nm`` if given, else
    ``1/(ELEMENTS_PER_LENGTH max|q|)`` of the layer's material over ``f_Hz``."""
    if device.device.mesh_size_nm is not None:
        h = to_si("mesh_size_nm", device.device.mesh_size_nm)
        return [h] * len(device.layers)
    return [field_length_m(device, lay.material, f_Hz) / ELEMENTS_PER_LENGTH
            for lay in device.layers]


def transverse_elements(device: Device, sizes_m: list[float]) -> list[int]:
    """Elements across y (and z) of a structured stack with x spacings ``sizes_m``:
    from ``mesh_size_nm``, or as many as keep elements near-cubic up to 8, or the x
    spacing if a contact sits on a side face."""
    out = []
    for e in device.extent_m()[1:]:
        if device.device.mesh_size_nm is not None:
            n = math.ceil(e / to_si("mesh_size_nm", device.device.mesh_size_nm) - 1e-9)
        elif any(c.junction is None and c.at[0] in "yz" for c in device.contacts.values()):
            n = math.ceil(e / min(sizes_m))
        else:
            n = min(8, math.ceil(e / max(sizes_m)))
        out.append(max(n, 1))
    return out


def stack_mesh(device: Device, f_Hz, *, h_x_m: float | None = None,
               n_transverse: int | None = None) -> DeviceMesh:
    """Structured mesh of a ``geometry = "stack"`` device.

    Parameters
    ----------
    device : Device
    f_Hz : array_like
        Frequencies [Hz] the mesh must resolve (sets the default spacing).
    h_x_m : float, optional
        Element size along x [m] in every layer (overrides the default).
    n_transverse : int, optional
        Elements across y and z (default: from ``mesh_size_nm``, or as many as
        keep elements near-cubic up to 8, or the x spacing if a contact sits on
        a side face).
    """
    scales = device_scales(device)
    L = scales.length_m
    edges = device.layer_edges_m()
    sizes = [h_x_m] * len(device.layers) if h_x_m else stack_spacing_m(device, f_Hz)
    x = _axis(edges, sizes) / L
    x[-1] = edges[-1] / L  # exact end point
    dim = device.dimension
    ext = device.extent_m()
    axes = [x]
    for e, n in zip(ext[1:], transverse_elements(device, sizes)):
        n = n_transverse if n_transverse is not None else n
        axes.append(np.linspace(0.0, e / L, max(n, 1) + 1))
    if dim == 1:
        mesh = skfem.MeshLine(x)
    elif dim == 2:
        mesh = skfem.MeshTri.init_tensor(*axes)
    else:
        mesh = skfem.MeshTet.init_tensor(*axes)

    mid = mesh.p[:, mesh.t].mean(axis=1)
    names = device.layer_names()
    xe = edges / L
    subdomains = {name: np.nonzero((mid[0] > xe[i]) & (mid[0] < xe[i + 1]))[0]
                  for i, name in enumerate(names)}
    tol = 1e-9
    faces = {}
    for k, axis in enumerate("xyz"[:dim]):
        lo, hi = axes[k][0], axes[k][-1]
        faces[f"{axis}_min"] = mesh.facets_satisfying(lambda p, k=k, lo=lo: np.abs(p[k] - lo) < tol,
                                                      boundaries_only=True)
        faces[f"{axis}_max"] = mesh.facets_satisfying(lambda p, k=k, hi=hi: np.abs(p[k] - hi) < tol,
                                                      boundaries_only=True)
    boundaries = dict(faces)
    for cname, c in device.contacts.items():
        if c.junction is None:
            boundaries[cname] = faces[c.at]
    mesh = mesh.with_subdomains(subdomains).with_boundaries(boundaries)
    dmesh = DeviceMesh(
        mesh=mesh, scales=scales,
        region_material={name: lay.material for name, lay in zip(names, device.layers)},
        contacts={cname: cname if c.junction is None else c.at
                  for cname, c in device.contacts.items()},
        junction_share=junction_shares(device),
    )
    dmesh.check_junctions()
    return dmesh


def junction_shares(device: Device) -> dict[str, float]:
    """Junction contact -> the weight of its N side on a split junction (``P_I/P_F``)."""
    return {n: c.share_N for n, c in device.contacts.items() if c.junction is not None}


# ------------------------------------------------------------- refinement helpers
def _barycentric(mesh: skfem.Mesh, elements: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Barycentric coordinates of points ``x`` (shape ``(dim, n)``) in ``elements``
    (one element per point), shape ``(n, dim + 1)``."""
    v = mesh.p[:, mesh.t[:, elements]]  # (dim, dim + 1, n)
    T = np.transpose(v[:, 1:, :] - v[:, :1, :], (2, 0, 1))  # (n, dim, dim)
    lam = np.linalg.solve(T, (x - v[:, 0, :]).T[:, :, None])[:, :, 0]
    return np.concatenate([1.0 - lam.sum(axis=1, keepdims=True), lam], axis=1)


def _refined_with_parents(old: skfem.Mesh, marked: np.ndarray | None
                          ) -> tuple[skfem.Mesh, np.ndarray | None]:
    """scikit-fem's refinement of a bare copy of ``old`` (no named parts) and the parent
    of every new element where it can be known without locating points (``None``
    otherwise).  Intervals are bisected here.  Triangles (uniform and adaptive) and
    tetrahedra (uniform) get their parents through scikit-fem's own subdomain tracking:
    one subdomain per bit of the parent's index; tetrahedral bisection keeps a child in
    its parent's slot (the appended children get a guess that the caller checks)."""
    p, t = np.ascontiguousarray(old.p), np.ascontiguousarray(old.t)
    ne = t.shape[1]
    if isinstance(old, skfem.MeshLine):
        split = np.arange(ne) if marked is None else np.unique(np.asarray(marked))
        keep = np.setdiff1d(np.arange(ne), split)
        mid = p.shape[1] + np.arange(split.size)
        new_p = np.hstack([p, p[:, t[:, split]].mean(axis=1)])
        new_t = np.hstack([t[:, keep], np.vstack([t[0, split], mid]),
                           np.vstack([mid, t[1, split]])])
        return type(old)(new_p, new_t), np.concatenate([keep, split, split])
    bare = type(old)(p, t)
    tracked = isinstance(old, skfem.MeshTri) or marked is None
    if tracked:
        bits = max(1, int(ne - 1).bit_length())
        idx = np.arange(ne)
        bare = bare.with_subdomains({f"b{k}": np.nonzero((idx >> k) & 1)[0]
                                     for k in range(bits)})
    import logging

    skfem_log = logging.getLogger("skfem")
    level = skfem_log.level
    skfem_log.setLevel(logging.ERROR)  # its notes on copying arrays to C order
    try:
        new = bare.refined() if marked is None else bare.refined(np.asarray(marked,
                                                                           dtype=np.int64))
    finally:
        skfem_log.setLevel(level)
    parent = None
    if not tracked:  # tetrahedral bisection: a bisected element's first child keeps its slot
        parent = np.where(np.arange(new.nelements) < ne, np.arange(new.nelements), 0)
    elif new.subdomains:
        parent = np.zeros(new.nelements, dtype=np.int64)
        for k in range(bits):
            parent[np.asarray(new.subdomains[f"b{k}"], dtype=np.int64)] |= 1 << k
    # drop whatever named parts scikit-fem carried
    return type(old)(np.ascontiguousarray(new.p), np.ascontiguousarray(new.t)), parent


def refine_device_mesh(dmesh: DeviceMesh, marked: np.ndarray | None = None
                       ) -> tuple[DeviceMesh, np.ndarray]:
    """Refine an unsplit device mesh: every element (``marked=None``, scikit-fem's
    uniform refinement: the new nodes are the edge midpoints) or the ``marked`` ones
    (scikit-fem's conforming adaptive refinement, which also splits neighbours).

    scikit-fem does not carry named parts through every refinement (``MeshTet``
    drops its boundaries, adaptive refinement keeps stale subdomains), so they are
    rebuilt here from the parents: a new element's parent (from the refinement's
    bookkeeping, checked: the parent must hold the child's centroid, since refinement
    is nested; the old element holding the centroid where the check fails) gives its
    region; a new boundary
    facet lies on one facet of its element's parent (the one whose barycentric
    coordinate vanishes at the new facet's centroid), and it belongs to every named
    boundary that old facet belonged to.

    Returns
    -------
    DeviceMesh
        The refined mesh (no interfaces split), same scales, materials, contacts.
    ndarray, int
        The parent (old element index) of every new element.
    """
    if dmesh.interfaces:
        raise ValueError("refine the mesh before its interfaces are split")
    from .interfaces import find_facets

    old = dmesh.mesh
    new, parent = _refined_with_parents(old, marked)
    # a child lies in its parent: check, and locate the centroids of any that do not
    centroids = new.p[:, new.t].mean(axis=1)
    bad = np.ones(new.nelements, dtype=bool) if parent is None else \
        _barycentric(old, parent, centroids).min(axis=1) < -1e-9
    if bad.any():
        parent = np.zeros(new.nelements, dtype=np.int64) if parent is None else parent
        parent[bad], _ = dmesh.locate(centroids[:, bad])
    subdomains = {name: np.nonzero(dmesh.element_region[parent] == i)[0]
                  for i, name in enumerate(dmesh.region_names)}
    boundaries = {}
    if old.boundaries:
        bf = new.boundary_facets()
        mid = new.p[:, new.facets[:, bf]].mean(axis=1)
        par = parent[new.f2t[0, bf]]
        lam = _barycentric(old, par, mid)
        # the parent's facet: its nodes without the vertex opposite (smallest coordinate)
        drop = np.argmin(lam, axis=1)
        keep = np.ones_like(lam, dtype=bool)
        keep[np.arange(bf.size), drop] = False
        nodes = old.t[:, par].T[keep].reshape(bf.size, old.dim()).T
        old_facet = find_facets(old, nodes)
        member = np.zeros(old.facets.shape[1], dtype=bool)
        for name, fac in old.boundaries.items():
            member[:] = False
            member[np.asarray(fac)] = True
            boundaries[name] = bf[member[old_facet]]
    new = new.with_subdomains(subdomains)
    if boundaries:
        new = same_topology(new.with_boundaries(boundaries), new)
    return DeviceMesh(mesh=new, scales=dmesh.scales, region_material=dict(dmesh.region_material),
                      contacts=dict(dmesh.contacts),
                      junction_share=dict(dmesh.junction_share)), parent

