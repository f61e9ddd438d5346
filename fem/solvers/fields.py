"""The fields of a result on the output mesh: every region with its own copy of its
nodes, so ``dm`` and ``dM`` (discontinuous at interfaces) are exact on both sides.

What the VTU files (:mod:`fem.output.vtu`) and :meth:`fem.solvers.result.Result.to_pyvista` hold:
point data ``mu``, ``dm`` and cell data ``dM`` [A/m] as ``_re``, ``_im``, ``_abs``,
``_phase_rad``, and the integer cell data ``region``; points in metres.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .result import Result

UNITS = {
    **{f"{f}_{p}": "A/m" for f in ("mu", "dm", "dM") for p in ("re", "im", "abs")},
    **{f"{f}_phase_rad": "rad" for f in ("mu", "dm", "dM")},
    "region": "index into region_names",
    "points": "m",
    "timestep": "frequency in Hz",
}


def _split(z: np.ndarray, name: str) -> dict[str, np.ndarray]:
    return {f"{name}_re": z.real.copy(), f"{name}_im": z.imag.copy(), f"{name}_abs": np.abs(z),
            f"{name}_phase_rad": np.angle(z)}


class OutputMesh:
    """The device mesh with one copy of the nodes per region (built once per sweep)."""

    def __init__(self, result: Result):
        dmesh = result.dmesh
        mesh = dmesh.mesh
        points, cells, node_of, regions = [], [], [], []
        offset = 0
        for i, name in enumerate(dmesh.region_names):
            elems = mesh.subdomains[name]
            nodes, inverse = np.unique(mesh.t[:, elems], return_inverse=True)
            points.append(mesh.p[:, nodes].T)
            cells.append(inverse.reshape(mesh.t.shape[0], -1).T + offset)
            node_of.append(nodes)
            regions.append(np.full(elems.size, i, dtype=np.int32))
            offset += nodes.size
        pts = np.vstack(points) * dmesh.scales.length_m
        if pts.shape[1] < 3:
            pts = np.column_stack([pts, np.zeros((len(pts), 3 - pts.shape[1]))])
        self.points_m = pts
        self.cells = np.vstack(cells)
        self.node_of = node_of
        self.region = np.concatenate(regions)
        self.region_names = list(dmesh.region_names)
        self.cell_type = "tetra" if mesh.t.shape[0] == 4 else "triangle" \
            if mesh.t.shape[0] == 3 else "line"

    def fields(self, result: Result) -> tuple[dict, dict]:
        """Point and cell data of one result."""
        mu, dm, dM = [], [], []
        for name, nodes in zip(self.region_names, self.node_of):
            m = result.mu[nodes]
            mu.append(m)
            dm.append(result.region_ratio(name, "dm") * m)
        mu, dm = np.concatenate(mu), np.concatenate(dm)
        for name in self.region_names:
            dM.append(np.full(int(np.sum(self.region == self.region_names.index(name))),
                              result.region_ratio(name, "dM")))
        cell_mu = mu[self.cells].mean(axis=1)
        dM = np.concatenate(dM) * cell_mu
        return {**_split(mu, "mu"), **_split(dm, "dm")}, {**_split(dM, "dM"),
                                                          "region": self.region}
