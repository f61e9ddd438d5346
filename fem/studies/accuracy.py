"""Accuracy study of a device's transfer function ``Z``: uniform, graded and adaptive
meshes against a reference, error against nodes.

:func:`accuracy_study` solves one contact's ``Z = <mu>/I_in`` at one frequency on

* uniform gmsh meshes (``mesh_size_nm``),
* graded gmsh meshes (:func:`fem.discretize.meshing.mesh_sizing`, all sizes divided by ``refine``),
* the meshes of the goal-oriented adaptive loop (:func:`fem.studies.adapt.adapt`), with the
  loop's own error estimate: ``adaptive`` splitting the elements it marks (from a coarse
  mesh) and ``adaptive_graded`` choosing the scale of the graded mesh (where the device
  has one),

and measures every error against a reference independent of the estimator: one graded
mesh refined uniformly (every element split: nested meshes, on which P1's ``Z``
converges as ``h^2`` from the start) and extrapolated by Richardson's rule,
``Z_ref = Z_2 + (Z_2 - Z_1)/3`` from the two finest.  The observed order of those nested
meshes is reported so that the extrapolation can be trusted.  (Graded meshes of
different sizes are not nested: gmsh places every node anew, and below ``refine = 1``,
where their ramps keep one growth, their ``Z`` may approach the limit from either
side, so the graded sequence itself is no basis for an extrapolation.)
:func:`write_study` saves the CSV, JSON and the picture (error against nodes, log-log).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core.atomic import write_text
from ..discretize.mesh import refine_device_mesh
from ..discretize.meshing import device_mesh, mesh_sizing
from ..model.device import Device
from ..solvers.solve import prepare
from .adapt import AdaptError, adapt, to_rounding

#: relative residual of iterative solves of a study (meshes beyond the direct solver's
#: size): graded meshes are ill-conditioned, a 1e-10 residual leaves ~1e-5 in Z where
#: 1e-13 leaves ~1e-7 (measured for the fits, fem.solvers.sensitivity.FIT_REL_TOL)
REFERENCE_REL_TOL = 1e-13


@dataclass
class Series:
    """One family of meshes: nodes, ``Z`` and its relative error (and the estimate)."""

    name: str
    nodes: list[int] = field(default_factory=list)
    Z: list[complex] = field(default_factory=list)
    rel_error: list[float] = field(default_factory=list)
    estimate: list[float] = field(default_factory=list)

    def nodes_to_reach(self, tol: float) -> int | None:
        """The fewest nodes of a mesh whose error is at most ``tol`` (None: none is)."""
        ok = [n for n, e in zip(self.nodes, self.rel_error) if e <= tol]
        return min(ok) if ok else None


@dataclass
class AccuracyStudy:
    """The result of :func:`accuracy_study` (errors relative to ``|Z_ref|``)."""

    device: str
    contact: str
    f_Hz: float
    Z_ref: complex
    observed_order: float
    series: dict[str, Series]
    rel_error_goal: float
    seconds: float

    def savings(self, tol: float | None = None) -> dict[str, float | None]:
        """How many times fewer nodes graded and adaptive meshes need than uniform ones
        to reach ``tol`` (default: the adaptive goal)."""
        tol = self.rel_error_goal if tol is None else tol
        uni = self.series["uniform"].nodes_to_reach(tol)
        out = {}
        for name, s in self.series.items():
            if name != "uniform":
                n = s.nodes_to_reach(tol)
                out[name] = None if uni is None or n is None else uni / n
        return out


def _nested_reference(device: Device, contact: str, f_Hz: float, levels: int, dmesh
                      ) -> tuple[complex, float]:
    """Richardson's ``h^2`` extrapolation of ``Z`` over ``dmesh`` refined uniformly
    ``levels`` times, and the observed order of the last three meshes."""
    z = []
    for k in range(levels + 1):
        z.append(_solve_z(device, dmesh, contact, f_Hz)[1])
        if k < levels:
            dmesh, _ = refine_device_mesh(dmesh)
    z0, z1, z2 = z[-3:]
    order = float(np.log2(abs(z1 - z0) / max(abs(z2 - z1), 1e-300)))
    return z2 + (z2 - z1) / 3.0, order


def _solve_z(device: Device, dmesh, contact: str, f_Hz: float) -> tuple[int, complex]:
    """Nodes and ``Z`` on ``dmesh``, solved to rounding: SuperLU up to
    :data:`~fem.solvers.linear.DIRECT_MAX_UNKNOWNS` unknowns, AMG-GMRES to
    :data:`REFERENCE_REL_TOL` above (SuperLU on a 3D nested reference's 8x refined mesh
    takes gigabytes)."""
    problem = to_rounding(prepare(device, [f_Hz], dmesh=dmesh), REFERENCE_REL_TOL)
    return int(dmesh.mesh.nvertices), complex(problem.solve(f_Hz).transfer(contact))


def accuracy_study(device: Device, contact: str, f_Hz: float, *,
                   uniform_nm=(16.0, 8.0, 4.0, 2.0), graded_refine=(0.25, 0.5, 1.0, 2.0),
                   rel_error: float = 1e-3, max_nodes: int = 400_000,
                   mesh_dir: str | Path | None = None, reference_refine: float = 0.5,
                   reference_levels: int | None = None) -> AccuracyStudy:
    """Uniform, graded and adaptive meshes of ``device`` at ``f_Hz`` [Hz], errors of
    ``Z(contact)`` against the Richardson extrapolation of nested uniform refinements of
    one graded mesh (module docstring).

    Parameters
    ----------
    uniform_nm : sequence of float
        Uniform element sizes [nm].
    graded_refine : sequence of float
        Factors dividing every size of the device's graded mesh (its ``mesh_refine``
        included).
    rel_error : float
        Goal of the adaptive loop (it runs until its estimate is below it).
    reference_refine, reference_levels : float, int
        The reference's base mesh (the graded mesh with its sizes divided by
        ``reference_refine``) and how many times it is refined uniformly (default 3 in
        1D-2D, 2 in 3D: the finest has 64x the base's elements in either).
    """
    levels = reference_levels or (2 if device.dimension == 3 else 3)
    if levels < 2:
        raise ValueError("reference_levels must be at least 2 (three nested meshes)")
    t0 = time.perf_counter()
    tmp = tempfile.TemporaryDirectory() if mesh_dir is None else None
    mdir = Path(tmp.name if tmp else mesh_dir)
    freqs = [f_Hz]
    try:
        graded = Series("graded")
        for r in graded_refine:
            dm = device_mesh(device, freqs, mdir, sizing=mesh_sizing(device, freqs, refine=r))
            n, z = _solve_z(device, dm, contact, f_Hz)
            graded.nodes.append(n)
            graded.Z.append(z)
        z_ref, order = _nested_reference(device, contact, f_Hz, levels,
                                         device_mesh(device, freqs, mdir, sizing=mesh_sizing(
                                             device, freqs, refine=reference_refine)))
        uniform = Series("uniform")
        for h in uniform_nm:
            dev = device.with_params(**{"device.mesh_size_nm": float(h), "device.mesh_refine": 1.0})
            n, z = _solve_z(dev, device_mesh(dev, freqs, mdir), contact, f_Hz)
            uniform.nodes.append(n)
            uniform.Z.append(z)
        series = {"uniform": uniform, "graded": graded}
        strategies = {"adaptive": "refine", "adaptive_graded": "graded"}
        for name, strategy in strategies.items():
            if strategy == "graded" and not device.graded_mesh:
                continue
            try:
                problem = adapt(device, contact, rel_error, freqs, max_nodes=max_nodes,
                                mesh_dir=mdir, strategy=strategy)
            except AdaptError as err:  # the history up to max_nodes still tells the story
                problem = err.problem
            s = series[name] = Series(name)
            for step in problem.adapt_history if problem is not None else []:
                s.nodes.append(int(step["nodes"]))
                s.Z.append(complex(step["Z"][f_Hz]))
                s.estimate.append(float(step["estimate"][f_Hz]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    for s in series.values():
        s.rel_error = [abs(z - z_ref) / abs(z_ref) for z in s.Z]
    return AccuracyStudy(device=device.name, contact=contact, f_Hz=f_Hz, Z_ref=z_ref,
                         observed_order=order, rel_error_goal=rel_error, series=series,
                         seconds=time.perf_counter() - t0)


def write_study(study: AccuracyStudy, out_dir: str | Path) -> list[Path]:
    """``accuracy.csv`` (one row per mesh), ``accuracy.json`` and ``accuracy.png``
    (relative error of ``Z`` against nodes) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = ["mesh,nodes,Z_re,Z_im,rel_error,est_rel_error"]
    for s in study.series.values():
        est = s.estimate or [float("nan")] * len(s.nodes)
        rows += [f"{s.name},{n},{z.real:.12e},{z.imag:.12e},{e:.6e},{q:.6e}"
                 for n, z, e, q in zip(s.nodes, s.Z, s.rel_error, est)]
    files = [write_text(out / "accuracy.csv", "\n".join(rows) + "\n")]
    data = asdict(study)
    data["Z_ref"] = [study.Z_ref.real, study.Z_ref.imag]
    for s in data["series"].values():
        s["Z"] = [[z.real, z.imag] for z in s["Z"]]
    data["fewer_nodes_than_uniform"] = study.savings()
    files.append(write_text(out / "accuracy.json", json.dumps(data, indent=2)))
    files.append(plot_study(study, out / "accuracy.png"))
    return files


def plot_study(study: AccuracyStudy, path: str | Path) -> Path:
    """Relative error of ``Z`` against nodes: uniform, graded, adaptive (both strategies,
    true and estimated)."""
    from ..output.plot import _pyplot, _save

    fig, ax = _pyplot().subplots(figsize=(6.4, 4.6), dpi=130)
    style = {"uniform": ("tab:gray", "s", "uniform"), "graded": ("tab:blue", "o", "graded"),
             "adaptive": ("tab:red", "^", "adaptive, elements split"),
             "adaptive_graded": ("tab:green", "D", "adaptive, graded remeshed")}
    for name, s in study.series.items():
        color, marker, label = style[name]
        ax.loglog(s.nodes, s.rel_error, marker=marker, color=color, label=f"{label}: true error")
        if s.estimate:
            ax.loglog(s.nodes, s.estimate, marker=marker, color=color, linestyle="--",
                      markerfacecolor="none", label=f"{label}: estimated (DWR)")
    ax.axhline(study.rel_error_goal, color="k", linewidth=0.8, linestyle=":")
    ax.text(ax.get_xlim()[0] * 1.1, study.rel_error_goal * 1.15, "goal", fontsize=8)
    ax.set_xlabel("nodes")
    ax.set_ylabel(f"relative error of Z({study.contact})")
    ax.set_title(f"{study.device}: Z({study.contact}) at {study.f_Hz:g} Hz", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(path))
