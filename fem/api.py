"""The main job as a Python call: sweep a device, stream VTU/PVD/CSV, make the pictures.

``run_device(device, out_dir)`` is what ``spinfem run`` does; the CLI only adds
progress bars and error handling.  Files appear as the sweep goes, each written
atomically: a sweep stopped part-way leaves every finished file valid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import analytic
from .axis import device_axis
from .device import Device
from .export import (
    CsvAppender,
    complex_columns,
    complex_values,
    remove_partial,
    write_csv,
    write_text,
)
from .meshing import mesh_statistics
from .result import Result, transfer_unit
from .solve import Problem, prepare
from .sweep import Sweep, contact_signals
from .units import to_si
from .verify import decay_constant_from_field
from .vtu import PVDWriter

#: the files of a run, as ``spinfem plot`` finds them
SWEEP_CSV, PROFILES_CSV, DECAY_CSV = "sweep.csv", "profiles.csv", "decay_lengths.csv"


@dataclass
class RunOutput:
    """What ``run_device`` wrote: the output folder and its files."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)


def coordinate_names(device: Device) -> list[str]:
    """Names of the mesh coordinates [m]: 2D pillars and spin valves are x-z sections."""
    if device.dimension == 2 and device.geometry in ("pillar", "nonlocal_spin_valve"):
        return ["x_m", "z_m"]
    return ["x_m", "y_m", "z_m"][: device.dimension]


def sweep_header(problem: Problem, res: Result, info: dict) -> list[str]:
    """Columns of ``sweep.csv``: ``f_Hz``, re/im/abs/phase of every contact signal, then
    how the frequency was solved (``info``: method, iterations, relative residual and,
    for a reduced basis, the relative error bounds)."""
    cols = ["f_Hz"]
    for name in contact_signals(problem, res):
        unit = transfer_unit(res.dmesh.dim)[1] if name.endswith("_Z") else "A_per_m"
        cols += complex_columns(name, unit)
    return cols + list(info)


def solver_summary(problem: Problem, sweep: Sweep) -> dict:
    """The ``solver`` entry of ``summary.json``: method, settings and what it took."""
    settings = problem.solver
    info = sweep.info
    out = {
        "element": "P1 Lagrange (scikit-fem)", "unknown": "mu = delta_m / chi_m [A/m]",
        "method": sweep.method, "settings": settings.model_dump(),
        "unknowns": problem.n_unknowns,
        "scales": {"length_m": problem.dmesh.scales.length_m,
                   "rate_per_s": problem.dmesh.scales.rate_per_s},
        "execution": "in-process" if sweep.in_process() else "dask",
    }
    linear = problem.linear_solver(snapshot=sweep.method == "reduced")
    out["linear_solver"] = linear.describe()
    if sweep.method == "reduced" and sweep.report is not None:
        r = sweep.report
        out["reduced_basis"] = {
            "full_solves": r.full_solves, "basis_size": r.basis_size,
            "snapshot_f_Hz": r.snapshot_f_Hz, "greedy_steps": r.steps, "seconds": r.seconds,
            "max_est_rel_error": sweep.max_error_bound(),
            "bound": "certified: relative error of the fields in the X-norm and of every "
                     "contact mean, from the residual in a lumped-mass dual norm",
        }
    else:
        iters = [i["iterations"] for i in info]
        out["iterations"] = {"total": int(sum(iters)), "max": int(max(iters, default=0))}
        out["max_rel_residual"] = max((i["rel_residual"] for i in info), default=None)
    return out


def decay_rows(res: Result, device: Device) -> list[list]:
    """Decay length and wavelength [m] read off the FEM field, with the exact ones:
    per layer of a stack (at its centre), or in a spin valve's channel beyond the
    detector, where only the decaying 1D channel mode remains."""
    spots = []  # (name, material, x_centre, spacing limit, line)
    if device.geometry == "stack":
        edges = device.layer_edges_m()
        line = tuple(e / 2 for e in device.extent_m()[1:])
        for i, (name, lay) in enumerate(zip(device.layer_names(), device.layers)):
            spots.append((name, lay.material, (edges[i] + edges[i + 1]) / 2,
                          0.45 * (edges[i + 1] - edges[i]), line))
    elif device.geometry == "nonlocal_spin_valve":
        ch, el = device.channel, device.electrodes
        start = to_si("spacing_nm", el.spacing_nm / 2 + el.width_nm / 2 + 2 * ch.thickness_nm)
        end = to_si("length_nm", ch.length_nm / 2)
        mid = to_si("thickness_nm", ch.thickness_nm) / 2
        line = ((0.0,) if device.dimension == 3 else ()) + (mid,)
        if end > start:  # else the detector sits at the channel's end: no room to read
            spots.append(("channel", ch.material, (start + end) / 2, 0.45 * (end - start),
                          line))
    rows = []
    for name, material, x, limit, line in spots:
        q = complex(device.material(material).q(res.omega))
        q_fem = decay_constant_from_field(res, x, min(0.5 / abs(q), limit), line)
        rows.append([res.f_Hz, name, float(analytic.decay_length(q_fem)),
                     float(analytic.decay_length(q)), float(analytic.wavelength(q_fem)),
                     float(analytic.wavelength(q))])
    return rows


#: every file a run writes (the pictures of fem.plot.make_all among them)
OUTPUTS = ("sweep.pvd", SWEEP_CSV, PROFILES_CSV, DECAY_CSV, "summary.json", "device.json",
           "mu_profile.png", "decay_length.png", "Z_bode.png", "error_bound.png", "mesh.png",
           "mu_abs.png", "mu_phase.png", "dM_abs.png", "sweep/fields.json")


def _clean(out_dir: Path) -> None:
    """Remove what an earlier, possibly killed, run left in ``out_dir``: temporary
    files and every output of a run (and nothing else), so the folder never mixes
    two runs."""
    remove_partial(out_dir)
    for name in OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    for p in out_dir.glob("sweep/sweep_*.vtu"):
        p.unlink(missing_ok=True)


def run_device(device: Device, out_dir: str | Path,
               callback: Callable[[int, int, Result], None] | None = None, *,
               plots: bool = True, mesh_dir: str | Path = "meshes", client=None,
               scheduler: str | None = None, parallel: bool | str = "auto",
               problem: Problem | None = None,
               status: Callable[[str], None] | None = None) -> RunOutput:
    """Sweep ``device`` and write everything into ``out_dir``.

    Files, each written atomically as the sweep goes:

    * ``sweep.pvd`` + ``sweep/sweep_<i>.vtu`` (fields of the ``[output] fields``
      frequencies; frequency [Hz] as the time step) and ``sweep/fields.json`` (units);
    * ``sweep.csv`` -- per frequency, contact-averaged mu, dm, dM [A/m] of every
      injection and detector contact and the detectors' ``Z`` [s/m^3], and how it was
      solved (method, iterations, relative residual, reduced-basis error bounds);
    * ``profiles.csv`` -- mu, dm, dM along the device axis at the field frequencies;
    * ``decay_lengths.csv`` -- decay length and wavelength [m], FEM and exact;
    * ``summary.json`` -- device file hash and resolved copy, solver settings,
      mesh statistics, timings, version; ``device.json`` -- the resolved device;
    * the pictures of :func:`fem.plot.make_all` (unless ``plots=False``).
    """
    from .version import __version__

    out_dir = Path(out_dir)
    problem = problem or prepare(device, mesh_dir=mesh_dir)
    freqs = device.f_Hz()
    fields_at = set(device.field_indices(problem.blocks.n_nodes))
    axis = device_axis(device)
    sweep = Sweep(problem, freqs, client=client, scheduler=scheduler, parallel=parallel,
                  status=status)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean(out_dir)
    write_text(out_dir / "device.json",
               json.dumps(device.model_dump(mode="json", exclude_none=True), indent=2))
    pvd = PVDWriter(out_dir)
    profile_rows, decays, table = [], [], None
    t1 = time.perf_counter()
    try:
        for i, res in enumerate(sweep):
            if table is None:
                table = CsvAppender(out_dir / SWEEP_CSV, sweep_header(problem, res, sweep.info[-1]))
            table.append([res.f_Hz] + sum((complex_values(v) for v in sweep.signals[-1].values()),
                                          []) + list(sweep.info[-1].values()))
            if i in fields_at:
                pvd.add(i, res)
                if axis is not None:
                    s = res.sample(axis.points_m)
                    profile_rows += [[res.f_Hz, float(axis.s_m[k]), *map(float, axis.points_m[k]),
                                      s.region[k], *complex_values(s.mu[k]),
                                      *complex_values(s.dm[k]), *complex_values(s.dM[k])]
                                     for k in range(len(axis.s_m))]
            decays += decay_rows(res, device)
            if callback is not None:
                callback(i, len(freqs), res)
    finally:
        if table is not None:
            table.close()
    t_sweep = time.perf_counter() - t1

    files = [out_dir / SWEEP_CSV, out_dir / "device.json"]
    if fields_at:
        files += [pvd.pvd, out_dir / "sweep"]
    if profile_rows:
        files.append(write_csv(
            out_dir / PROFILES_CSV,
            ["f_Hz", f"{axis.label}_axis_m", *coordinate_names(device), "region"]
            + complex_columns("mu", "A_per_m") + complex_columns("dm", "A_per_m")
            + complex_columns("dM", "A_per_m"), profile_rows))
    if decays:
        files.append(write_csv(out_dir / DECAY_CSV, [
            "f_Hz", "region", "decay_length_fem_m", "decay_length_exact_m",
            "wavelength_fem_m", "wavelength_exact_m"], decays))
    summary = {
        "spinfem_version": __version__,
        "device": device.name,
        "device_file_sha256": device.source_sha256(),
        "device_resolved": device.model_dump(mode="json", exclude_none=True),
        "solver": solver_summary(problem, sweep),
        "mesh": mesh_statistics(problem.dmesh),
        "frequencies": len(freqs),
        "fields_written_for_f_Hz": [float(freqs[i]) for i in sorted(fields_at)],
        "timings_s": {"mesh_and_assembly": problem.prepare_s,
                      **{f"prepare_{k}": v for k, v in problem.prepare_parts_s.items()},
                      "sweep": t_sweep,
                      "per_frequency": t_sweep / max(1, len(freqs))},
    }
    files.append(write_text(out_dir / "summary.json", json.dumps(summary, indent=2)))
    if plots:
        from . import plot

        files += plot.make_all(out_dir)
    return RunOutput(out_dir=out_dir, files=files)
