"""Frequency-domain solves: assemble a device once, then one sparse solve per frequency."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla

from .assemble import Blocks, assemble
from .device import Device
from .errors import SolveError
from .interfaces import split_interfaces
from .mesh import DeviceMesh
from .meshing import device_mesh
from .result import Result

log = logging.getLogger(__name__)


@dataclass
class Problem:
    """A device assembled once: its mesh and frequency-independent blocks."""

    device: Device
    blocks: Blocks
    #: seconds spent meshing and assembling
    prepare_s: float = 0.0

    @property
    def dmesh(self) -> DeviceMesh:
        return self.blocks.dmesh

    def rhs(self) -> np.ndarray:
        """Scaled load ``sum_contacts j_in/(L0 R0) int v`` on the free nodes."""
        s = self.dmesh.scales
        b = np.zeros(self.blocks.n_nodes, dtype=complex)
        for name, j_in in self.device.injections().items():
            b += j_in / (s.length_m * s.rate_per_s) * self.blocks.contact_load(name)
        return b[self.blocks.free]

    def solve(self, f_Hz: float) -> Result:
        """Solve at one frequency [Hz]."""
        if not np.isfinite(f_Hz) or f_Hz <= 0:
            raise SolveError(f"frequency must be finite and > 0 Hz, got {f_Hz!r}")
        A = self.blocks.system(2.0 * np.pi * f_Hz)
        x = spla.spsolve(A.tocsc(), self.rhs())
        if not np.all(np.isfinite(x)):
            raise SolveError(f"the linear solve at f = {f_Hz:g} Hz gave non-finite values")
        mu = np.zeros(self.blocks.n_nodes, dtype=complex)
        mu[self.blocks.free] = x
        return self.result(f_Hz, mu)

    def result(self, f_Hz: float, mu: np.ndarray) -> Result:
        """Wrap nodal ``mu`` [A/m] at ``f_Hz`` as a :class:`Result` of this device."""
        return Result(self.blocks, f_Hz, mu, self.device.injections())


def prepare(device: Device, f_Hz: Iterable[float] | None = None, *,
            dmesh: DeviceMesh | None = None, mesh_dir: str | Path = "meshes") -> Problem:
    """Mesh and assemble a device once.

    Parameters
    ----------
    device : Device
    f_Hz : iterable of float, optional
        Frequencies [Hz] the default mesh must resolve (default: the device's).
    dmesh : DeviceMesh, optional
        Use this mesh instead of building the default one.
    mesh_dir : path
        Where gmsh meshes are saved (``<mesh_dir>/<device>.msh``) and reused.
    """
    t0 = time.perf_counter()
    freqs = device.f_Hz() if f_Hz is None else np.asarray(list(f_Hz), dtype=float)
    if dmesh is None:
        dmesh = device_mesh(device, freqs, mesh_dir)
    if device.interfaces and not dmesh.interfaces:
        dmesh = split_interfaces(dmesh, device)
    materials = {name: device.material(name) for name in device.materials}
    kinds = {n: c.kind for n, c in device.contacts.items()}
    blocks = assemble(dmesh, materials, grounded=[n for n, k in kinds.items() if k == "ground"],
                      leads=[n for n, k in kinds.items() if k == "lead"])
    log.info("assembled %s: %d nodes, %d elements", device.name, dmesh.mesh.nvertices,
             dmesh.mesh.nelements)
    return Problem(device=device, blocks=blocks, prepare_s=time.perf_counter() - t0)


def solve(device: Device | Problem, f_Hz: float) -> Result:
    """Solve a device (or a prepared :class:`Problem`) at one frequency [Hz]."""
    problem = device if isinstance(device, Problem) else prepare(
        device, np.union1d(device.f_Hz(), [f_Hz]))
    return problem.solve(f_Hz)
