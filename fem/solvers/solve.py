"""Frequency-domain solves: assemble a device once, then solve per frequency.

:class:`Problem` holds the assembled blocks and the ``[solver]`` settings; its
per-frequency solves use :mod:`fem.solvers.linear` (direct or iterative), and its
:meth:`Problem.reduced_basis` sets up the reduced basis of :mod:`fem.solvers.reduced`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import SolveError
from ..discretize.interfaces import split_interfaces
from ..discretize.mesh import DeviceMesh
from ..discretize.meshing import device_mesh
from ..discretize.resources import check_resources
from ..model.device import Device
from ..model.specs import SolverSpec
from .assemble import Blocks, assemble
from .linear import DirectSolver, IterativeSolver, SolveStats, auto_method, make_solver
from .reduced import ReducedBasis, Signal
from .result import Result

#: full solves that build a reduced basis reach rel_tol times this relative residual
SNAPSHOT_TOL_FACTOR = 1e-4

log = logging.getLogger(__name__)


@dataclass
class Problem:
    """A device assembled once: its mesh, frequency-independent blocks and solver settings."""

    device: Device
    blocks: Blocks
    #: seconds spent meshing and assembling
    prepare_s: float = 0.0
    #: where ``prepare_s`` went: ``mesh`` (gmsh or reading the mesh file), ``interfaces``
    #: (splitting interface nodes), ``assembly`` [s]
    prepare_parts_s: dict = field(default_factory=dict)
    #: the ``[solver]`` settings (default: the device file's)
    solver: SolverSpec | None = None
    #: set by :func:`fem.studies.adapt.adapt`: frequency [Hz] -> estimated relative error of the
    #: adapted contact's ``Z`` on this mesh
    error_estimate: dict | None = None
    #: set by :func:`fem.studies.adapt.adapt`: one dict per step of the adaptive loop (nodes,
    #: elements, estimate per frequency, ``Z`` per frequency, elements marked)
    adapt_history: list | None = None
    _linear: dict = field(default_factory=dict, init=False, repr=False)
    _rhs: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.solver is None:
            self.solver = self.device.solver

    @property
    def dmesh(self) -> DeviceMesh:
        return self.blocks.dmesh

    @property
    def n_unknowns(self) -> int:
        """Unknowns of the linear system (free nodes)."""
        return int(self.blocks.free.size)

    def method(self, n_frequencies: int = 1) -> str:
        """The solver method a sweep of ``n_frequencies`` uses (``"auto"`` resolved)."""
        m = self.solver.method
        return auto_method(self.n_unknowns, self.dmesh.dim, n_frequencies) if m == "auto" else m

    def linear_solver(self, snapshot: bool = False) -> DirectSolver | IterativeSolver:
        """The per-frequency solver (kept, so an AMG hierarchy is reused); ``snapshot``:
        the tighter one that builds a reduced basis."""
        if snapshot not in self._linear:
            m = self.solver.method
            m = auto_method(self.n_unknowns, self.dmesh.dim) if m in ("auto", "reduced") else m
            tol = self.solver.rel_tol * (SNAPSHOT_TOL_FACTOR if snapshot else 1.0)
            self._linear[snapshot] = make_solver(self.blocks, m, tol, self.solver.max_iterations)
        return self._linear[snapshot]

    def rhs(self) -> np.ndarray:
        """Scaled load ``sum_contacts j_in/(L0 R0) int v`` on the free nodes."""
        s = self.dmesh.scales
        b = np.zeros(self.blocks.n_nodes, dtype=complex)
        for name, j_in in self.device.injections().items():
            b += j_in / (s.length_m * s.rate_per_s) * self.blocks.contact_load(name)
        return b[self.blocks.free]

    def solve_rhs(self, f_Hz: float, B: np.ndarray, snapshot: bool = False,
                  x0: np.ndarray | None = None) -> tuple[np.ndarray, SolveStats]:
        """``A(omega)^-1 B`` on the free nodes, with how it was solved (``x0``: an initial
        guess for the iterative solver)."""
        if not np.isfinite(f_Hz) or f_Hz <= 0:
            raise SolveError(f"frequency must be finite and > 0 Hz, got {f_Hz!r}")
        X, stats = self.linear_solver(snapshot).solve(2.0 * np.pi * f_Hz, B, x0)
        if not np.all(np.isfinite(X)):
            raise SolveError(f"the linear solve at f = {f_Hz:g} Hz gave non-finite values")
        return X, stats

    def solve(self, f_Hz: float) -> Result:
        """Solve at one frequency [Hz] (``Result.stats`` says how)."""
        x, stats = self.solve_rhs(f_Hz, self.rhs())
        res = self.result(f_Hz, self.full(x))
        res.stats = stats
        return res

    def full(self, x: np.ndarray) -> np.ndarray:
        """Nodal ``mu`` [A/m] on all nodes from the free-node values (0 on grounds)."""
        mu = np.zeros(self.blocks.n_nodes, dtype=complex)
        mu[self.blocks.free] = x
        return mu

    def result(self, f_Hz: float, mu: np.ndarray) -> Result:
        """Wrap nodal ``mu`` [A/m] at ``f_Hz`` as a :class:`Result` of this device."""
        return Result(self.blocks, f_Hz, mu, self.device.injections())

    def balance(self, f_Hz: float, mu: np.ndarray) -> tuple[float, dict[str, complex]]:
        """Spin-current conservation of a solution (nodal ``mu`` [A/m] on all nodes): the
        injected current against where it goes, with the test function 1 on every free
        node.

        Returns ``(rel_balance, fractions)``: ``|injected - sum of the parts| /
        |injected|`` and each part as a fraction of the injected current:
        ``"volume:<material>"`` (storage and relaxation, ``int chi_m kappa mu``),
        ``"lead:<contact>"`` (what a semi-infinite lead carries away) and ``"ground"``
        (the diffusive current into the grounded contacts).  A direct solve balances to
        rounding; an iterative or reduced one to its residual.
        """
        if self._rhs is None:
            self._rhs = self.signal_functionals()[0]
        injected = complex(self._rhs[:, 0].sum())
        x = mu[self.blocks.free]
        theta = self.blocks.theta(2.0 * np.pi * f_Hz)
        parts: dict[str, complex] = {}
        for name, t, y in zip(self.blocks.term_names(), theta, self.blocks.row_sums()):
            kind, _, rest = name.partition(":")
            key = {"K": "ground", "M": f"volume:{rest}",
                   "S": f"lead:{rest.split(':')[0]}"}[kind]
            parts[key] = parts.get(key, 0j) + complex(t * (y @ x))
        total = sum(parts.values())
        if not any(c.kind == "ground" for c in self.device.contacts.values()):
            parts.pop("ground")  # the stiffness conserves: only rounding is left there
        scale = abs(injected) if injected != 0 else 1.0
        return (abs(injected - total) / scale,
                {k: v / injected if injected != 0 else 0j for k, v in parts.items()})

    def signal_functionals(self) -> tuple[np.ndarray, list[Signal]]:
        """Right-hand sides ``[b, l...]`` and the contact signals (mean mu over every
        injection and detector contact) whose error the reduced basis bounds; a signal
        whose ``l`` is a multiple of ``b`` reuses the primal as its adjoint."""
        b = self.rhs()
        cols, signals = [b], []
        free = self.blocks.free
        for name, c in self.device.contacts.items():
            if c.kind not in ("injection", "detector"):
                continue
            load = self.blocks.contact_load(name)
            mean = load[free] / load.sum()
            beta = np.vdot(b, mean) / np.vdot(b, b)
            if np.linalg.norm(mean - beta * b) <= 1e-12 * np.linalg.norm(mean):
                signals.append(Signal(f"{name}_mu", mean, 0, complex(beta)))
            else:
                signals.append(Signal(f"{name}_mu", mean, len(cols)))
                cols.append(mean.astype(complex))
        return np.column_stack(cols), signals

    def reduced_basis(self) -> ReducedBasis:
        """An empty reduced basis of this device (see :mod:`fem.solvers.reduced`)."""
        self._rhs, signals = self.signal_functionals()
        return ReducedBasis(self.blocks, self._rhs, signals)

    def snapshot(self, f_Hz: float, x0: np.ndarray | None = None
                 ) -> tuple[np.ndarray, SolveStats]:
        """The full solution of every right-hand side of :meth:`signal_functionals` at
        ``f_Hz`` (shape ``(n_free, m)``), solved to ``rel_tol * SNAPSHOT_TOL_FACTOR``
        (from ``x0``, e.g. the reduced solution there, when solved iteratively), and how
        it was solved."""
        if self._rhs is None:
            self._rhs = self.signal_functionals()[0]
        return self.solve_rhs(f_Hz, self._rhs, snapshot=True, x0=x0)


def prepare(device: Device, f_Hz: Iterable[float] | None = None, *,
            dmesh: DeviceMesh | None = None, mesh_dir: str | Path = "meshes",
            method: str | None = None, rel_tol: float | None = None,
            allow_large: bool = False) -> Problem:
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
    method, rel_tol : optional
        Override the device file's ``[solver]`` settings (see :class:`fem.model.specs.SolverSpec`).
    allow_large : bool
        Go on with a device estimated to need more memory than this machine has, or more
        frequencies than :data:`fem.discretize.resources.MAX_FREQUENCIES` (refused by
        default, before meshing: :func:`fem.discretize.resources.check_resources`).
    """
    t0 = time.perf_counter()
    freqs = device.f_Hz() if f_Hz is None else np.asarray(list(f_Hz), dtype=float)
    if dmesh is None:
        check_resources(device, allow_large)
        dmesh = device_mesh(device, freqs, mesh_dir)
    parts = {"mesh": time.perf_counter() - t0}
    if device.interfaces and not dmesh.interfaces:
        dmesh = split_interfaces(dmesh, device)
    parts["interfaces"] = time.perf_counter() - t0 - parts["mesh"]
    materials = {name: device.material(name) for name in device.materials}
    kinds = {n: c.kind for n, c in device.contacts.items()}
    blocks = assemble(dmesh, materials, grounded=[n for n, k in kinds.items() if k == "ground"],
                      leads=[n for n, k in kinds.items() if k == "lead"])
    log.info("assembled %s: %d nodes, %d elements", device.name, dmesh.mesh.nvertices,
             dmesh.mesh.nelements)
    total = time.perf_counter() - t0
    parts["assembly"] = total - parts["mesh"] - parts["interfaces"]
    return Problem(device=device, blocks=blocks, prepare_s=total, prepare_parts_s=parts,
                   solver=solver_settings(device, method, rel_tol))


def solver_settings(device: Device, method: str | None = None,
                    rel_tol: float | None = None) -> SolverSpec:
    """The device's ``[solver]`` settings with ``method`` / ``rel_tol`` overridden
    (validated like the device file)."""
    changes = {k: v for k, v in (("method", method), ("rel_tol", rel_tol)) if v is not None}
    if not changes:
        return device.solver
    from pydantic import ValidationError

    from ..model.device import _first_error

    try:
        return SolverSpec.model_validate({**device.solver.model_dump(), **changes})
    except ValidationError as exc:
        raise _first_error(exc).within("solver") from None


def solve(device: Device | Problem, f_Hz: float) -> Result:
    """Solve a device (or a prepared :class:`Problem`) at one frequency [Hz]."""
    problem = device if isinstance(device, Problem) else prepare(
        device, np.union1d(device.f_Hz(), [f_Hz]))
    return problem.solve(f_Hz)
