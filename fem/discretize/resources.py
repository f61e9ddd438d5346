"""What a device will cost, estimated before anything is meshed, and the refusal of
what this machine cannot hold.

Nodes come from the geometry and the element sizes the mesher will use: exact for a
structured stack; for gmsh meshes ``NODES_PER_CELL`` nodes per ``h^d`` of each region's
measure, calibrated on the 3D nonlocal spin valve (estimates 0.71, 0.89 and 1.04 of the
52k, 199k and 892k nodes gmsh made at ``mesh_size_nm`` 6.6, 3.9 and 2.25); a graded
3D spin valve's electrodes, extruded along z, are their footprints' nodes times their
layers (the whole valve: 0.74-0.88 of the 20k-141k nodes gmsh made at ``mesh_refine``
0.3-1).  Memory is
``BYTES_PER_NODE`` per node: the measured peak of a whole run (meshing, assembly, the
reduced sweep) at 892k nodes in 3D, 4.8 kB per node, with headroom.  Above
:data:`MEMORY_FRACTION` of this machine's memory, or above :data:`MAX_FREQUENCIES`
frequencies, a device is refused with the estimate in the message unless
``allow_large`` is set.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..core.errors import DeviceError
from ..model.device import Device
from .mesh import stack_spacing_m, transverse_elements
from .meshing import MeshSizing, face_regions, mesh_sizing, pair_key

#: nodes per h^d of a region's length/area/volume in an unstructured (gmsh) mesh
NODES_PER_CELL = {2: 1.15, 3: 0.8}
#: elements per node of a simplex mesh
ELEMENTS_PER_NODE = {1: 1.0, 2: 2.0, 3: 5.5}
#: peak memory of a run per node [bytes] (3D measured: 4.8 kB at 892k nodes) and its base
BYTES_PER_NODE = {1: 1_000, 2: 3_000, 3: 6_000}
BASE_BYTES = 300e6
#: a run may take this fraction of the machine's memory
MEMORY_FRACTION = 0.8
#: frequencies a sweep may have without ``allow_large``
MAX_FREQUENCIES = 100_000


@dataclass(frozen=True)
class Estimate:
    """What a device's run is estimated to need."""

    nodes: float
    elements: float
    memory_GB: float
    #: the key that sets the size (what to change to make it smaller)
    key: str


def machine_memory_GB() -> float:
    """Physical memory of this machine [GB]."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 8.0


def _region_extents_nm(device: Device) -> dict[str, list[tuple[str, float]]]:
    """Per region, its extents as ``(device-file key, nm)`` (the dimensions of the mesh)."""
    d, dev = device.dimension, device.device
    g = device.geometry
    if g in ("stack", "pillar"):
        side = [("device.width_nm", dev.width_nm)] if d >= 2 else []
        if d == 3:
            side.append(("device.height_nm", dev.height_nm) if g == "stack" else
                        ("device.depth_nm", dev.depth_nm))
        return {n: [(f"layers[{i}].thickness_nm", lay.thickness_nm)] + side
                for i, (n, lay) in enumerate(zip(device.layer_names(), device.layers))}
    ch, el = device.channel, device.electrodes
    chan = [("channel.length_nm", ch.length_nm), ("channel.thickness_nm", ch.thickness_nm)]
    elec = [("electrodes.width_nm", el.width_nm), ("electrodes.thickness_nm", el.thickness_nm)]
    if d == 3:
        chan.append(("channel.width_nm", ch.width_nm))
        elec.append(("electrodes.length_nm", el.length_nm))
    return {"channel": chan, "injector": elec, "detector": elec}


def _structured_stack_nodes(device: Device, f_Hz) -> float:
    sizes = stack_spacing_m(device, f_Hz)
    edges = device.layer_edges_m()
    along = sum(math.ceil((b - a) / h - 1e-9) for a, b, h in zip(edges[:-1], edges[1:], sizes))
    return (along + 1) * math.prod(n + 1 for n in transverse_elements(device, sizes))


def _feature_measures_nm(device: Device) -> list[tuple[str, str, float]]:
    """``(region, interface pair or face name, measure [nm^(d-1)])`` of every fine
    feature a graded mesh may have, per region it enters."""
    d, g = device.dimension, device.geometry
    out = []
    if g == "nonlocal_spin_valve":
        ch, el = device.channel, device.electrodes
        contact = el.width_nm * (min(ch.width_nm, el.length_nm) if d == 3 else 1.0)
        top = el.width_nm * (el.length_nm if d == 3 else 1.0)
        for e in ("injector", "detector"):
            pair = pair_key("channel", e)
            out += [(e, pair, contact), ("channel", pair, contact), (e, f"{e}_top", top)]
        end = ch.thickness_nm * (ch.width_nm if d == 3 else 1.0)
        out += [("channel", "channel_x_min", end), ("channel", "channel_x_max", end),
                ("channel", "channel_bottom", ch.length_nm * (ch.width_nm if d == 3 else 1.0))]
        return out
    names = device.layer_names()
    w = device.device.width_nm
    depth = (device.device.height_nm if g == "stack" else device.device.depth_nm) or 1.0
    section = w * (depth if d == 3 else 1.0)
    for a, b in zip(names[:-1], names[1:]):
        pair = pair_key(a, b)
        out += [(a, pair, section), (b, pair, section)]
    for face, regions in face_regions(device).items():
        for r, lay in zip(names, device.layers):
            if r in regions:
                side = section if face in ("x_min", "x_max", "bottom", "top") else \
                    lay.thickness_nm * (2 * (w + depth) if d == 3 else 1.0)
                out.append((r, face, side))
    return out


def _graded_cells(device: Device, sizing: MeshSizing, extents) -> dict[str, float]:
    """Cells a graded mesh adds to each region's ``measure/bulk^d``: for every fine
    feature, ``measure * int_0^D (h(s)^-d - bulk^-d) ds`` along the distance s from it,
    ``h(s)`` the sizing's ramp (the smaller of the linear growth and, in a deep region,
    the decay grading), ``D`` the region's thickness."""
    out = {r: 0.0 for r in sizing.bulk_nm}
    if not sizing.graded:
        return out
    d = device.dimension
    fine = {**sizing.interfaces_nm, **sizing.faces_nm}
    for region, feature, measure in _feature_measures_nm(device):
        if feature not in fine:
            continue
        H = sizing.bulk_nm[region]
        h0 = min(fine[feature], H)
        depth = min(v for _, v in extents[region])
        s = np.linspace(0.0, depth, 2001)
        h = np.maximum(sizing.graded_nm(region, [(s, h0)], s.shape), h0)
        y = h ** -d - H ** -d
        out[region] += measure * float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(s)))
    return out


def _spread_cells(device: Device, sizing: MeshSizing) -> float:
    """Cells the junctions' spreading zones (``sizing.spread_nm``) add to the channel of
    a spin valve: a box (a rectangle in 2D) of the junction's footprint widened by the
    reach, as deep as the reach, at ``h^-d - bulk^-d``."""
    ch, el = device.channel, device.electrodes
    d = device.dimension
    out = 0.0
    for h, reach in sizing.spread_nm.values():
        box = (el.width_nm + 2 * reach) * min(ch.thickness_nm, reach)
        if d == 3:
            box *= min(ch.width_nm, el.length_nm + 2 * reach)
        out += box * (h ** -d - sizing.bulk_nm["channel"] ** -d)
    return out


def _extruded_electrode_nodes(device: Device, sizing: MeshSizing) -> dict[str, float]:
    """Nodes of a 3D spin valve's electrodes, their footprints extruded along z
    (:func:`fem.discretize.geometry.electrode_layers_nm`): the footprint's nodes (the
    lateral sizes of :func:`~fem.discretize.geometry.lateral_sizing` and the ramps from
    the junction's edges, integrated as ``NODES_PER_CELL / h^2``) times the layers'
    planes."""
    from .geometry import JUNCTION_EDGE_FINE, electrode_layers_nm, lateral_sizing

    ch, el = device.channel, device.electrodes
    lateral = lateral_sizing(device, sizing)
    g = sizing.growth - 1.0
    y = np.linspace(-el.length_nm / 2, el.length_nm / 2, 1201)
    out = {}
    for name in ("injector", "detector"):
        key = pair_key(name, "channel")
        h = np.full(y.shape, lateral.bulk_nm[name])
        if key in lateral.interfaces_nm:
            off = np.abs(np.abs(y) - ch.width_nm / 2)  # to the junction's edges
            inside = np.abs(y) <= ch.width_nm / 2
            h = np.minimum(h, lateral.interfaces_nm[key] + g * np.where(inside, 0.0, off))
            if el.length_nm > ch.width_nm:
                he = sizing.interfaces_nm[key] * JUNCTION_EDGE_FINE
                h = np.minimum(h, he + g * np.maximum(off - he, 0.0))
        per_length = np.sum((h[1:] ** -2 + h[:-1] ** -2) / 2 * np.diff(y))
        planes = len(electrode_layers_nm(device, sizing, name))
        out[name] = float(per_length * el.width_nm * NODES_PER_CELL[2] * planes)
    return out


def estimate(device: Device) -> Estimate | None:
    """Nodes, elements and peak memory of a run of ``device`` (None for a user mesh:
    its size is what the file holds)."""
    f = device.f_Hz()
    if device.geometry == "mesh":
        return None
    d = device.dimension
    ends = np.array([f.min(), f.max()])  # |q| grows with frequency: the ends set the sizes
    key = "device.mesh_size_nm" if device.device.mesh_size_nm is not None else None
    extents = _region_extents_nm(device)
    if device.geometry == "stack" and device.device.mesher == "structured":
        nodes = float(_structured_stack_nodes(device, ends))
        per_region = {r: math.prod(v for _, v in ext) for r, ext in extents.items()}
    elif device.geometry == "pillar" and d == 3:  # a cross-section extruded along z
        from .geometry import PILLAR_ELEMENTS_ACROSS, pillar_layers_nm

        w, dd = device.device.width_nm, device.device.depth_nm
        h = min(w, dd) / PILLAR_ELEMENTS_ACROSS
        shape = math.pi / 4 if device.device.cross_section == "ellipse" else 1.0
        section = w * dd * shape / h**2 * NODES_PER_CELL[2]
        layers = pillar_layers_nm(device, mesh_sizing(device, ends))
        per_region = {r: section * (len(z) - 1) for r, z in zip(device.layer_names(), layers)}
        nodes = float(sum(per_region.values()))
    else:
        from .geometry import lateral_sizing

        sizing = mesh_sizing(device, ends)
        # a graded 3D spin valve: electrodes extruded, the channel graded from the
        # junctions' sizes across them and from their spreading zones
        extruded = device.geometry == "nonlocal_spin_valve" and d == 3 and key is None
        ellipse = device.geometry == "pillar" and device.device.cross_section == "ellipse"
        per_region = {r: math.prod(v for _, v in ext) / sizing.bulk_nm[r] ** d
                      * NODES_PER_CELL[d] * (math.pi / 4 if ellipse else 1.0)
                      for r, ext in extents.items()}
        graded = lateral_sizing(device, sizing) if extruded else sizing
        for r, extra in _graded_cells(device, graded, extents).items():
            per_region[r] += extra * NODES_PER_CELL[d]
        if device.geometry == "nonlocal_spin_valve":
            per_region["channel"] += _spread_cells(device, sizing) * NODES_PER_CELL[d]
        if extruded:
            per_region.update(_extruded_electrode_nodes(device, sizing))
        nodes = float(sum(per_region.values()))
    if key is None:  # the largest extent of the region with the most nodes
        biggest = max(per_region, key=per_region.get)
        key = max(extents[biggest], key=lambda kv: kv[1])[0]
    memory = (BASE_BYTES + nodes * BYTES_PER_NODE[d]) / 1e9
    return Estimate(nodes=nodes, elements=nodes * ELEMENTS_PER_NODE[d], memory_GB=memory,
                    key=key)


def check_resources(device: Device, allow_large: bool = False) -> Estimate | None:
    """Refuse a device this machine cannot hold (see the module docstring).

    Raises
    ------
    DeviceError
        Naming the key that sets the size, with the estimate, unless ``allow_large``.
    """
    n_f = len(device.f_Hz())
    if n_f > MAX_FREQUENCIES and not allow_large:
        raise DeviceError("frequencies.f_Hz", f"{n_f} frequencies is more than "
                          f"{MAX_FREQUENCIES} (a sweep keeps a row and a reduced solution "
                          "per frequency); use fewer, or --allow-large")
    est = estimate(device)
    limit = MEMORY_FRACTION * machine_memory_GB()
    if est is not None and est.memory_GB > limit and not allow_large:
        raise DeviceError(est.key, f"the mesh would have about {est.nodes:.2g} nodes "
                          f"({est.elements:.2g} elements) and need about {est.memory_GB:.3g} "
                          f"GB, more than this machine can give a run ({limit:.3g} GB); use "
                          "a coarser mesh (mesh_size_nm, or mesh_refine < 1 for a graded "
                          "one) or a smaller device, or --allow-large on a bigger machine")
    return est
