"""Meshes of every geometry: structured stacks, gmsh devices (cached in ``meshes/``)
and user meshes, all returned as a :class:`~fem.discretize.mesh.DeviceMesh` in scaled units."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import skfem

from ..core.atomic import write_text
from ..core.errors import DeviceError
from ..model.device import Device
from .mesh import (
    DeviceMesh,
    device_scales,
    field_length_m,
    junction_shares,
    same_topology,
    stack_mesh,
)

log = logging.getLogger(__name__)

#: gmsh meshes: elements per shortest field length 1/|q| of the region's material
#: (8, not the structured meshes' 10: unstructured 3D meshes cost more per element)
ELEMENTS_PER_LENGTH = 8
#: and at least this many elements across a region's thinnest dimension
ELEMENTS_ACROSS = 3
#: graded gmsh meshes: the largest size ratio of neighbouring elements in the ramps
#: away from interfaces and contact faces (the size grows at most linearly with the
#: distance d from them, h(d) = h_fine + (GROWTH - 1) (d - h_fine), a geometric growth
#: by GROWTH per element: it keeps the triangles/tetrahedra well shaped).  That is the
#: growth at ``refine <= 1``; a finer mesh divides GROWTH - 1 by ``refine`` as it divides
#: every other size, so that graded meshes of refine >= 1 are one family, h(x)/refine,
#: converging at P1's rate (with the ramp fixed, the elements 10-80 nm under a spin valve's
#: junctions stayed as they were and Z's error stalled near 5e-4)
GROWTH = 1.25
#: a region whose thinnest dimension spans at least this many of its field lengths
#: ell = 1/max|q| is "deep": the field enters it only through its interfaces and contact
#: faces and decays as exp(-d/ell) away from them, so its bulk size is bounded by
#: thinnest/ELEMENTS_ACROSS only (not by ell/ELEMENTS_PER_LENGTH), mu in its middle
#: being below exp(-DEEP_LENGTHS/2) of its value at the faces
DEEP_LENGTHS = 4.0
#: in a deep region the size grows as h(d) = (ell/ELEMENTS_PER_LENGTH) exp(DECAY_GRADING
#: d/ell) away from its fine faces: P1's local error ~ h^2 |mu''| then falls with the
#: decaying field, per element about evenly in 2D (error per element h^(2+dim) e^(-2d/ell)
#: held constant gives exp(2 d/((2+dim) ell)): 1/2 in 2D, 2/5 in 3D; 1/2 for both: the
#: detector functional's error is the product of two decaying fields' errors).  The size
#: doubles every 1.4 ell; it scales with ``refine`` at every refine (the GROWTH ramp from
#: refine 1 on), so graded meshes converge at P1's rate under refinement
DECAY_GRADING = 0.5
#: bump when the gmsh builders change (or a constant they read that
#: :func:`geometry_hash` does not hash), so cached meshes are rebuilt
BUILDER_VERSION = 4


def pair_key(a: str, b: str) -> str:
    """The key of two regions' shared face in a :class:`MeshSizing`: ``"a|b"``, sorted."""
    return "|".join(sorted((a, b)))


def _region_thinnest_nm(device: Device) -> dict[str, float]:
    g, d = device.geometry, device.dimension
    if g in ("stack", "pillar"):
        return {n: lay.thickness_nm for n, lay in zip(device.layer_names(), device.layers)}
    ch, el = device.channel, device.electrodes
    chan = ch.thickness_nm if d == 2 else min(ch.thickness_nm, ch.width_nm)
    elec = min(el.thickness_nm, el.width_nm) if d == 2 else \
        min(el.thickness_nm, el.width_nm, el.length_nm)
    return {"channel": chan, "injector": elec, "detector": elec}


@dataclass(frozen=True)
class MeshSizing:
    """Element sizes [nm] of a gmsh mesh.

    Attributes
    ----------
    bulk_nm : dict
        Region -> its largest size (far from the fine features below).
    interfaces_nm : dict
        ``"<region>|<region>"`` (names sorted) -> the size on the face two regions of
        different materials share.
    faces_nm : dict
        Boundary face name (a contact sits on it) -> the size on that face.
    decay_nm : dict
        Deep region -> ``(h0, ell)``: inside it the size is at most ``h0 exp(DECAY_GRADING
        d/ell)``, ``d`` the distance to its interfaces and contact faces.
    spread_nm : dict
        ``"<region>|<region>"`` (a spin valve's junction) -> ``(h, reach)``: the size is
        at most ``h`` within ``reach`` of the junction, growing beyond it, where the spin
        current spreads from the junction into the channel.
    growth : float
        Largest size ratio of neighbouring elements going away from a fine feature (and
        from a region of smaller bulk size into a larger one).

    A uniform sizing (``mesh_size_nm``, or :meth:`uniform`) has no fine features.
    """

    bulk_nm: dict[str, float]
    interfaces_nm: dict[str, float] = field(default_factory=dict)
    faces_nm: dict[str, float] = field(default_factory=dict)
    decay_nm: dict[str, tuple[float, float]] = field(default_factory=dict)
    spread_nm: dict[str, tuple[float, float]] = field(default_factory=dict)
    growth: float = GROWTH

    @classmethod
    def uniform(cls, sizes_nm: dict[str, float]) -> MeshSizing:
        """A constant size per region (graded only where two regions' sizes differ)."""
        return cls(bulk_nm=dict(sizes_nm))

    @property
    def graded(self) -> bool:
        return bool(self.interfaces_nm or self.faces_nm or self.decay_nm)

    def graded_nm(self, region: str, features: list[tuple[np.ndarray, float]],
                  shape: tuple = ()) -> np.ndarray:
        """The size [nm] in ``region`` at points of the distances [nm] to its fine
        features, each given with its fine size, ``[(distance, h_f), ...]``: the
        smallest of the region's cap, the ramps ``h_f + (growth - 1)(d - h_f)`` and, in a
        deep region, ``h0 exp(DECAY_GRADING d/ell)`` from the nearest feature."""
        h = np.full(shape, self.bulk_nm[region])
        for dist, hf in features:
            h = np.minimum(h, hf + (self.growth - 1.0) * np.maximum(dist - hf, 0.0))
        if region in self.decay_nm and features:
            h0, ell = self.decay_nm[region]
            nearest = np.min([dist for dist, _ in features], axis=0)
            h = np.minimum(h, h0 * np.exp(DECAY_GRADING * nearest / ell))
        return h

    def finest_nm(self) -> float:
        return min([*self.bulk_nm.values(), *self.interfaces_nm.values(),
                    *self.faces_nm.values()])

    def as_dict(self) -> dict:
        def r(v):
            return [r(x) for x in v] if isinstance(v, (tuple, list)) else float(f"{v:.12g}")

        return {"bulk_nm": {k: r(v) for k, v in sorted(self.bulk_nm.items())},
                "interfaces_nm": {k: r(v) for k, v in sorted(self.interfaces_nm.items())},
                "faces_nm": {k: r(v) for k, v in sorted(self.faces_nm.items())},
                "decay_nm": {k: r(v) for k, v in sorted(self.decay_nm.items())},
                **({"spread_nm": {k: r(v) for k, v in sorted(self.spread_nm.items())}}
                   if self.spread_nm else {}),
                "growth": r(self.growth)}


def face_regions(device: Device) -> dict[str, list[str]]:
    """Boundary face name -> the regions it bounds (gmsh geometries)."""
    names = device.layer_names()
    if device.geometry == "stack":
        out = {"x_min": names[:1], "x_max": names[-1:]}
        for axis in "yz"[: device.dimension - 1]:
            out[f"{axis}_min"] = out[f"{axis}_max"] = list(names)
        return out
    if device.geometry == "pillar":
        return {"bottom": names[:1], "top": names[-1:], "sides": list(names)}
    return {"injector_top": ["injector"], "detector_top": ["detector"],
            "channel_x_min": ["channel"], "channel_x_max": ["channel"],
            "channel_bottom": ["channel"]}


def mesh_sizing(device: Device, f_Hz, *, refine: float = 1.0,
                growth: float = GROWTH) -> MeshSizing:
    """Element sizes of a device's gmsh mesh, from the physics.

    ``mesh_size_nm`` set: that size everywhere (uniform).  Otherwise graded, with
    ``ell = 1/max|q|`` of a material over ``f_Hz`` (:func:`fem.discretize.mesh.field_length_m`) and
    ``N = ELEMENTS_PER_LENGTH``:

    * on a face two regions of materials A and B share: ``min(ell_A, ell_B)/N``, where
      mu varies fastest;
    * on every face a contact sits on (injection, detector, lead, ground): ``ell/N`` of
      the material of the region(s) it bounds;
    * (both at most ``thinnest/ELEMENTS_ACROSS`` of the regions they touch;)
    * away from them the size grows by at most ``growth`` per element up to each
      region's bulk size ``min(ell/N, thinnest/ELEMENTS_ACROSS)``; in a region at least
      :data:`DEEP_LENGTHS` field lengths thick (a ferromagnet many spin-decay lengths
      thick) the bulk size is ``thinnest/ELEMENTS_ACROSS`` instead, reached as
      ``(ell/N) exp(DECAY_GRADING d/ell)`` at distance ``d`` from its fine faces: its
      inside carries almost no signal;
    * in a spin valve's channel, within ``s`` of a junction (``s`` its smallest extent,
      over which the spin current spreads), at most ``s/N`` (``spread_nm``).

    A 3D spin valve's electrodes are extruded on these sizes along z and meshed across
    on :func:`fem.discretize.geometry.lateral_sizing`.

    ``refine`` (times the device file's ``mesh_refine``; ``refine`` alone for a uniform
    ``mesh_size_nm``) divides every size, e.g. for a convergence study: a
    graded mesh of ``refine = 2`` is a graded mesh of half the size everywhere, its
    ramps included (``growth - 1`` is divided by ``refine`` too when ``refine > 1``;
    below 1 the ``growth`` limit stays, a limit on the elements' shapes).
    """
    regions = device.region_materials()
    if device.device.mesh_size_nm is not None:
        return MeshSizing.uniform({r: device.device.mesh_size_nm / refine for r in regions})
    refine = refine * device.device.mesh_refine
    thin = _region_thinnest_nm(device)
    ell = {m: 1e9 * field_length_m(device, m, f_Hz) for m in set(regions.values())}
    bulk, fine, decay = {}, {}, {}
    for r, m in regions.items():
        geometric = thin[r] / ELEMENTS_ACROSS / refine
        physical = ell[m] / ELEMENTS_PER_LENGTH / refine
        fine[r] = min(physical, geometric)
        if thin[r] >= DEEP_LENGTHS * ell[m]:
            bulk[r] = geometric
            decay[r] = (fine[r], ell[m])
        else:
            bulk[r] = fine[r]
    interfaces = {}
    for pair in device.touching_regions() or ():
        a, b = pair
        if regions[a] != regions[b]:
            interfaces[pair_key(a, b)] = min(fine[a], fine[b])
    faces = {}
    bounds = face_regions(device)
    for c in device.contacts.values():
        if c.junction is None:
            faces[c.at] = min(fine[r] for r in bounds[c.at])
        else:  # a junction contact is fine as an interface is, even between like metals
            a, b = c.junction
            interfaces.setdefault(pair_key(a, b), min(fine[a], fine[b]))
    return MeshSizing(bulk_nm=bulk, interfaces_nm=interfaces, faces_nm=faces, decay_nm=decay,
                      spread_nm=_spread_nm(device, bulk, refine),
                      growth=1.0 + (growth - 1.0) / max(refine, 1.0))


def _spread_nm(device: Device, bulk: dict[str, float], refine: float) -> dict:
    """A spin valve's junctions: the spin current entering the channel through a junction
    narrower than the channel spreads over the junction's smallest extent ``s`` (its
    width, in 3D also its length across the channel, or the channel's thickness): the
    channel's size within ``s`` of it is at most ``s/ELEMENTS_PER_LENGTH``, as a decay
    length's is (none where that size, divided by ``refine``, would be no finer than the
    channel's bulk or would exceed ``s`` itself)."""
    if device.geometry != "nonlocal_spin_valve":
        return {}
    ch, el = device.channel, device.electrodes
    extents = [el.width_nm, ch.thickness_nm]
    if device.dimension == 3:
        extents.append(min(ch.width_nm, el.length_nm))
    reach = min(extents)
    h = reach / ELEMENTS_PER_LENGTH / refine
    if h >= min(bulk["channel"], reach):  # no finer than the channel, or no zone at all
        return {}
    return {pair_key("channel", e): (h, reach) for e in ("injector", "detector")}


def geometry_hash(device: Device, sizing: MeshSizing | dict[str, float]) -> str:
    """Hash of everything the gmsh mesh depends on (not materials, contacts, frequencies
    beyond the element sizes they imply)."""
    if not isinstance(sizing, MeshSizing):
        sizing = MeshSizing.uniform(sizing)
    part = device.model_dump(mode="json", include={"device", "layers", "channel", "electrodes"})
    part["device"].pop("name")
    part["sizes_nm"] = sizing.as_dict()
    part["builder"] = BUILDER_VERSION
    if device.geometry == "nonlocal_spin_valve" and device.dimension == 3:
        from .geometry import JUNCTION_ACROSS_FINE, JUNCTION_EDGE_FINE

        part["junction_fine"] = [JUNCTION_ACROSS_FINE, JUNCTION_EDGE_FINE]
    return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:16]


def gmsh_msh(device: Device, f_Hz, mesh_dir: str | Path = "meshes",
             sizing: MeshSizing | None = None) -> Path:
    """``<mesh_dir>/<device>.msh``, rebuilt only when the geometry part changed
    (``sizing``: default :func:`mesh_sizing`)."""
    from .geometry import build_msh

    sizing = mesh_sizing(device, f_Hz) if sizing is None else sizing
    digest = geometry_hash(device, sizing)
    path = Path(mesh_dir) / f"{device.name}.msh"
    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists():
        try:
            if json.loads(stamp.read_text()).get("geometry_hash") == digest:
                log.info("reusing %s", path)
                return path
        except (OSError, ValueError):
            pass
    log.info("meshing %s with gmsh (sizes %s nm)", device.name, sizing.as_dict())
    build_msh(device, sizing, path)
    write_text(stamp, json.dumps({"geometry_hash": digest, "sizes_nm": sizing.as_dict()},
                                 indent=2))
    return path


def read_mesh(path: Path, dim: int) -> skfem.Mesh:
    """Read a mesh file (any meshio format) with its named physical groups."""
    import meshio

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            m = meshio.read(path)
    except (Exception, SystemExit) as exc:  # meshio raises many kinds, or exits, on bad files
        why = str(exc) if not isinstance(exc, SystemExit) else "not a mesh format meshio reads"
        raise DeviceError("device.mesh", f"cannot read mesh file {str(path)!r}: {why}") from None
    kind = {2: "triangle", 3: "tetra"}[dim]
    types = {c.type for c in m.cells}
    if kind not in types:
        raise DeviceError("device.mesh", f"{path} holds no {kind} cells for dimension = {dim}")
    if dim == 2 and types & {"tetra", "hexahedron", "wedge", "pyramid"}:
        raise DeviceError("device.mesh", f"{path} holds volume cells: set dimension = 3")
    if m.points.shape[1] > dim:
        extra = m.points[:, dim:]
        if np.ptp(extra, axis=0).max() > 1e-9 * max(np.ptp(m.points, axis=0).max(), 1e-300):
            raise DeviceError("device.mesh", f"{path}: a 2D mesh must lie in the x-y plane")
        m.points = np.ascontiguousarray(m.points[:, :dim])
    from skfem.io.meshio import from_meshio

    mesh = from_meshio(m)
    subs = {k: v for k, v in (mesh.subdomains or {}).items()
            if isinstance(k, str) and not k.startswith("gmsh:")}
    return same_topology(replace(mesh, _subdomains=subs), mesh)


def _check_names(device: Device, mesh: skfem.Mesh, source: str) -> None:
    groups = set(mesh.subdomains or {})
    regions = device.region_materials()
    if not groups:
        raise DeviceError("regions", f"none of the {mesh.nelements} elements of {source} "
                          "belongs to a named physical group, so none has a material")
    for name in regions:
        if name not in groups:
            raise DeviceError(f"regions.{name}", f"no physical group {name!r} of dimension "
                              f"{mesh.dim()} in {source} (groups: {sorted(groups)})")
    for name in sorted(groups - set(regions)):
        raise DeviceError("regions", f"physical group {name!r} in {source} has no material")
    covered = np.zeros(mesh.nelements, dtype=bool)
    for name in regions:
        covered[mesh.subdomains[name]] = True
    if not covered.all():
        raise DeviceError("regions", f"{int((~covered).sum())} elements of {source} belong to no "
                          "physical group, so they have no material")
    faces = set(mesh.boundaries or {})
    outer = None
    for cname, c in device.contacts.items():
        if c.junction is not None:
            continue  # regions checked above; that they touch: DeviceMesh.check_junctions
        if c.at not in faces:
            raise DeviceError(f"contacts.{cname}.at", f"no boundary physical group {c.at!r} in "
                              f"{source} (boundary groups: {sorted(faces)})")
        if outer is None:
            outer = np.zeros(mesh.facets.shape[1], dtype=bool)
            outer[mesh.boundary_facets()] = True
        inside = int((~outer[np.asarray(mesh.boundaries[c.at])]).sum())
        if inside:
            raise DeviceError(f"contacts.{cname}.at", f"physical group {c.at!r} in {source} "
                              f"lies inside the domain ({inside} of "
                              f"{len(mesh.boundaries[c.at])} facets are not on the outer "
                              "boundary): a contact must sit on the outer boundary")


def device_mesh(device: Device, f_Hz, mesh_dir: str | Path = "meshes", *,
                sizing: MeshSizing | None = None) -> DeviceMesh:
    """The mesh of any device, in scaled coordinates, regions and contacts by name
    (``sizing``: the element sizes of a gmsh mesh, default :func:`mesh_sizing`)."""
    if device.geometry == "stack" and device.device.mesher == "structured":
        return stack_mesh(device, f_Hz)
    dim = device.dimension
    if device.geometry == "mesh":
        path = device.mesh_path()
        if not path.exists():
            raise DeviceError("device.mesh", f"mesh file {str(path)!r} does not exist")
        mesh = read_mesh(path, dim)
        unit = device.mesh_unit_m()
        extent = (mesh.p.max(axis=1) - mesh.p.min(axis=1)) * unit
        scales = device_scales(device, float(extent.max()))
    else:
        path = gmsh_msh(device, f_Hz, mesh_dir, sizing)
        mesh = read_mesh(path, dim)
        unit = 1e-9
        scales = device_scales(device)
    _check_names(device, mesh, str(path))
    mesh = same_topology(mesh.scaled(unit / scales.length_m), mesh)
    dmesh = DeviceMesh(mesh=mesh, scales=scales, region_material=device.region_materials(),
                       contacts={c: spec.at for c, spec in device.contacts.items()},
                       junction_share=junction_shares(device))
    dmesh.check_junctions()
    return dmesh


#: the most a morph may stretch or shrink any segment between two planes of the geometry
#: before a fresh mesh is better (element shapes and the grading follow the stretch)
MORPH_MAX_STRETCH = 1.5


def _axis_maps(old: Device, new: Device) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per mesh axis, the distinct planes of ``old`` and where ``new`` puts them
    (nm); None where no piecewise linear map takes one geometry to the other."""
    from .geometry import axis_breakpoints_nm

    a, b = axis_breakpoints_nm(old), axis_breakpoints_nm(new)
    if a is None or b is None or old.geometry != new.geometry or len(a) != len(b):
        return None
    maps = []
    for ak, bk in zip(a, b):
        ua, ia = np.unique(np.round(ak, 9), return_inverse=True)
        ub, ib = np.unique(np.round(bk, 9), return_inverse=True)
        if ua.size != ub.size or not np.array_equal(ia, ib):
            return None
        maps.append((ua, ub))
    return maps


def _worst_stretch(maps: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The largest factor by which the axis maps stretch or shrink a segment."""
    worst = 1.0
    for ua, ub in maps:
        if ua.size > 1:
            stretch = np.diff(ub) / np.diff(ua)
            worst = max(worst, float(stretch.max()), float(1.0 / stretch.min()))
    return worst


def morph_stretch(old: Device, new: Device) -> float | None:
    """The largest factor by which a morph of a mesh of ``old`` onto ``new`` stretches
    or shrinks a segment between two planes (1.0: the same geometry); None where the
    geometries cannot be morphed into each other (see :func:`morph_device_mesh`)."""
    maps = _axis_maps(old, new)
    return None if maps is None else _worst_stretch(maps)


def morph_device_mesh(dmesh: DeviceMesh, old: Device, new: Device) -> DeviceMesh | None:
    """``dmesh`` (a mesh of ``old``, interfaces not split) with its nodes moved onto the
    geometry of ``new``: along each axis a piecewise linear map between the planes of
    :func:`fem.discretize.geometry.axis_breakpoints_nm`.  Elements, regions, named
    boundaries and contacts stay as they are, and the coordinates are a smooth function
    of the geometry keys (no re-meshing noise: finite differences in a geometry key
    are then as good as their step).

    Returns None where a morph cannot stand for a fresh mesh: a user mesh, another
    geometry, planes in another order, or a segment stretched or shrunk by more than
    :data:`MORPH_MAX_STRETCH` (:func:`morph_stretch`).
    """
    if dmesh.interfaces:
        raise ValueError("morph the mesh before its interfaces are split")
    maps = _axis_maps(old, new)
    if maps is None or _worst_stretch(maps) > MORPH_MAX_STRETCH:
        return None
    unit = 1e-9 / dmesh.scales.length_m
    p = dmesh.mesh.p.copy()
    for k, (ua, ub) in enumerate(maps):
        if ua.size > 1:
            p[k] = np.interp(p[k], ua * unit, ub * unit)
    mesh = same_topology(replace(dmesh.mesh, doflocs=p), dmesh.mesh)
    return DeviceMesh(mesh=mesh, scales=dmesh.scales, region_material=dict(dmesh.region_material),
                      contacts=dict(dmesh.contacts),
                      junction_share=dict(dmesh.junction_share))


def mesh_statistics(dmesh: DeviceMesh) -> dict:
    """Nodes (as meshed), the copies that split spin-resistive interfaces (nodes plus
    copies: the unknowns), and elements per region."""
    m = dmesh.mesh
    return {"nodes": dmesh.mesh_nodes, "split_interface_nodes": int(m.nvertices) - dmesh.mesh_nodes,
            "elements": int(m.nelements),
            "elements_per_region": {r: int(len(m.subdomains[r])) for r in dmesh.region_names}}

