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

from ..solvers.fields import UNITS, OutputMesh
from ..solvers.result import Result
from .export import atomic_path, write_text


def write_vtu(mesh: OutputMesh, path: Path, result: Result) -> Path:
    """One result's fields as a VTU file, written atomically."""
    import meshio

    point_data, cell_data = mesh.fields(result)
    m = meshio.Mesh(mesh.points_m, [(mesh.cell_type, mesh.cells)], point_data=point_data,
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
        write_vtu(self.mesh, self.out_dir / rel, result)
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
