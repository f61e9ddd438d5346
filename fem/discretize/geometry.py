"""gmsh builders: one per device geometry, each writing a ``.msh`` file in nm.

Every region (``stack``/``pillar`` layers; ``channel``, ``injector``,
``detector``) and every face a contact may use is a named physical group, so
the names survive through meshio into scikit-fem's ``mesh.subdomains`` and
``mesh.boundaries``.  Element sizes come from a :class:`fem.discretize.meshing.MeshSizing`
(:func:`fem.discretize.meshing.mesh_sizing`): a cap per region, and fine sizes on the faces
regions of different materials share and on contact faces, from which the size grows
geometrically (gmsh Distance + Threshold fields); near the boundary of a region of
finer cap the size grades the same way into the coarser one.

gmsh is imported here only, when a mesh is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..model.device import Device
from .meshing import pair_key

TOL = 1e-6  # nm, for bounding-box queries


def _box_query(dim: int, lo, hi):
    import gmsh

    lo = list(lo) + [0.0] * (3 - len(lo))
    hi = list(hi) + [0.0] * (3 - len(hi))
    return [t for _, t in gmsh.model.getEntitiesInBoundingBox(
        lo[0] - TOL, lo[1] - TOL, lo[2] - TOL, hi[0] + TOL, hi[1] + TOL, hi[2] + TOL, dim)]


def _stack_parts(device: Device, occ, dim: int, sizing=None):
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


def _pillar_parts(device: Device, occ, dim: int, sizing=None):
    edges = device.layer_edges_m() * 1e9
    w = device.device.width_nm
    d = device.device.depth_nm or 0.0
    ellipse = device.device.cross_section == "ellipse"
    parts = []
    if dim == 3:  # the cross-section extruded layer by layer, graded along z
        if ellipse:
            rx, ry = max(w, d) / 2, min(w, d) / 2
            base = occ.addDisk(0, 0, 0, rx, ry)
            if d > w:  # gmsh wants the major axis along x
                occ.rotate([(2, base)], 0, 0, 0, 0, 0, 1, np.pi / 2)
        else:
            base = occ.addRectangle(-w / 2, -d / 2, 0, w, d)
        for z in pillar_layers_nm(device, sizing):
            out = occ.extrude([(2, base)], 0, 0, z[-1] - z[0], numElements=[1] * (len(z) - 1),
                              heights=list((z[1:] - z[0]) / (z[-1] - z[0])))
            base = out[0][1]
            parts.append(next(t for dd, t in out if dd == 3))
    else:
        for a, b in zip(edges[:-1], edges[1:]):
            parts.append(occ.addRectangle(-w / 2, a, 0, w, b - a))
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


#: extruded 3D pillars: elements across the cross-section's smaller axis
PILLAR_ELEMENTS_ACROSS = 10


def pillar_layers_nm(device: Device, sizing) -> list[np.ndarray]:
    """Node heights [nm] of each layer of a 3D pillar (a pillar's field is one-dimensional
    along z: the layers are meshed as graded 1D grids and the cross-section extruded).

    The spacing ``h(z)`` is the smallest of the layer's bulk size, the ramps from the
    fine faces (interfaces and contact faces: ``h_f + (growth - 1)(d - h_f)``) and, in a
    deep layer, ``h0 exp(DECAY_GRADING d/ell)``; nodes sit at equal steps of
    ``int dz/h``."""
    edges = device.layer_edges_m() * 1e9
    names = device.layer_names()
    fine = []  # (z, size) of every fine plane
    for k, (a, b) in enumerate(zip(names[:-1], names[1:])):
        key = pair_key(a, b)
        if key in sizing.interfaces_nm:
            fine.append((edges[k + 1], sizing.interfaces_nm[key]))
    for c in device.contacts.values():
        if c.at in ("bottom", "top") and c.at in sizing.faces_nm:
            fine.append((edges[0] if c.at == "bottom" else edges[-1], sizing.faces_nm[c.at]))
    return [graded_grid_nm(sizing, name, a, b, fine)
            for name, a, b in zip(names, edges[:-1], edges[1:])]


def graded_grid_nm(sizing, region: str, a: float, b: float,
                   fine: list[tuple[float, float]]) -> np.ndarray:
    """Nodes [nm] of a graded 1D grid on ``[a, b]`` in ``region``: the spacing is the
    sizing's :meth:`~fem.discretize.meshing.MeshSizing.graded_nm` of the distances to
    the fine planes ``[(z, h), ...]`` in ``[a, b]``; nodes sit at equal steps of
    ``int dz/h`` (at least two intervals)."""
    z = np.linspace(a, b, 2001)
    h = sizing.graded_nm(region, [(np.abs(z - zf), hf) for zf, hf in fine
                                  if a - 1e-9 <= zf <= b + 1e-9], z.shape)
    s = np.concatenate([[0.0], np.cumsum(np.diff(z) * 0.5 * (1 / h[1:] + 1 / h[:-1]))])
    n = max(int(np.ceil(s[-1] - 1e-9)), 2)
    return np.interp(np.linspace(0.0, s[-1], n + 1), s, z)


def electrode_layers_nm(device: Device, sizing, name: str) -> np.ndarray:
    """Node heights [nm] above the channel's top of a 3D spin valve's electrode
    ``name`` (``injector``/``detector``), whose footprint on the channel is extruded
    along z: graded from its junction with the channel (the interface's fine size, set
    by the ferromagnet's decay length) and from its top face when a contact sits there,
    as a pillar's layers are."""
    te = device.electrodes.thickness_nm
    fine = []
    key = pair_key(name, "channel")
    if key in sizing.interfaces_nm:
        fine.append((0.0, sizing.interfaces_nm[key]))
    if f"{name}_top" in sizing.faces_nm:
        fine.append((te, sizing.faces_nm[f"{name}_top"]))
    return graded_grid_nm(sizing, name, 0.0, te, fine)


def _nlsv_parts(device: Device, occ, dim: int, sizing=None):  # sizing: needed in 3D
    ch, el = device.channel, device.electrodes
    L, w, t = ch.length_nm, ch.width_nm, ch.thickness_nm
    we, le, te, s = el.width_nm, el.length_nm, el.thickness_nm, el.spacing_nm
    centres = {"injector": -s / 2, "detector": s / 2}
    if dim == 3:  # the electrodes' footprints extruded along z on graded layers
        box = occ.addBox(-L / 2, -w / 2, 0, L, w, t)
        prints = [occ.addRectangle(c - we / 2, -le / 2, t, we, le) for c in centres.values()]
        _, mapping = occ.fragment([(3, box)], [(2, p) for p in prints])
        parts = [[tag for _, tag in mapping[0]]]
        for name, pieces in zip(centres, mapping[1:]):
            z = electrode_layers_nm(device, sizing, name)
            out = occ.extrude(pieces, 0, 0, te, numElements=[1] * (len(z) - 1),
                              heights=list(z[1:] / te))
            parts.append([tag for d, tag in out if d == 3])
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


def axis_breakpoints_nm(device: Device) -> list[np.ndarray] | None:
    """Per mesh axis, the coordinates [nm] of every plane the geometry's faces lie in,
    in an order fixed by their meaning (not sorted), or None for a user mesh.

    Every builder's geometry is a union of boxes (and, for pillars, an elliptic
    cross-section centred at the origin), so a map that is piecewise linear along each
    axis between these planes carries one device's geometry onto another's with the
    same planes in the same order: :func:`fem.discretize.meshing.morph_device_mesh`.
    """
    dim = device.dimension
    if device.geometry == "stack":
        edges = device.layer_edges_m() * 1e9
        out = [edges, np.array([0.0, device.device.width_nm or 0.0]),
               np.array([0.0, device.device.height_nm or 0.0])]
        return out[:dim]
    if device.geometry == "pillar":
        edges = device.layer_edges_m() * 1e9
        w, d = device.device.width_nm, device.device.depth_nm or 0.0
        across = [np.array([-w / 2, w / 2]), np.array([-d / 2, d / 2])]
        return across[: dim - 1] + [edges]
    if device.geometry == "nonlocal_spin_valve":
        ch, el = device.channel, device.electrodes
        s, we = el.spacing_nm, el.width_nm
        x = np.array([-ch.length_nm / 2, -s / 2 - we / 2, -s / 2 + we / 2, s / 2 - we / 2,
                      s / 2 + we / 2, ch.length_nm / 2])
        y = np.array([-ch.width_nm / 2, ch.width_nm / 2, -el.length_nm / 2, el.length_nm / 2])
        z = np.array([0.0, ch.thickness_nm, ch.thickness_nm + el.thickness_nm])
        return [x, y, z] if dim == 3 else [x, z]
    return None


#: geometry -> builder ``(device, occ, dim, sizing) -> (parts, region names, faces())``
#: (the extrusions of 3D pillars and spin valves read the sizing; the rest of the mesh
#: gets it from size fields)
BUILDERS: dict[str, Callable] = {
    "stack": _stack_parts,
    "pillar": _pillar_parts,
    "nonlocal_spin_valve": _nlsv_parts,
}
#: geometries whose 3D builder extrudes parts along z (already sharing their faces)
EXTRUDED = ("pillar", "nonlocal_spin_valve")

#: 3D spin valves: the size across (in x-y) on an electrode's junction with the channel,
#: in fine sizes of the junction (the ferromagnet's ``ell/N``, which sets the layers
#: along z): across the junction the ferromagnet's field varies only near the
#: junction's edges, and the channel's on its own, longer scale ...
JUNCTION_ACROSS_FINE = 8.0
#: ... and on the junction's edges inside the footprint, where the electrode leaves the
#: channel and the ferromagnet's field turns into the overhang over its decay length
JUNCTION_EDGE_FINE = 2.0


def _junction_edge_fields(device: Device, region_tags: dict[str, list[int]], sizing) -> list[int]:
    """Ramps from the edges a 3D spin valve's junctions share with the rest of their
    electrodes' footprints (:data:`JUNCTION_EDGE_FINE`)."""
    import gmsh

    def boundary(dim, tags):
        return {abs(t) for _, t in gmsh.model.getBoundary([(dim, t) for t in tags],
                                                          combined=False, oriented=False)}

    def at_top(tag):
        box = gmsh.model.getBoundingBox(2, tag)
        return abs(box[2] - top) < TOL and abs(box[5] - top) < TOL

    lateral = lateral_sizing(device, sizing)
    hmax = max(sizing.bulk_nm.values())  # beyond the ramp the other fields rule
    channel = boundary(3, region_tags["channel"])
    top = device.channel.thickness_nm
    ids = []
    for name in ("injector", "detector"):
        key = pair_key(name, "channel")
        if key not in sizing.interfaces_nm:
            continue
        footprint = {t for t in boundary(3, region_tags[name]) if at_top(t)}
        junction = footprint & channel
        edges = boundary(2, junction) & boundary(2, footprint - junction)
        h = sizing.interfaces_nm[key] * JUNCTION_EDGE_FINE
        if edges and h < lateral.interfaces_nm[key]:
            ids += _ramp(1, edges, h, hmax, sizing.growth)
    return ids


def lateral_sizing(device: Device, sizing):
    """The sizes of a 3D spin valve's size fields, the extrusion setting the electrodes'
    sizes along z: each junction's fine size times :data:`JUNCTION_ACROSS_FINE` (at
    most the channel's bulk size), as the electrodes' footprints are meshed before
    they are extruded; an electrode's bulk size across at least that (a ferromagnet
    thinner than :data:`~fem.discretize.meshing.DEEP_LENGTHS` decay lengths has its
    ``ell/N`` as bulk size, a size along z); no top-face sizes (their layers) and no
    decay grading in the electrodes."""
    from dataclasses import replace

    interfaces = {k: min(h * JUNCTION_ACROSS_FINE, sizing.bulk_nm["channel"])
                  for k, h in sizing.interfaces_nm.items()}
    bulk = dict(sizing.bulk_nm)
    for name in ("injector", "detector"):
        across = interfaces.get(pair_key(name, "channel"))
        if across is not None:
            bulk[name] = max(bulk[name], across)
    faces = {k: h for k, h in sizing.faces_nm.items() if not k.endswith("_top")}
    decay = {k: v for k, v in sizing.decay_nm.items() if k == "channel"}
    return replace(sizing, bulk_nm=bulk, interfaces_nm=interfaces, faces_nm=faces,
                   decay_nm=decay)


def build_msh(device: Device, sizing, path: str | Path) -> Path:
    """Build, mesh and write the device's geometry to ``path`` (coordinates in nm).

    Parameters
    ----------
    sizing : fem.discretize.meshing.MeshSizing or dict
        Element sizes [nm]; a dict: a constant size per region.
    """
    from .meshing import MeshSizing

    if not isinstance(sizing, MeshSizing):
        sizing = MeshSizing.uniform(sizing)
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
        extruded = device.geometry in EXTRUDED and dim == 3
        parts, names, faces = BUILDERS[device.geometry](device, occ, dim, sizing)
        if extruded:  # the parts share their faces by construction
            mapping = [[(dim, t) for t in np.atleast_1d(p)] for p in parts]
        elif len(parts) > 1:
            _, mapping = occ.fragment([(dim, parts[0])], [(dim, p) for p in parts[1:]])
        else:
            mapping = [[(dim, parts[0])]]
        occ.synchronize()
        region_tags = {name: [t for _, t in m] for name, m in zip(names, mapping)}
        for name, tags in region_tags.items():
            gmsh.model.addPhysicalGroup(dim, tags, name=name)
        face_tags = faces()
        for name, tags in face_tags.items():
            if tags:
                gmsh.model.addPhysicalGroup(dim - 1, tags, name=name)
        if extruded and device.geometry == "pillar":
            # sizes along z are the extrusion's; across, the cross-section's
            wd = [v for v in (device.device.width_nm, device.device.depth_nm) if v]
            gmsh.option.setNumber("Mesh.MeshSizeMax", min(wd) / PILLAR_ELEMENTS_ACROSS)
            gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
        elif extruded:  # the electrodes' sizes along z are the extrusion's
            _size_fields(dim, region_tags, face_tags, lateral_sizing(device, sizing),
                         extra=_junction_edge_fields(device, region_tags, sizing))
        else:
            _size_fields(dim, region_tags, face_tags, sizing)
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


#: a Distance field samples each curve (surface: per direction) at points this many
#: fine sizes apart at most, so the distance, and the size near a face, is exact to a
#: fraction of the fine size; at most this many points per curve / per direction of a
#: surface (by the dimension of the entity)
DISTANCE_SAMPLES_PER_SIZE = 1.0
MAX_SAMPLING = {1: 20_000, 2: 1_500}


def _entity_extent(dim: int, tag: int) -> float:
    import gmsh

    b = gmsh.model.getBoundingBox(dim, tag)
    return float(max(b[3] - b[0], b[4] - b[1], b[5] - b[2]))


def _distance(dim: int, entities, h: float) -> int:
    """A Distance field from the ``dim``-dimensional entities (curves or surfaces),
    sampled every ``h`` or finer."""
    import gmsh

    field = gmsh.model.mesh.field
    d = field.add("Distance")
    field.setNumbers(d, "CurvesList" if dim == 1 else "SurfacesList", sorted(entities))
    n = max(_entity_extent(dim, t) for t in entities) / (h / DISTANCE_SAMPLES_PER_SIZE)
    field.setNumber(d, "Sampling", int(min(max(20, np.ceil(n) + 1), MAX_SAMPLING[dim])))
    return d


def _ramp(dim: int, entities, h: float, hmax: float, growth: float,
          plateau: float | None = None) -> list[int]:
    """Fields of a size ``h`` on the ``dim``-dimensional entities (faces of a region,
    or curves) growing by ``growth`` per element to ``hmax``: ``h(d) = h + (growth -
    1)(d - p)`` for distance ``d >= p``, ``p`` the ``plateau`` (default ``h``) (one
    Distance field per entity: each samples at its own extent)."""
    import gmsh

    p = h if plateau is None else plateau
    field = gmsh.model.mesh.field
    ids = []
    for tag in sorted(set(entities)):
        th = field.add("Threshold")
        field.setNumber(th, "InField", _distance(dim, [tag], h))
        field.setNumber(th, "SizeMin", h)
        field.setNumber(th, "SizeMax", hmax)
        field.setNumber(th, "DistMin", p)
        field.setNumber(th, "DistMax", p + (hmax - h) / (growth - 1.0))
        ids.append(th)
    return ids


def _size_fields(dim: int, region_tags: dict[str, list[int]], face_tags: dict[str, list[int]],
                 sizing, extra: list[int] = ()) -> None:
    """The background size: Min of a cap per region (Constant fields; in a deep region a
    MathEval ``h0 exp(DECAY_GRADING d/ell)`` of the distance to its fine faces, Restricted
    to it), linear ramps (Distance + Threshold) from the fine interfaces and contact faces,
    from the boundaries of regions of smaller cap and, past their plateau, from a spin
    valve's junctions (``spread_nm``), and the ``extra`` fields given."""
    import gmsh

    from .meshing import DECAY_GRADING

    field = gmsh.model.mesh.field
    ids = list(extra)
    sizes = sizing.bulk_nm
    hmax = max(sizes.values())
    key = "VolumesList" if dim == 3 else "SurfacesList"
    bounds = {}
    for name, tags in region_tags.items():
        bnd = gmsh.model.getBoundary([(dim, t) for t in tags], combined=True, oriented=False)
        bounds[name] = {abs(t) for _, t in bnd}
    fine_faces = {name: set() for name in region_tags}  # a region's fine interfaces, faces
    def shared_faces(pair):
        a, b = pair.split("|")
        return bounds[a] & bounds[b]

    for pair, h in sizing.interfaces_nm.items():
        a, b = pair.split("|")
        shared = shared_faces(pair)
        fine_faces[a] |= shared
        fine_faces[b] |= shared
        if h < hmax and shared:
            ids += _ramp(dim - 1, shared, h, hmax, sizing.growth)
    for pair, (h, reach) in sizing.spread_nm.items():
        shared = shared_faces(pair)
        if h < hmax and shared:
            ids += _ramp(dim - 1, shared, h, hmax, sizing.growth, plateau=reach)
    for face, h in sizing.faces_nm.items():
        tags = {abs(t) for t in face_tags.get(face, [])}
        for name in region_tags:
            fine_faces[name] |= tags & bounds[name]
        if h < hmax and tags:
            ids += _ramp(dim - 1, tags, h, hmax, sizing.growth)
    for name, tags in region_tags.items():
        h = sizes[name]
        f = field.add("Constant")
        field.setNumbers(f, key, tags)
        field.setNumber(f, "VIn", h)
        field.setNumber(f, "VOut", hmax)
        ids.append(f)
        if h < hmax:  # grade from this region's boundary outwards
            ids += _ramp(dim - 1, bounds[name], h, hmax, sizing.growth)
        if name in sizing.decay_nm and fine_faces[name]:
            h0, ell = sizing.decay_nm[name]
            d = _distance(dim - 1, fine_faces[name], h0)
            m = field.add("MathEval")
            field.setString(m, "F", f"min({h!r}, {h0!r} * exp({DECAY_GRADING!r} * "
                                    f"F{d} / {ell!r}))")
            r = field.add("Restrict")
            field.setNumber(r, "InField", m)
            field.setNumbers(r, key, tags)
            field.setNumber(r, "IncludeBoundary", 1)
            ids.append(r)
    fmin = field.add("Min")
    field.setNumbers(fmin, "FieldsList", ids)
    field.setAsBackgroundMesh(fmin)
