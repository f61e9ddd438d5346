"""The device axis: the line along which profiles are sampled and plotted.

* ``stack``: x through the centre of the cross-section;
* ``pillar``: the stacking axis (z; y in 2D) through the centre;
* ``nonlocal_spin_valve``: x along the channel at mid-thickness;
* ``mesh``: none.

Ends of layers are moved inwards by 1e-9 of the layer so that the discontinuous
``dm`` and ``dM`` are sampled on both sides of each interface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import to_si
from ..model.device import Device

POINTS_PER_LAYER = 60
POINTS_ALONG_CHANNEL = 801


@dataclass(frozen=True)
class Axis:
    """Sample points along a device axis.

    Attributes
    ----------
    points_m : ndarray, shape (n, dim)
        The points [m].
    s_m : ndarray, shape (n,)
        Position along the axis [m].
    label : str
        The axis coordinate's name (``x``, ``y`` or ``z``).
    bands : list of (start_m, stop_m, name, kind)
        Intervals of the axis to shade in plots (layers, electrodes).
    """

    points_m: np.ndarray
    s_m: np.ndarray
    label: str
    bands: list


def _layered(device: Device, along: int, centre: list[float]) -> Axis:
    edges = device.layer_edges_m()
    s, bands = [], []
    for (a, b), lay, name in zip(zip(edges[:-1], edges[1:]), device.layers, device.layer_names()):
        x = np.linspace(a, b, POINTS_PER_LAYER)
        eps = 1e-9 * (b - a)
        x[0], x[-1] = a + eps, b - eps
        s.append(x)
        bands.append((a, b, f"{name} ({lay.material})", device.materials[lay.material].kind))
    s = np.concatenate(s)
    pts = np.tile(np.asarray(centre, dtype=float), (s.size, 1))
    pts[:, along] = s
    return Axis(pts, s, "x" if along == 0 else "z", bands)


def device_axis(device: Device) -> Axis | None:
    """The sampling axis of a device (None for a user mesh)."""
    dim = device.dimension
    if device.geometry == "stack":
        centre = [0.0] + [e / 2 for e in device.extent_m()[1:]]
        return _layered(device, 0, centre)
    if device.geometry == "pillar":
        return _layered(device, dim - 1, [0.0] * dim)
    if device.geometry == "nonlocal_spin_valve":
        ch, el = device.channel, device.electrodes
        L = to_si("length_nm", ch.length_nm)
        t = to_si("thickness_nm", ch.thickness_nm)
        x = np.linspace(-L / 2, L / 2, POINTS_ALONG_CHANNEL) * (1 - 1e-9)  # inside the mesh
        cols = [x] + ([np.zeros_like(x)] if dim == 3 else []) + [np.full_like(x, t / 2)]
        pts = np.column_stack(cols)
        s, w = to_si("spacing_nm", el.spacing_nm), to_si("width_nm", el.width_nm)
        kind = device.materials[el.material].kind
        bands = [(-s / 2 - w / 2, -s / 2 + w / 2, "injector", kind),
                 (s / 2 - w / 2, s / 2 + w / 2, "detector", kind)]
        return Axis(pts, x, "x", bands)
    return None
