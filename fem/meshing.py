"""Meshes of every geometry: structured stacks, gmsh devices (cached in ``meshes/``)
and user meshes, all returned as a :class:`~fem.mesh.DeviceMesh` in scaled units."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import skfem

from .atomic import write_text
from .device import Device
from .errors import DeviceError
from .mesh import DeviceMesh, device_scales, field_length_m, same_topology, stack_mesh

log = logging.getLogger(__name__)

#: gmsh meshes: elements per shortest field length 1/|q| of the region's material
#: (8, not the structured meshes' 10: unstructured 3D meshes cost more per element)
ELEMENTS_PER_LENGTH = 8
#: and at least this many elements across a region's thinnest dimension
ELEMENTS_ACROSS = 3
#: bump when the gmsh builders change, so cached meshes are rebuilt
BUILDER_VERSION = 1


def _region_thinnest_nm(device: Device) -> dict[str, float]:
    g, d = device.geometry, device.dimension
    if g in ("stack", "pillar"):
        return {n: lay.thickness_nm for n, lay in zip(device.layer_names(), device.layers)}
    ch, el = device.channel, device.electrodes
    chan = ch.thickness_nm if d == 2 else min(ch.thickness_nm, ch.width_nm)
    elec = min(el.thickness_nm, el.width_nm) if d == 2 else \
        min(el.thickness_nm, el.width_nm, el.length_nm)
    return {"channel": chan, "injector": elec, "detector": elec}


def region_sizes_nm(device: Device, f_Hz) -> dict[str, float]:
    """Element size per region [nm]: ``mesh_size_nm`` if given, else the smaller of
    ``1/(ELEMENTS_PER_LENGTH max|q|)`` over ``f_Hz`` and ``thinnest/ELEMENTS_ACROSS``."""
    if device.device.mesh_size_nm is not None:
        return {r: device.device.mesh_size_nm for r in device.region_materials()}
    thin = _region_thinnest_nm(device)
    out = {}
    for region, mat in device.region_materials().items():
        ell = 1e9 * field_length_m(device, mat, f_Hz)
        out[region] = min(ell / ELEMENTS_PER_LENGTH, thin[region] / ELEMENTS_ACROSS)
    return out


def geometry_hash(device: Device, sizes_nm: dict[str, float]) -> str:
    """Hash of everything the gmsh mesh depends on (not materials, contacts, frequencies
    beyond the element sizes they imply)."""
    part = device.model_dump(mode="json", include={"device", "layers", "channel", "electrodes"})
    part["device"].pop("name")
    part["sizes_nm"] = {k: float(f"{v:.12g}") for k, v in sorted(sizes_nm.items())}
    part["builder"] = BUILDER_VERSION
    return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:16]


def gmsh_msh(device: Device, f_Hz, mesh_dir: str | Path = "meshes") -> Path:
    """``<mesh_dir>/<device>.msh``, rebuilt only when the geometry part changed."""
    from .geometry import build_msh

    sizes = region_sizes_nm(device, f_Hz)
    digest = geometry_hash(device, sizes)
    path = Path(mesh_dir) / f"{device.name}.msh"
    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists():
        try:
            if json.loads(stamp.read_text()).get("geometry_hash") == digest:
                log.info("reusing %s", path)
                return path
        except (OSError, ValueError):
            pass
    log.info("meshing %s with gmsh (sizes %s nm)", device.name, sizes)
    build_msh(device, sizes, path)
    write_text(stamp, json.dumps({"geometry_hash": digest, "sizes_nm": sizes}, indent=2))
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


def device_mesh(device: Device, f_Hz, mesh_dir: str | Path = "meshes") -> DeviceMesh:
    """The mesh of any device, in scaled coordinates, regions and contacts by name."""
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
        path = gmsh_msh(device, f_Hz, mesh_dir)
        mesh = read_mesh(path, dim)
        unit = 1e-9
        scales = device_scales(device)
    _check_names(device, mesh, str(path))
    mesh = same_topology(mesh.scaled(unit / scales.length_m), mesh)
    return DeviceMesh(mesh=mesh, scales=scales, region_material=device.region_materials(),
                      contacts={c: spec.at for c, spec in device.contacts.items()})


def mesh_statistics(dmesh: DeviceMesh) -> dict:
    """Nodes and elements per region."""
    m = dmesh.mesh
    return {"nodes": int(m.nvertices), "elements": int(m.nelements),
            "elements_per_region": {r: int(len(m.subdomains[r])) for r in dmesh.region_names}}

