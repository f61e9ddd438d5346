"""Results of one frequency: the spin potential and the recovered dm, dM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .assemble import Blocks

Field = Literal["mu", "dm", "dM"]


def transfer_unit(dim: int) -> tuple[str, str]:
    """Unit of ``Z = <mu>/I_in`` in ``dim`` dimensions: (text, column-name suffix).

    ``I_in = int j_in dA`` is per unit depth in 2D and per unit area in 1D."""
    return {3: ("s/m^3", "s_per_m3"), 2: ("s/m^2 per unit depth", "s_per_m2"),
            1: ("s/m per unit area", "s_per_m")}[dim]


def resistance_unit(dim: int) -> tuple[str, str]:
    """Unit of the electrical signal ``R = P_inj P_det (mu0 mu_B^2/e^2) Z`` in ``dim``
    dimensions: (text, column-name suffix); per unit depth in 2D, area in 1D."""
    return {3: ("Ohm", "Ohm"), 2: ("Ohm m per unit depth", "Ohm_m"),
            1: ("Ohm m^2 per unit area", "Ohm_m2")}[dim]


def signal_unit(name: str, dim: int) -> tuple[str, str]:
    """Unit of a contact signal by its name: ``<detector>_Z`` (:func:`transfer_unit`),
    ``<detector>_R`` (:func:`resistance_unit`), else a mean field [A/m]."""
    if name.endswith("_Z"):
        return transfer_unit(dim)
    if name.endswith("_R"):
        return resistance_unit(dim)
    return "A/m", "A_per_m"


@dataclass(frozen=True)
class Sample:
    """Fields at points.

    Attributes
    ----------
    points_m : ndarray, float, shape (n, dim)
        The points [m].
    mu, dm, dM : ndarray, complex, shape (n,)
        Spin potential, spin accumulation and magnetization deviation [A/m],
        complex amplitudes of ``exp(-i omega t)``.  ``dM = 0`` in normal metals.
    region : ndarray, str, shape (n,)
        Region holding each point (the first one found on an interface, where
        ``dM`` and ``dm`` are discontinuous).
    """

    points_m: np.ndarray
    mu: np.ndarray
    dm: np.ndarray
    dM: np.ndarray
    region: np.ndarray


class Result:
    """The solution at one frequency.

    Attributes
    ----------
    f_Hz : float
        Frequency [Hz].
    mu : ndarray, complex, shape (n_nodes,)
        Nodal spin potential ``mu = delta_m/chi_m`` [A/m] (continuous, P1).
    blocks : Blocks
        The assembled device it was solved on (mesh, materials, scales).
    """

    def __init__(self, blocks: Blocks, f_Hz: float, mu: np.ndarray,
                 j_in: dict[str, complex] | None = None):
        self.blocks = blocks
        self.f_Hz = float(f_Hz)
        self.mu = mu
        #: injected spin-current density [A/s] per injection contact
        self.j_in = dict(j_in or {})
        #: how it was solved (:class:`fem.solvers.linear.SolveStats`), when known
        self.stats = None
        dmesh = blocks.dmesh
        # (dm/mu, dM/mu) per region: dM is local, so it is mu times a region constant
        ratios = []
        for region in dmesh.region_names:
            mat = blocks.materials[dmesh.region_material[region]]
            ratios.append(mat.mu_ratios(self.omega))
        self._ratios = np.array(ratios, dtype=complex).reshape(-1, 2)

    @property
    def omega(self) -> float:
        """Angular frequency ``2 pi f`` [rad/s]."""
        return 2.0 * np.pi * self.f_Hz

    @property
    def dmesh(self):
        return self.blocks.dmesh

    def nodes_m(self) -> np.ndarray:
        """Node coordinates [m], shape ``(n_nodes, dim)``."""
        return self.dmesh.nodes_m()

    def region_ratio(self, region: str, field: Field) -> complex:
        """``field/mu`` in a region (1 for ``mu``)."""
        if field == "mu":
            return 1.0 + 0j
        i = self.dmesh.region_names.index(region)
        return self._ratios[i, 0 if field == "dm" else 1]

    def region_nodes(self, region: str) -> np.ndarray:
        """Node indices of a region."""
        mesh = self.dmesh.mesh
        return np.unique(mesh.t[:, mesh.subdomains[region]])

    def region_field(self, region: str, field: Field) -> np.ndarray:
        """Nodal values of ``field`` on ``region_nodes(region)`` [A/m]: the
        per-region (discontinuous) P1 field of ``dm`` or ``dM``."""
        return self.region_ratio(region, field) * self.mu[self.region_nodes(region)]

    def to_pyvista(self):
        """The fields as a ``pyvista.UnstructuredGrid`` with the arrays of the VTU files
        (points [m]; point data ``mu_*``, ``dm_*``, cell data ``dM_*`` [A/m] as ``_re``,
        ``_im``, ``_abs``, ``_phase_rad``, and ``region``; every region with its own
        nodes), for ``result.to_pyvista().plot()`` in a notebook.  Field data: ``f_Hz``
        and ``region_names``."""
        import pyvista as pv

        from .fields import OutputMesh

        out = OutputMesh(self)
        kind = {"tetra": pv.CellType.TETRA, "triangle": pv.CellType.TRIANGLE,
                "line": pv.CellType.LINE}[out.cell_type]
        n, k = out.cells.shape
        cells = np.column_stack([np.full(n, k), out.cells]).ravel()
        grid = pv.UnstructuredGrid(cells, np.full(n, kind, dtype=np.uint8), out.points_m)
        point_data, cell_data = out.fields(self)
        for name, values in point_data.items():
            grid.point_data[name] = values
        for name, values in cell_data.items():
            grid.cell_data[name] = values
        grid.field_data["f_Hz"] = [self.f_Hz]
        grid.field_data["region_names"] = out.region_names
        return grid

    def sample(self, points_m) -> Sample:
        """Evaluate ``mu``, ``dm``, ``dM`` at points [m], array of shape ``(n, dim)``.

        Raises
        ------
        ValueError
            If a point lies outside the mesh.
        """
        pts = np.atleast_2d(np.asarray(points_m, dtype=float))
        mesh = self.dmesh.mesh
        if pts.shape[1] != mesh.dim():
            raise ValueError(f"points must have shape (n, {mesh.dim()}), got {pts.shape}")
        elements, P = self.blocks.probe(pts)
        mu = P @ self.mu
        reg = self.dmesh.element_region[elements]
        dm = self._ratios[reg, 0] * mu
        dM = self._ratios[reg, 1] * mu
        names = np.array(self.dmesh.region_names, dtype=object)[reg]
        return Sample(points_m=pts, mu=mu, dm=dm, dM=dM, region=names)

    def contact_area_m2(self, name: str) -> float:
        """Area of a contact [m^2] (a length [m] in 2D, per unit depth; 1 in 1D)."""
        return self.blocks.contact_area_m2(name)

    def injected_current(self) -> complex:
        """``I_in = sum over injection contacts of int j_in dA`` [A m^2/s] (complex)."""
        return self.blocks.injected_current(self.j_in)

    def transfer(self, name: str) -> complex:
        """``Z = <mu>_contact / I_in`` in :func:`transfer_unit` (s/m^3 in 3D); nan if
        the injected currents cancel."""
        current = self.injected_current()
        return self.contact_mean(name) / current if current != 0 else complex(np.nan, np.nan)

    def contact_mean(self, name: str, field: Field = "mu") -> complex:
        """Contact-averaged complex ``mu`` (or ``dm``, ``dM``) [A/m].  On a junction
        ``"F|N"`` the weights are the contact's: ``dm`` and ``dM`` are the ferromagnet's
        at a transparent junction, ``(1 - P_I/P_F)`` of F's plus ``P_I/P_F`` of N's at a
        spin-resistive one."""
        if name not in self.dmesh.contacts:
            raise KeyError(f"no contact {name!r}; contacts: {sorted(self.dmesh.contacts)}")
        total, area = 0j, 0.0
        for (c, region), load in self.blocks.loads.items():
            if c == name:
                total += self.region_ratio(region, field) * (load @ self.mu)
                area += load.sum()
        return complex(total / area)
