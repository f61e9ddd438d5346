"""The main job as a Python call: solve every frequency of a device, write CSV and PNG.

``run_device(device, out_dir)`` is what ``spinfem run`` does; the CLI only adds
the progress bar and the error handling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import analytic
from .axis import Axis, device_axis
from .device import Device
from .export import complex_columns, complex_values, write_csv, write_text
from .result import Result
from .solve import prepare
from .verify import decay_constant_from_field

REPORTED = ("injection", "detector")


@dataclass
class RunOutput:
    """What ``run_device`` wrote: the output folder and its files."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)


def layer_decay_constants(result: Result, device: Device) -> list[tuple[complex, complex]]:
    """Per layer of a stack, ``(q_fem, q_exact)`` [1/m]: the FEM one read off the field
    at the layer centre (:func:`fem.verify.decay_constant_from_field`)."""
    edges = device.layer_edges_m()
    centre = tuple(e / 2 for e in device.extent_m()[1:])
    out = []
    for i, lay in enumerate(device.layers):
        q = complex(device.material(lay.material).q(result.omega))
        a, b = edges[i], edges[i + 1]
        s = min(0.5 / abs(q), 0.45 * (b - a))
        out.append((decay_constant_from_field(result, (a + b) / 2, s, centre), q))
    return out


def contact_header(device: Device) -> list[str]:
    """Columns of ``contacts.csv``: mu, dm, dM [A/m] of every injector and detector,
    and Z [s/m^3] of every detector."""
    cols = ["f_Hz"]
    for name, c in device.contacts.items():
        if c.kind in REPORTED:
            for fld in ("mu", "dm", "dM"):
                cols += complex_columns(f"{name}_{fld}", "A_per_m")
            if c.kind == "detector":
                cols += complex_columns(f"{name}_Z", "s_per_m3")
    return cols


def contact_row(device: Device, res: Result) -> list:
    row = [res.f_Hz]
    for name, c in device.contacts.items():
        if c.kind in REPORTED:
            for fld in ("mu", "dm", "dM"):
                row += complex_values(res.contact_mean(name, fld))
            if c.kind == "detector":
                row += complex_values(res.transfer(name))
    return row


def coordinate_names(device: Device) -> list[str]:
    """Names of the mesh coordinates [m]: 2D pillars and spin valves are x-z sections."""
    if device.dimension == 2 and device.geometry in ("pillar", "nonlocal_spin_valve"):
        return ["x_m", "z_m"]
    return ["x_m", "y_m", "z_m"][: device.dimension]


def _profile_rows(axis: Axis, res: Result) -> list[list]:
    s = res.sample(axis.points_m)
    coords = axis.points_m
    return [[res.f_Hz, float(axis.s_m[k]), *map(float, coords[k]), s.region[k],
             *complex_values(s.mu[k]), *complex_values(s.dm[k]), *complex_values(s.dM[k])]
            for k in range(len(coords))]


def run_device(device: Device, out_dir: str | Path,
               callback: Callable[[int, int, Result], None] | None = None,
               plots: bool = True, mesh_dir: str | Path = "meshes") -> RunOutput:
    """Solve every frequency of ``device`` and write the results into ``out_dir``.

    Files (all written atomically, only after every frequency solved):

    * ``contacts.csv`` -- contact-averaged mu, dm, dM [A/m] of every injection and
      detector contact vs f, and ``Z = <mu>_det / I_in`` [s/m^3] of detectors;
    * ``profiles.csv`` -- mu, dm, dM along the device axis (not for user meshes);
    * ``decay_lengths.csv`` -- stacks: per layer, decay length and wavelength [m]
      read off the FEM field and from fem.analytic;
    * pictures (unless ``plots=False``): ``mu_profile.png``, ``decay_length.png``
      (stacks), ``Z_bode.png`` (detectors), ``mesh.png`` and ``mu_abs.png`` (PyVista);
    * ``device.json`` -- the validated device with every default filled in.
    """
    out_dir = Path(out_dir)
    problem = prepare(device, mesh_dir=mesh_dir)
    axis = device_axis(device)
    freqs = device.f_Hz()
    names = device.layer_names()
    profile_rows, contact_rows, decay_rows, profiles = [], [], [], []
    first = None
    for i, f in enumerate(freqs):
        res = problem.solve(float(f))
        first = first or res
        if axis is not None:
            rows = _profile_rows(axis, res)
            profile_rows += rows
            profiles.append(np.array([complex(r[-12], r[-11]) for r in rows]))
        contact_rows.append(contact_row(device, res))
        if device.geometry == "stack":
            for name, (q_fem, q_ex) in zip(names, layer_decay_constants(res, device)):
                decay_rows.append([float(f), name, float(analytic.decay_length(q_fem)),
                                   float(analytic.decay_length(q_ex)),
                                   float(analytic.wavelength(q_fem)),
                                   float(analytic.wavelength(q_ex))])
        if callback is not None:
            callback(i, len(freqs), res)

    files = [write_csv(out_dir / "contacts.csv", contact_header(device), contact_rows)]
    if axis is not None:
        files.append(write_csv(
            out_dir / "profiles.csv",
            ["f_Hz", f"{axis.label}_axis_m", *coordinate_names(device), "region"]
            + complex_columns("mu", "A_per_m") + complex_columns("dm", "A_per_m")
            + complex_columns("dM", "A_per_m"), profile_rows))
    if decay_rows:
        files.append(write_csv(
            out_dir / "decay_lengths.csv",
            ["f_Hz", "region", "decay_length_fem_m", "decay_length_exact_m",
             "wavelength_fem_m", "wavelength_exact_m"], decay_rows))
    files.append(write_text(out_dir / "device.json",
                            json.dumps(device.model_dump(mode="json", exclude_none=True),
                                       indent=2)))
    if plots:
        from . import plot

        if axis is not None:
            files.append(plot.profile_plot(out_dir / "mu_profile.png", device, axis, freqs,
                                           np.array(profiles)))
        if decay_rows:
            files.append(plot.decay_length_plot(out_dir / "decay_length.png", device,
                                                decay_rows))
        detectors = [n for n, c in device.contacts.items() if c.kind == "detector"]
        if detectors:
            files.append(plot.bode_plot(out_dir / "Z_bode.png", device, freqs,
                                        {d: [complex(r[0], r[1]) for r in
                                             _columns(contact_rows, device, f"{d}_Z")]
                                         for d in detectors}))
        if device.dimension >= 2:
            crop = None
            if device.geometry == "nonlocal_spin_valve":
                crop = 0.5 * device.electrodes.spacing_nm + 2 * device.electrodes.width_nm
            files += plot.field_pictures(out_dir, first, crop_nm=crop)
    return RunOutput(out_dir=out_dir, files=files)


def _columns(rows, device: Device, prefix: str):
    header = contact_header(device)
    i = header.index(f"{prefix}_re_s_per_m3")
    return [(r[i], r[i + 1]) for r in rows]
