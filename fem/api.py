"""The main job as a Python call: solve every frequency of a device, write CSV and PNG.

``run_device(device, out_dir)`` is what ``spinfem run`` does; the CLI only adds
the progress bar and the error handling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from . import analytic
from .device import Device
from .export import complex_columns, complex_values, write_csv, write_text
from .result import Result
from .solve import Problem, prepare
from .verify import decay_constant_from_field


@dataclass
class RunOutput:
    """What ``run_device`` wrote: the output folder and its files."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)


def axis_points_m(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Points along the device axis (the x line through the centre of the cross-section).

    Returns ``(points_m, layer_index)``; every layer gets the mesh's x nodes inside
    it, with its end points moved inwards by 1e-9 of the thickness so that the
    discontinuous ``dm`` and ``dM`` are sampled on both sides of each interface.
    """
    device = problem.device
    edges = device.layer_edges_m()
    xs = np.unique(problem.dmesh.nodes_m()[:, 0])
    pts, idx = [], []
    for i, (a, b) in enumerate(pairwise(edges)):
        x = xs[(xs >= a - 1e-12 * b) & (xs <= b * (1 + 1e-12))].copy()
        eps = 1e-9 * (b - a)
        x[0], x[-1] = a + eps, b - eps
        pts.append(x)
        idx.append(np.full(x.size, i))
    x = np.concatenate(pts)
    centre = [e / 2 for e in device.extent_m()[1:]]
    return np.column_stack([x] + [np.full(x.size, c) for c in centre]), np.concatenate(idx)


def layer_decay_constants(result: Result, device: Device) -> list[tuple[complex, complex]]:
    """Per layer, ``(q_fem, q_exact)`` [1/m]: the FEM one read off the field at the
    layer centre (:func:`fem.verify.decay_constant_from_field`)."""
    edges = device.layer_edges_m()
    centre = tuple(e / 2 for e in device.extent_m()[1:])
    out = []
    for i, lay in enumerate(device.layers):
        q = complex(device.material(lay.material).q(result.omega))
        a, b = edges[i], edges[i + 1]
        s = min(0.5 / abs(q), 0.45 * (b - a))
        out.append((decay_constant_from_field(result, (a + b) / 2, s, centre), q))
    return out


def run_device(device: Device, out_dir: str | Path,
               callback: Callable[[int, int, Result], None] | None = None,
               plots: bool = True) -> RunOutput:
    """Solve every frequency of ``device`` and write the results into ``out_dir``.

    Files (all written atomically, only after every frequency solved):

    * ``profiles.csv`` -- mu, dm, dM [A/m] along the device axis per frequency;
    * ``<contact>_mu.csv`` for each injection contact: contact-averaged mu vs f;
    * ``decay_lengths.csv`` -- per layer, decay length and wavelength [m] read
      off the FEM field and from fem.analytic;
    * ``mu_profile.png``, ``decay_length.png`` (unless ``plots=False``);
    * ``device.json`` -- the validated device with every default filled in.
    """
    out_dir = Path(out_dir)
    problem = prepare(device)
    pts, layer_idx = axis_points_m(problem)
    names = device.layer_names()
    freqs = device.f_Hz()
    injectors = [n for n, c in device.contacts.items() if c.kind == "injection"]

    profile_rows, decay_rows = [], []
    contact_rows: dict[str, list] = {c: [] for c in injectors}
    profiles = []
    for i, f in enumerate(freqs):
        res = problem.solve(float(f))
        s = res.sample(pts)
        profiles.append(s.mu)
        for k in range(len(pts)):
            profile_rows.append([float(f), float(pts[k, 0]), names[layer_idx[k]],
                                 *complex_values(s.mu[k]), *complex_values(s.dm[k]),
                                 *complex_values(s.dM[k])])
        for c in injectors:
            contact_rows[c].append([float(f), *complex_values(res.contact_mean(c))])
        for name, (q_fem, q_ex) in zip(names, layer_decay_constants(res, device)):
            decay_rows.append([float(f), name, float(analytic.decay_length(q_fem)),
                               float(analytic.decay_length(q_ex)),
                               float(analytic.wavelength(q_fem)), float(analytic.wavelength(q_ex))])
        if callback is not None:
            callback(i, len(freqs), res)

    files = [
        write_csv(out_dir / "profiles.csv",
                  ["f_Hz", "x_m", "region"] + complex_columns("mu", "A_per_m")
                  + complex_columns("dm", "A_per_m") + complex_columns("dM", "A_per_m"),
                  profile_rows),
        write_csv(out_dir / "decay_lengths.csv",
                  ["f_Hz", "region", "decay_length_fem_m", "decay_length_exact_m",
                   "wavelength_fem_m", "wavelength_exact_m"], decay_rows),
        write_text(out_dir / "device.json", json.dumps(device.model_dump(mode="json"), indent=2)),
    ]
    for c, rows in contact_rows.items():
        files.append(write_csv(out_dir / f"{c}_mu.csv",
                               ["f_Hz"] + complex_columns(f"{c}_mu", "A_per_m"), rows))
    if plots:
        from . import plot

        files.append(plot.profile_plot(out_dir / "mu_profile.png", device, pts[:, 0],
                                       freqs, np.array(profiles)))
        files.append(plot.decay_length_plot(out_dir / "decay_length.png", device, decay_rows))
    return RunOutput(out_dir=out_dir, files=files)
