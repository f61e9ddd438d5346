"""Every validation that needs no solve, for ``spinfem check``: what
:func:`fem.model.device.load_device` checks, the resources a run would need
(:mod:`fem.discretize.resources`) and, for a device on a user mesh, the mesh itself (readable,
every region with a material, contacts on the outer boundary, interfaces that touch).
Nothing is written."""

from __future__ import annotations

from ..model.device import Device
from .interfaces import split_interfaces
from .meshing import device_mesh
from .resources import Estimate, check_resources


def preflight(device: Device, allow_large: bool = False) -> Estimate | None:
    """Raise :class:`~fem.core.errors.DeviceError` for anything a run of ``device`` would
    refuse before solving; the resource estimate (None for a user mesh)."""
    est = check_resources(device, allow_large)
    if device.geometry == "mesh":
        dmesh = device_mesh(device, device.f_Hz())
        if device.interfaces:
            split_interfaces(dmesh, device)
    return est
