"""The main job as a Python call: sweep a device, stream VTU/PVD/CSV, make the pictures.

``run_device(device, out_dir)`` is what ``spinfem run`` does; the CLI only adds
progress bars and error handling.  Files appear as the sweep goes, each written
atomically: a sweep stopped part-way leaves every finished file valid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .core import analytic
from .core.errors import SpinfemError
from .core.units import to_si
from .discretize.axis import device_axis
from .discretize.meshing import mesh_statistics
from .model.device import Device
from .output.export import (
    CsvAppender,
    complex_columns,
    complex_values,
    finished_rows,
    remove_partial,
    write_text,
)
from .output.vtu import PVDWriter
from .solvers.result import Result, signal_unit
from .solvers.solve import Problem, prepare, solver_settings
from .solvers.sweep import Sweep, contact_signals
from .solvers.verify import decay_constant_from_field

#: the files of a run, as ``spinfem plot`` finds them
SWEEP_CSV, PROFILES_CSV, DECAY_CSV = "sweep.csv", "profiles.csv", "decay_lengths.csv"
#: written when a run starts: what ``--resume`` checks the device file against
RUN_JSON = "run.json"
DECAY_HEADER = ["f_Hz", "region", "decay_length_fem_m", "decay_length_exact_m",
                "wavelength_fem_m", "wavelength_exact_m"]


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
        cols += complex_columns(name, signal_unit(name, res.dmesh.dim)[1])
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
    out["conservation"] = {
        "max_rel_balance": max((i["rel_balance"] for i in info), default=None),
        "rel_balance": [i["rel_balance"] for i in info],  # per frequency, as in sweep.csv
        "rule": "injected spin current = storage + relaxation in every region + what leads "
                "and grounds carry away (test function 1 on every free node); per "
                "frequency in sweep.csv (rel_balance)",
        "fractions_of_injected_current": {
            f"{f:g} Hz": {k: [v.real, v.imag] for k, v in parts.items()}
            for f, parts in sweep.where_current_goes.items()},
    }
    return out


def prepare_device(device: Device, *, mesh_dir: str | Path = "meshes",
                   method: str | None = None, rel_tol: float | None = None,
                   allow_large: bool = False) -> Problem:
    """Mesh and assemble a device for its sweep: on the default mesh, or, with an
    ``[adapt]`` table, on the mesh :func:`fem.studies.adapt.adapt` refines until the estimated
    relative error of that contact's ``Z`` is below ``rel_error``."""
    if device.adapt is None:
        return prepare(device, mesh_dir=mesh_dir, method=method, rel_tol=rel_tol,
                       allow_large=allow_large)
    from .discretize.resources import check_resources
    from .studies.adapt import adapt

    check_resources(device, allow_large)
    a = device.adapt
    problem = adapt(device, a.contact, a.rel_error, a.f_Hz, max_nodes=a.max_nodes,
                    mesh_dir=mesh_dir, strategy=a.strategy)
    return replace(problem, solver=solver_settings(device, method, rel_tol))


def adapt_summary(problem: Problem) -> dict | None:
    """The ``adapt`` entry of ``summary.json`` (None without ``[adapt]``)."""
    spec = problem.device.adapt
    if spec is None or problem.adapt_history is None:
        return None
    return {
        "contact": spec.contact, "rel_error": spec.rel_error, "max_nodes": spec.max_nodes,
        "estimator": "dual-weighted residual, adjoint driven at the contact, weights from "
                     "the once uniformly refined mesh",
        "error_estimate": {f"{f:g} Hz": float(v) for f, v in problem.error_estimate.items()},
        "strategy": "graded" if "refine" in problem.adapt_history[0] else "refine",
        "final_nodes": problem.dmesh.mesh_nodes,
        "steps": [{"nodes": h["nodes"], "elements": h["elements"],
                   **({"refine": h["refine"]} if "refine" in h else {}),
                   "estimate": {f"{f:g} Hz": float(v) for f, v in h["estimate"].items()}}
                  for h in problem.adapt_history],
    }


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


#: every file a run writes (the pictures of fem.output.plot.make_all among them)
OUTPUTS = (RUN_JSON, "sweep.pvd", SWEEP_CSV, PROFILES_CSV, DECAY_CSV, "summary.json", "device.json",
           "mu_profile.png", "decay_length.png", "Z_bode.png", "error_bound.png", "mesh.png",
           "mesh_junction.png",
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


def resume_point(device: Device, out_dir: str | Path) -> int:
    """How many of ``device``'s frequencies the run in ``out_dir`` finished (the rows of
    its ``sweep.csv``), after checking that it is a run of the same device file.

    Raises
    ------
    SpinfemError
        ``out_dir`` holds no run, or one of another device file (its SHA-256 differs) or
        of other frequencies.
    """
    out_dir = Path(out_dir)
    try:
        run = json.loads((out_dir / RUN_JSON).read_text())
    except (OSError, ValueError):
        raise SpinfemError(f"--resume: {out_dir} holds no run to resume (no readable "
                           f"{RUN_JSON}); run without --resume") from None
    sha = device.source_sha256()
    if run.get("device_file_sha256") != sha:
        raise SpinfemError(f"--resume: the device file changed since the run in {out_dir} "
                           f"started (sha256 {str(run.get('device_file_sha256'))[:12]}... "
                           f"then, {str(sha)[:12]}... now); run without --resume")
    if not (out_dir / SWEEP_CSV).exists():
        return 0
    _, rows = finished_rows(out_dir / SWEEP_CSV)
    freqs = device.f_Hz()
    done = [float(r[0]) for r in rows]
    if len(done) > len(freqs) or not np.allclose(done, freqs[:len(done)], rtol=1e-12, atol=0):
        raise SpinfemError(f"--resume: {out_dir / SWEEP_CSV} holds other frequencies than "
                           "the device file's; run without --resume")
    return len(done)


def _kept_rows(out_dir: Path, finished: np.ndarray) -> dict[str, tuple[list, list]]:
    """The complete rows of the finished frequencies in each CSV of a run being resumed:
    ``{name: (header, rows)}``."""
    keep = {float(f) for f in finished}
    out = {}
    for name in (SWEEP_CSV, PROFILES_CSV, DECAY_CSV):
        if (out_dir / name).exists():
            header, rows = finished_rows(out_dir / name)
            out[name] = (header, [r for r in rows if float(r[0]) in keep])
    return out


def run_device(device: Device, out_dir: str | Path,
               callback: Callable[[int, int, Result], None] | None = None, *,
               plots: bool = True, mesh_dir: str | Path = "meshes", client=None,
               scheduler: str | None = None, parallel: bool | str = "auto",
               problem: Problem | None = None,
               status: Callable[[str], None] | None = None,
               resume: bool = False) -> RunOutput:
    """Sweep ``device`` and write everything into ``out_dir``.

    Files, each written atomically as the sweep goes:

    * ``sweep.pvd`` + ``sweep/sweep_<i>.vtu`` (fields of the ``[output] fields``
      frequencies; frequency [Hz] as the time step) and ``sweep/fields.json`` (units);
    * ``sweep.csv`` -- per frequency, contact-averaged mu, dm, dM [A/m] of every
      injection and detector contact, the detectors' ``Z`` [s/m^3] and, where the
      ferromagnets carry ``P_F``, their ``R`` [Ohm], and how it was solved (method,
      iterations, relative residual, reduced-basis error bounds);
    * ``profiles.csv`` -- mu, dm, dM along the device axis at the field frequencies;
    * ``decay_lengths.csv`` -- decay length and wavelength [m], FEM and exact;
    * ``summary.json`` -- device file hash and resolved copy, solver settings,
      mesh statistics, timings, version; ``device.json`` -- the resolved device;
    * the pictures of :func:`fem.output.plot.make_all` (unless ``plots=False``);
    * ``run.json`` -- written first: the device file's hash, for ``resume``.

    With ``resume=True``, a run stopped part-way in ``out_dir`` (of the same device file)
    is finished: only the frequencies without a ``sweep.csv`` row are solved.
    """
    from .core.version import __version__

    out_dir = Path(out_dir)
    freqs = device.f_Hz()
    done = resume_point(device, out_dir) if resume else 0
    problem = problem or prepare_device(device, mesh_dir=mesh_dir)
    fields_at = set(device.field_indices(problem.blocks.n_nodes))
    axis = device_axis(device)
    sweep = Sweep(problem, freqs[done:], client=client, scheduler=scheduler,
                  parallel=parallel, status=status)
    out_dir.mkdir(parents=True, exist_ok=True)
    pvd = PVDWriter(out_dir)
    profile_header = None if axis is None else (
        ["f_Hz", f"{axis.label}_axis_m", *coordinate_names(device), "region"]
        + complex_columns("mu", "A_per_m") + complex_columns("dm", "A_per_m")
        + complex_columns("dM", "A_per_m"))
    if done:
        kept = _kept_rows(out_dir, freqs[:done])
        for i in sorted(fields_at):
            if i < done:
                pvd.keep(i, float(freqs[i]))
    else:
        _clean(out_dir)
        kept = {}
        write_text(out_dir / "device.json",
                   json.dumps(device.model_dump(mode="json", exclude_none=True), indent=2))
        write_text(out_dir / RUN_JSON, json.dumps({
            "device": device.name, "device_file_sha256": device.source_sha256(),
            "frequencies": len(freqs), "spinfem_version": __version__}, indent=2))
    # each CSV starts with its first row (a resumed run's start with the finished rows)
    tables = {name: CsvAppender(out_dir / name, header, rows)
              for name, (header, rows) in kept.items()}

    def table(name: str, header: list[str]) -> CsvAppender:
        if name not in tables:
            tables[name] = CsvAppender(out_dir / name, header)
        return tables[name]
    t1 = time.perf_counter()
    try:
        for j, res in enumerate(sweep):
            i = done + j
            # every file of a frequency first, its sweep.csv row last: a row there means
            # the frequency is finished (what --resume trusts)
            if i in fields_at:
                pvd.add(i, res)
                if axis is not None:
                    s = res.sample(axis.points_m)
                    for k in range(len(axis.s_m)):
                        table(PROFILES_CSV, profile_header).append(
                            [res.f_Hz, float(axis.s_m[k]), *map(float, axis.points_m[k]),
                             s.region[k], *complex_values(s.mu[k]), *complex_values(s.dm[k]),
                             *complex_values(s.dM[k])])
            for row in decay_rows(res, device):
                table(DECAY_CSV, DECAY_HEADER).append(row)
            if j == 0:  # the columns, once: a resumed file must have the same
                header = sweep_header(problem, res, sweep.info[-1])
                if table(SWEEP_CSV, header).header != header:
                    raise SpinfemError(f"--resume: {out_dir / SWEEP_CSV} has other columns "
                                       "than this spinfem writes (another version started "
                                       "it); run without --resume")
            tables[SWEEP_CSV].append(
                [res.f_Hz] + sum((complex_values(v) for v in sweep.signals[-1].values()), [])
                + list(sweep.info[-1].values()))
            if callback is not None:
                callback(i, len(freqs), res)
    finally:
        for table in tables.values():
            table.close()
    t_sweep = time.perf_counter() - t1

    files = [out_dir / "device.json"] + [t.path for t in tables.values()]
    if fields_at:
        files += [pvd.pvd, out_dir / "sweep"]
    summary = {
        "spinfem_version": __version__,
        "device": device.name,
        "device_file_sha256": device.source_sha256(),
        "device_resolved": device.model_dump(mode="json", exclude_none=True),
        "solver": solver_summary(problem, sweep),
        "mesh": mesh_statistics(problem.dmesh),
        "adapt": adapt_summary(problem),
        "frequencies": len(freqs),
        "fields_written_for_f_Hz": [float(freqs[i]) for i in sorted(fields_at)],
        "resumed_after_frequencies": done,
        "timings_s": {"mesh_and_assembly": problem.prepare_s,
                      **{f"prepare_{k}": v for k, v in problem.prepare_parts_s.items()},
                      "sweep": t_sweep,
                      "per_frequency": t_sweep / max(1, len(freqs) - done)},
    }
    files.append(write_text(out_dir / "summary.json", json.dumps(summary, indent=2)))
    if plots:
        from .output import plot

        files += plot.make_all(out_dir)
    return RunOutput(out_dir=out_dir, files=files)
