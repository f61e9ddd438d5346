"""A contact's transfer function ``Z`` as a function of device parameters, with its
gradient by the adjoint.

``Z = l^T A(omega)^-1 b`` (``b`` the injection load, ``l`` the contact mean divided by
the injected current ``I_in``).  ``A`` is complex symmetric, so with ``u = A^-1 b`` and
the adjoint ``w = A^-1 l`` (one factorization, two right-hand sides)::

    dZ/dp = -w^T (dA/dp) u .

``A = sum_t A_t`` over terms that are each linear in one coefficient ``c_t``: a
material's stiffness (``c = sigma``), an interface term (``c = G_s``), a material's
mass (``c = chi_m kappa(omega)``) and a lead's boundary mass (``c = sigma q(omega)``).
So ``dA/d(log p) = sum_t (d log c_t / d log p) A_t``: the PDE enters only through
``u`` and ``w``; the scalar factors come from the closed-form material functions, by a
five-point central difference in ``log p`` of step :data:`LOG_STEP` (truncation error
about ``LOG_STEP**4 / 30``, i.e. ~1e-13 relative, and rounding about
``1e-16 / LOG_STEP``): exact for practical purposes whatever the parameter.

Parameters are device-file key paths: ``materials.<name>.<key>`` (any numeric key of
a material table, e.g. ``materials.Cu.tau_mL_s``) and ``interfaces.<i>.G_s_m_per_s``
take the adjoint; any other numeric key (a geometry key such as
``electrodes.spacing_nm``) changes the mesh, and its derivative is left to the caller
(central differences on morphed meshes, :mod:`fem.studies.fitting`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..core.errors import DeviceError
from ..model.device import Device
from .linear import auto_method
from .solve import Problem

#: step in log(p) of the five-point difference of the scalar coefficients
LOG_STEP = 1e-3
#: relative residual of iterative solves inside a fit: graded meshes make A ill-conditioned
#: (a 1e-10 residual left 1e-5 in Z on the 2D spin valve, 1e-13 leaves 1e-7), and the
#: gradient should be far more accurate than any measurement; GMRES stops at its
#: rounding floor if that comes first
FIT_REL_TOL = 1e-13

_NOT_FITTABLE = ("kind", "preset", "T_K")


@dataclass(frozen=True)
class Parameter:
    """A fitted device-file key.

    Attributes
    ----------
    path : str
        The dotted key path as given, e.g. ``materials.Cu.tau_mL_s``,
        ``interfaces.0.G_s_m_per_s``, ``electrodes.spacing_nm``.
    kind : str
        ``"material"`` and ``"interface"`` (adjoint gradients on a fixed mesh) or
        ``"geometry"`` (any other key: the mesh changes with it).
    target : str or int or None
        The material name or the interface index.
    key : str
        The last key of the path.
    """

    path: str
    kind: Literal["material", "interface", "geometry"]
    target: str | int | None
    key: str

    def value(self, device: Device) -> float:
        """The parameter's value in ``device`` (SI for the key's unit suffix: the
        file's number, e.g. seconds for ``_s``, nm for ``_nm``)."""
        node = device.model_dump()
        for k in self.path.split("."):
            node = node[int(k)] if isinstance(node, list) else node[k]
        return node


def parameter(device: Device, path: str) -> Parameter:
    """Parse and check a key path of ``device``; a :class:`~fem.core.errors.DeviceError`
    names the path and the rule when it is not a positive number of the device."""
    parts = path.split(".")
    node = device.model_dump()
    for i, k in enumerate(parts):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not k.isdigit() or int(k) >= len(node):
                raise DeviceError(path, f"{'.'.join(parts[:i]) or 'the device'} has "
                                  f"{len(node)} entries (0 to {len(node) - 1}), got {k!r}")
            node = node[int(k)]
        elif isinstance(node, dict) and k in node:
            node = node[k]
        else:
            known = sorted(node) if isinstance(node, dict) else []
            raise DeviceError(path, f"no key {where!r} in the device"
                              + (f"; keys there: {known}" if known else ""))
    if parts[-1] == "P_F":
        raise DeviceError(path, "not a fit parameter: P_F only converts Z into ohms (R = "
                          "P_inj P_det mu0 mu_B^2/e^2 Z) and scales R as the spin "
                          "resistances do; give it from an independent measurement")
    if isinstance(node, bool) or not isinstance(node, int | float) or parts[-1] in _NOT_FITTABLE:
        raise DeviceError(path, f"not a numeric parameter (got {node!r}): give a key such as "
                          "materials.<name>.tau_mL_s or interfaces.<i>.G_s_m_per_s")
    if not np.isfinite(node) or node <= 0:
        raise DeviceError(path, f"is {node!r}: a fitted parameter needs a finite positive "
                          "starting value (it is fitted in log space); set one in the "
                          "device file")
    if parts[0] == "materials" and len(parts) == 3:
        return Parameter(path, "material", parts[1], parts[2])
    if parts[0] == "interfaces" and len(parts) == 3:
        return Parameter(path, "interface", int(parts[1]), parts[2])
    if parts[0] in ("frequencies", "solver", "output", "adapt", "contacts") or \
            parts[-1] == "mesh_refine" or parts[-1] == "mesh_size_nm":
        raise DeviceError(path, "not a physical parameter of the device (fit material, "
                          "interface or geometry keys)")
    return Parameter(path, "geometry", None, parts[-1])


def contact_functional(problem: Problem, contact: str) -> np.ndarray:
    """``l`` on the free nodes with ``Z = l^T u`` = contact mean / ``I_in``, in the units
    of :meth:`fem.solvers.result.Result.transfer`."""
    blocks = problem.blocks
    if contact not in blocks.dmesh.contacts:
        raise DeviceError(contact, f"no contact {contact!r}; contacts: "
                          f"{sorted(blocks.dmesh.contacts)}")
    load = blocks.contact_load(contact)
    return load[blocks.free] / load.sum() / blocks.injected_current(problem.device.injections())


def _coefficient(material, term: str, omega: float) -> complex:
    """The coefficient ``c_t`` a term is linear in, for one material."""
    kind = term.split(":")[0]
    if kind == "sigma":
        return material.sigma
    if kind == "M":
        return material.chi_m * complex(material.kappa(omega))
    return material.sigma * complex(material.q(omega))  # "S": a lead


class TransferModel:
    """``Z(f)`` of one contact of a meshed device, for any values of its material and
    interface parameters (the mesh and the assembled blocks are reused: new values
    rescale the blocks, :meth:`fem.solvers.assemble.Blocks.with_coefficients`)."""

    def __init__(self, problem: Problem, contact: str):
        solver = problem.solver
        m = solver.method if solver.method in ("direct", "iterative") else \
            auto_method(problem.n_unknowns, problem.dmesh.dim)  # one frequency at a time
        solver = solver.model_copy(update={"method": m,
                                           "rel_tol": min(solver.rel_tol, FIT_REL_TOL)})
        self.problem = replace(problem, solver=solver)
        self.contact = contact
        self._l = contact_functional(self.problem, contact)

    @property
    def device(self) -> Device:
        return self.problem.device

    def at(self, device: Device) -> TransferModel:
        """The same mesh with the material and interface values of ``device`` (a copy of
        this model's device with other parameter values, same geometry)."""
        blocks = self.problem.blocks
        mats = {m: device.material(m) for m in blocks.materials}
        G_s = [spec.G_s_m_per_s for spec in device.interfaces]
        return TransferModel(Problem(device=device, blocks=blocks.with_coefficients(mats, G_s),
                                     solver=self.problem.solver), self.contact)

    def _terms(self, omega: float) -> list[tuple[str, np.ndarray, complex]]:
        """``(name, data, theta)`` of every term ``A_t = theta A_q`` of ``A(omega)``,
        stiffness split by coefficient (:attr:`Blocks.K_parts`)."""
        b = self.problem.blocks
        theta = b.theta(omega)
        names = b.term_names()
        terms = [(k, d, 1.0 + 0j) for k, d in b.K_parts.items()]
        terms += [(n, d, t) for n, d, t in zip(names[1:], b.term_data()[1:], theta[1:])]
        return terms

    def _stencils(self, params: list[Parameter]) -> dict[int, list]:
        """Per material parameter (by index), its material at ``log p`` moved by -2, -1,
        1, 2 steps of :data:`LOG_STEP` (frequency-independent: built once per call)."""
        out = {}
        for j, par in enumerate(params):
            if par.kind == "geometry":
                raise ValueError(f"{par.path}: a geometry key has no adjoint gradient")
            if par.kind == "material":
                spec = self.device.materials[par.target]
                v = getattr(spec, par.key)
                out[j] = [spec.model_copy(update={par.key: v * np.exp(s * LOG_STEP)}).build()
                          for s in (-2, -1, 1, 2)]
        return out

    def _log_derivatives(self, params: list[Parameter], stencils: dict[int, list],
                         terms: list[str], omega: float) -> np.ndarray:
        """``d log c_t / d log p`` for every term and parameter, shape (terms, params)."""
        b = self.problem.blocks
        region_material = b.dmesh.region_material
        out = np.zeros((len(terms), len(params)), dtype=complex)
        for j, par in enumerate(params):
            if par.kind == "interface":
                if f"G_s:{par.target}" in terms and par.key == "G_s_m_per_s":
                    out[terms.index(f"G_s:{par.target}"), j] = 1.0
                continue
            name = par.target
            mine = [i for i, t in enumerate(terms) if _material_of(t, region_material) == name]
            mats, mat0 = stencils[j], b.materials.get(name)
            for i in mine:
                c = [_coefficient(m, terms[i], omega) for m in mats]
                dc = (c[0] - 8 * c[1] + 8 * c[2] - c[3]) / (12 * LOG_STEP)
                out[i, j] = dc / _coefficient(mat0, terms[i], omega)
        return out

    def z(self, f_Hz) -> np.ndarray:
        """``Z`` at every frequency [Hz] (units of :meth:`fem.solvers.result.Result.transfer`)."""
        p = self.problem
        return np.array([self._l @ p.solve_rhs(f, p.rhs())[0] for f in np.atleast_1d(f_Hz)])

    def z_and_gradient(self, f_Hz, params: list[Parameter]) -> tuple[np.ndarray, np.ndarray]:
        """``Z`` at every frequency and ``dZ/d(log p)`` for material and interface
        parameters, shape ``(n_f,)`` and ``(n_f, n_params)``: one forward and one adjoint
        solve per frequency (one factorization for a direct solver)."""
        p = self.problem
        b, blocks = p.rhs(), p.blocks
        f_Hz = np.atleast_1d(np.asarray(f_Hz, dtype=float))
        Z = np.zeros(f_Hz.size, dtype=complex)
        dZ = np.zeros((f_Hz.size, len(params)), dtype=complex)
        stencils = self._stencils(params)
        for k, f in enumerate(f_Hz):
            omega = 2 * np.pi * f
            X, _ = p.solve_rhs(f, np.column_stack([b, self._l.astype(complex)]))
            u, w = X[:, 0], X[:, 1]
            Z[k] = self._l @ u
            terms = self._terms(omega)
            # w^T A_t u for every term: the adjoint-weighted share of each term
            share = np.array([t * (w @ (blocks.matrix(d) @ u)) for _, d, t in terms])
            g = self._log_derivatives(params, stencils, [n for n, _, _ in terms], omega)
            dZ[k] = -(share @ g)
        return Z, dZ


def _material_of(term: str, region_material: dict[str, str]) -> str | None:
    kind, _, rest = term.partition(":")
    if kind in ("sigma", "M"):
        return rest
    if kind == "S":
        return region_material[rest.split(":")[1]]
    return None
