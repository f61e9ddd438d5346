"""Spin-resistive interfaces: split the interface nodes so that mu may jump.

For ``[[interfaces]] between = [A, B]`` with conductance ``G_s`` [m/s], every node
on the facets shared by regions A and B gets a copy used by the elements of B.
The two sides then meet only through the interface term
``int G_s (mu_A - mu_B)(v_A - v_B) dA`` (:func:`fem.solvers.assemble.assemble`), which is
the weak form of the junction condition ``j.n = G_s (mu_1 - mu_2)`` (the spin current
through the junction is its conductance times the jump of the spin potential).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import DeviceError
from ..model.device import Device
from .mesh import DeviceMesh, facets_between, same_topology


@dataclass(frozen=True)
class Interface:
    """One spin-resistive interface of a split mesh.

    Attributes
    ----------
    name : str
        ``"A|B"`` from the device file.
    facets : ndarray, int
        The A-side boundary facets of the interface (split mesh).
    nodes_a, nodes_b : ndarray, int
        Each interface node on side A and its copy on side B.
    G_s : float
        Interface spin conductance [m/s].
    """

    name: str
    facets: np.ndarray
    nodes_a: np.ndarray
    nodes_b: np.ndarray
    G_s: float


def _keys(a: np.ndarray) -> np.ndarray:
    """One sortable key per column of node indices (order of the nodes ignored): packed
    into an int64 when the indices fit, else a structured row."""
    a = np.sort(a, axis=0)
    bits = 63 // a.shape[0]
    if a.size and a.max() < 2**bits:
        key = np.zeros(a.shape[1], dtype=np.int64)
        for row in a.astype(np.int64):
            key = (key << bits) | row
        return key
    a = np.ascontiguousarray(a.T)
    return a.view([("", a.dtype)] * a.shape[1]).ravel()


def find_facets(mesh, nodes: np.ndarray, missing: int | None = None) -> np.ndarray:
    """Indices of the facets with the given nodes (shape ``(nodes per facet, n)``); the
    sorted facet keys are cached on the mesh (scikit-fem keeps its facets sorted, so
    usually no sort is needed).  A facet not in the mesh raises ValueError, or gets the
    index ``missing`` if one is given."""
    cache = mesh.__dict__.get("_spinfem_facet_keys")
    if cache is None or cache[0] is not mesh.facets:
        keys = _keys(mesh.facets)
        order = None if np.all(keys[1:] > keys[:-1]) else np.argsort(keys)
        cache = (mesh.facets, keys, order)
        mesh.__dict__["_spinfem_facet_keys"] = cache
    _, keys, order = cache
    q = _keys(nodes)
    pos = np.clip(np.searchsorted(keys, q, sorter=order), 0, len(keys) - 1)
    idx = pos if order is None else order[pos]
    found = keys[idx] == q
    if not np.all(found):
        if missing is None:
            raise ValueError("facets not found in the mesh")
        idx = np.where(found, idx, missing)
    return idx


def _side(dmesh: DeviceMesh, device: Device, name: str) -> np.ndarray:
    regions = device.region_materials()
    chosen = [r for r in dmesh.region_names if r == name or regions.get(r) == name]
    return np.isin(dmesh.element_region, [dmesh.region_names.index(r) for r in chosen])


def split_interfaces(dmesh: DeviceMesh, device: Device) -> DeviceMesh:
    """A copy of ``dmesh`` with every finite-``G_s`` interface split (nodes doubled)."""
    interfaces: list[Interface] = []
    used = np.zeros(0, dtype=np.int64)
    for i, spec in enumerate(device.interfaces):
        if np.isinf(spec.G_s_m_per_s):
            continue
        loc = f"interfaces[{i}].between"
        mesh = dmesh.mesh
        in_a, in_b = _side(dmesh, device, spec.between[0]), _side(dmesh, device, spec.between[1])
        f2t = mesh.f2t
        shared = facets_between(mesh, in_a, in_b)
        if not shared.any():
            raise DeviceError(loc, f"{spec.between[0]!r} and {spec.between[1]!r} do not touch")
        facets_a = mesh.facets[:, shared]
        nodes = np.unique(facets_a)
        if np.intersect1d(nodes, used).size:
            raise DeviceError(loc, "meets another spin-resistive interface: interfaces that "
                              "share nodes are not supported")
        touching = np.isin(mesh.t, nodes).any(axis=0)
        if np.any(touching & ~in_a & ~in_b):
            raise DeviceError(loc, "a third region touches this interface: not supported")
        n = mesh.nvertices
        copy = np.arange(n)
        copy[nodes] = n + np.arange(nodes.size)
        t = mesh.t.copy()
        t[:, in_b] = copy[t[:, in_b]]
        p = np.hstack([mesh.p, mesh.p[:, nodes]])
        new = type(mesh)(p, t).with_subdomains(mesh.subdomains)
        boundaries = {}
        for bname, fac in (mesh.boundaries or {}).items():
            owner_b = in_b[f2t[0, fac]]
            rows = mesh.facets[:, fac]
            rows = np.where(owner_b[None, :], copy[rows], rows)
            boundaries[bname] = find_facets(new, rows)
        new = same_topology(new.with_boundaries(boundaries), new)
        interfaces = [Interface(itf.name, find_facets(new, mesh.facets[:, itf.facets]),
                                itf.nodes_a, itf.nodes_b, itf.G_s) for itf in interfaces]
        interfaces.append(Interface(f"{spec.between[0]}|{spec.between[1]}",
                                    find_facets(new, facets_a), nodes, copy[nodes],
                                    spec.G_s_m_per_s))
        used = np.concatenate([used, nodes, copy[nodes]])
        dmesh = DeviceMesh(mesh=new, scales=dmesh.scales, region_material=dmesh.region_material,
                           contacts=dmesh.contacts, junction_share=dmesh.junction_share)
    dmesh.interfaces = interfaces
    return dmesh
