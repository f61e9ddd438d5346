"""gmsh builders: one per device geometry, each writing a ``.msh`` file in nm.

Every region (``stack``/``pillar`` layers; ``channel``, ``injector``,
``detector``) and every face a contact may use is a named physical group, so
the names survive through meshio into scikit-fem's ``mesh.subdomains`` and
``mesh.boundaries``.  Element sizes come per region from
:func:`fem.mesh.region_sizes_nm`; near interfaces between regions of different
size the size grades from the finer to the coarser one.

gmsh is imported here only, when a mesh is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .device import Device

TOL = 1e-6  # nm, for bounding-box queries


def _box_query(dim: int, lo, hi):
    import gmsh

    lo = list(lo) + [0.0] * (3 - len(lo))
    hi = list(hi) + [0.0] * (3 - len(hi))
    return [t for _, t in gmsh.model.getEntitiesInBoundingBox(
        lo[0] - TOL, lo[1] - TOL, lo[2] - TOL, hi[0] + TOL, hi[1] + TOL, hi[2] + TOL, dim)]


def _stack_parts(device: Device, occ, dim: int):
    edges = device.layer_edges_m() * 1e9
    w = device.device.width_nm
    h = device.device.height_nm if dim == 3 else 0.0
    parts = []
    for a, b in zip(edges[:-1], edges[1:]):
        parts.append(occ.addBox(a, 0, 0, b - a, w, h) if dim == 3 else
                     occ.addRectangle(a, 0, 0, b - a, w))
    names = device.layer_names()
    L = edges[-1]
    lo, hi = (0.0, 0.0, 0.0), (L, w, h)

    def faces():
        out = {}
        for k, axis in enumerate("xyz"[:dim]):
            for end, v in (("min", lo[k]), ("max", hi[k])):
                blo, bhi = list(lo), list(hi)
                blo[k] = bhi[k] = v
                out[f"{axis}_{end}"] = _box_query(dim - 1, blo[:dim], bhi[:dim])
        return out

    return parts, names, faces


def _pillar_parts(device: Device, occ, dim: int):
    edges = device.layer_edges_m() * 1e9
    w = device.device.width_nm
    d = device.device.depth_nm or 0.0
    ellipse = device.device.cross_section == "ellipse"
    parts = []
    for a, b in zip(edges[:-1], edges[1:]):
        if dim == 2:
            parts.append(occ.addRectangle(-w / 2, a, 0, w, b - a))
        elif ellipse:
            rx, ry = max(w, d) / 2, min(w, d) / 2
            disk = occ.addDisk(0, 0, a, rx, ry)
            if d > w:  # gmsh wants the major axis along x
                occ.rotate([(2, disk)], 0, 0, a, 0, 0, 1, np.pi / 2)
            vol = occ.extrude([(2, disk)], 0, 0, b - a)
            parts.append(next(t for dd, t in vol if dd == 3))
        else:
            parts.append(occ.addBox(-w / 2, -d / 2, a, w, d, b - a))
    H = edges[-1]
    up = dim - 1  # the stacking axis: y in 2D, z in 3D

    def faces():
        import gmsh

        lo = [-w / 2, -d / 2, 0.0][:dim]
        hi = [w / 2, d / 2, H][:dim]
        lo[up], hi[up] = 0.0, H
        bot_lo, bot_hi, top_lo, top_hi = list(lo), list(hi), list(lo), list(hi)
        bot_hi[up] = 0.0
        top_lo[up] = H
        bottom, top = _box_query(dim - 1, bot_lo, bot_hi), _box_query(dim - 1, top_lo, top_hi)
        boundary = gmsh.model.getBoundary(gmsh.model.getEntities(dim), combined=True,
                                          oriented=False)
        sides = [t for _, t in boundary if t not in bottom and t not in top]
        return {"bottom": bottom, "top": top, "sides": sides}

    return parts, device.layer_names(), faces


def _nlsv_parts(device: Device, occ, dim: int):
    ch, el = device.channel, device.electrodes
    L, w, t = ch.length_nm, ch.width_nm, ch.thickness_nm
    we, le, te, s = el.width_nm, el.length_nm, el.thickness_nm, el.spacing_nm
    centres = {"injector": -s / 2, "detector": s / 2}
    if dim == 3:
        parts = [occ.addBox(-L / 2, -w / 2, 0, L, w, t)]
        parts += [occ.addBox(c - we / 2, -le / 2, t, we, le, te) for c in centres.values()]
    else:
        parts = [occ.addRectangle(-L / 2, 0, 0, L, t)]
        parts += [occ.addRectangle(c - we / 2, t, 0, we, te) for c in centres.values()]
    ymax = max(w, le) / 2

    def P(x, y, z):  # a point in mesh coordinates: (x, z) in 2D
        return [x, y, z] if dim == 3 else [x, z]

    def faces():
        out = {}
        for name, c in centres.items():
            out[f"{name}_top"] = _box_query(dim - 1, P(c - we / 2, -le / 2, t + te),
                                            P(c + we / 2, le / 2, t + te))
        for name, x in (("channel_x_min", -L / 2), ("channel_x_max", L / 2)):
            out[name] = _box_query(dim - 1, P(x, -w / 2, 0), P(x, w / 2, t))
        out["channel_bottom"] = _box_query(dim - 1, P(-L / 2, -ymax, 0), P(L / 2, ymax, 0))
        return out

    return parts, ["channel", "injector", "detector"], faces


BUILDERS: dict[str, Callable] = {
    "stack": _stack_parts,
    "pillar": _pillar_parts,
    "nonlocal_spin_valve": _nlsv_parts,
}


def build_msh(device: Device, sizes_nm: dict[str, float], path: str | Path,
              grading: float = 0.3) -> Path:
    """Build, mesh and write the device's geometry to ``path`` (coordinates in nm).

    Parameters
    ----------
    sizes_nm : dict
        Element size per region [nm].
    grading : float
        Growth of the element size per unit distance away from a finer region.
    """
    import signal

    import gmsh

    dim = device.dimension
    path = Path(path)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(device.name)
        occ = gmsh.model.occ
        parts, names, faces = BUILDERS[device.geometry](device, occ, dim)
        if len(parts) > 1:
            _, mapping = occ.fragment([(dim, parts[0])], [(dim, p) for p in parts[1:]])
        else:
            mapping = [[(dim, parts[0])]]
        occ.synchronize()
        region_tags = {name: [t for _, t in m] for name, m in zip(names, mapping)}
        for name, tags in region_tags.items():
            gmsh.model.addPhysicalGroup(dim, tags, name=name)
        for name, tags in faces().items():
            if tags:
                gmsh.model.addPhysicalGroup(dim - 1, tags, name=name)
        _size_fields(dim, region_tags, sizes_nm, grading)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.Algorithm", 6)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10 if dim == 3 else 1)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.model.mesh.generate(dim)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".msh") as tmp:  # gmsh picks the format by extension
            gmsh.write(str(tmp))
    finally:
        gmsh.finalize()
        for sig, handler in saved.items():  # gmsh installs its own handlers
            if handler is not None:
                with contextlib.suppress(ValueError):  # not the main thread
                    signal.signal(sig, handler)
    return path


def _size_fields(dim: int, region_tags: dict[str, list[int]], sizes: dict[str, float],
                 grading: float) -> None:
    """Constant size per region, graded away from the boundaries of finer regions."""
    import gmsh

    field = gmsh.model.mesh.field
    ids = []
    hmax = max(sizes.values())
    key = "VolumesList" if dim == 3 else "SurfacesList"
    for name, tags in region_tags.items():
        h = sizes[name]
        f = field.add("Constant")
        field.setNumbers(f, key, tags)
        field.setNumber(f, "VIn", h)
        field.setNumber(f, "VOut", hmax)
        ids.append(f)
        if h < hmax:  # grade from this region's boundary outwards
            bnd = gmsh.model.getBoundary([(dim, t) for t in tags], combined=True, oriented=False)
            d = field.add("Distance")
            field.setNumbers(d, "CurvesList" if dim == 2 else "SurfacesList",
                             [abs(t) for _, t in bnd])
            th = field.add("Threshold")
            field.setNumber(th, "InField", d)
            field.setNumber(th, "SizeMin", h)
            field.setNumber(th, "SizeMax", hmax)
            field.setNumber(th, "DistMin", h)
            field.setNumber(th, "DistMax", h + (hmax - h) / grading)
            ids.append(th)
    fmin = field.add("Min")
    field.setNumbers(fmin, "FieldsList", ids)
    field.setAsBackgroundMesh(fmin)
