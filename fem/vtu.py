"""ParaView output: ``sweep.pvd`` plus ``sweep/sweep_<i>.vtu``, one per frequency.

The PVD's time step is the frequency [Hz], so ParaView opens a sweep as one
dataset with a frequency slider.  Each VTU holds, with point coordinates in
metres:

* point data ``mu_re``, ``mu_im``, ``mu_abs``, ``mu_phase_rad`` and the same four
  for ``dm`` [A/m];
* cell data ``dM_re``, ``dM_im``, ``dM_abs``, ``dM_phase_rad`` [A/m] (the cell
  mean; 0 in normal metals) and the integer ``region``.

``dm`` and ``dM`` are discontinuous at interfaces, so every region gets its own
copy of its nodes: the point data are then exact on both sides (``mu`` is equal
on the copies, or jumps across a spin-resistive interface).  Units and the
region name table are in ``sweep/fields.json``.  Every file is written
atomically, and the PVD lists only finished VTUs.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from .export import atomic_path, write_text
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
        import meshio  # noqa: F401  (fail early if missing)

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

    def write(self, path: Path, result: Result) -> Path:
        import meshio

        point_data, cell_data = self.fields(result)
        m = meshio.Mesh(self.points_m, [(self.cell_type, self.cells)], point_data=point_data,
                        cell_data={k: [v] for k, v in cell_data.items()})
        with atomic_path(path) as tmp:
            meshio.write(tmp, m, file_format="vtu", binary=True, compression="zlib")
        return Path(path)


class PVDWriter:
    """``sweep.pvd`` and ``sweep/sweep_<i>.vtu`` written as a sweep goes."""

    def __init__(self, out_dir: str | Path, name: str = "sweep"):
        self.out_dir = Path(out_dir)
        self.name = name
        self.entries: list[tuple[float, str]] = []
        self.mesh: OutputMesh | None = None

    @property
    def pvd(self) -> Path:
        return self.out_dir / f"{self.name}.pvd"

    def add(self, index: int, result: Result) -> Path:
        """Write the VTU of frequency number ``index`` and list it in the PVD."""
        if self.mesh is None:
            self.mesh = OutputMesh(result)
            write_text(self.out_dir / self.name / "fields.json", json.dumps(
                {"units": UNITS, "region_names": self.mesh.region_names}, indent=2))
        rel = f"{self.name}/{self.name}_{index}.vtu"
        self.mesh.write(self.out_dir / rel, result)
        self.entries.append((result.f_Hz, rel))
        self._write_pvd()
        return self.out_dir / rel

    def keep(self, index: int, f_Hz: float) -> None:
        """List the VTU an earlier (resumed) run wrote for frequency number ``index``."""
        rel = f"{self.name}/{self.name}_{index}.vtu"
        if (self.out_dir / rel).exists():
            self.entries.append((f_Hz, rel))

    def _write_pvd(self) -> None:
        rows = "\n".join(f'    <DataSet timestep="{f!r}" group="" part="0" file={quoteattr(r)}/>'
                         for f, r in sorted(self.entries))
        write_text(self.pvd, '<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1" '
                   f'byte_order="LittleEndian">\n  <Collection>\n{rows}\n  </Collection>\n'
                   "</VTKFile>\n")
