"""Pictures of a run (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.units import spin_signal_ohm
from ..model.device import Device
from ..solvers.result import resistance_unit, transfer_unit
from .export import atomic_path

LAYER_COLOURS = {"ferromagnet": "#f4d6c8", "normal_metal": "#d3e3f3"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
    _pyplot().close(fig)
    return Path(path)


def _pick(n: int, k: int = 6) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, min(n, k))).astype(int))


def profile_plot(path, device: Device, axis, f_Hz, mu) -> Path:
    """|mu| (log scale) and phase of mu along the device axis for up to six frequencies.

    ``axis`` is a :class:`fem.discretize.axis.Axis`; ``mu`` has shape
    ``(n_frequencies, n_points)`` [A/m].
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    s = np.asarray(axis.s_m) * 1e9
    cmap = plt.get_cmap("viridis")
    sel = _pick(len(f_Hz))
    for j, i in enumerate(sel):
        c = cmap(j / max(1, len(sel) - 1))
        ax1.semilogy(s, np.abs(mu[i]), color=c, label=f"{f_Hz[i]:.3g} Hz")
        ax2.plot(s, np.unwrap(np.angle(mu[i])), color=c)
    for ax in (ax1, ax2):
        for a, b, _, kind in axis.bands:
            ax.axvspan(a * 1e9, b * 1e9, color=LAYER_COLOURS[kind], alpha=0.5, lw=0)
        for a, b, name, _ in axis.bands if ax is ax1 else ():
            ax.text((a + b) / 2 * 1e9, 1.0, name, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7)
    top = np.max(np.abs(mu[sel]))
    ax1.set_ylim(top * 1e-4, top * 2)  # a grounded end would pull the axis down to 0
    ax1.set_ylabel(r"$|\mu|$ [A/m]")
    ax2.set_ylabel(r"phase of $\mu$ [rad]")
    ax2.set_xlabel(f"{axis.label} [nm]")
    ax1.legend(fontsize=8, ncol=2)
    ax1.set_title(f"{device.name}: spin potential along the device axis", pad=16)
    return _save(fig, Path(path))


def decay_length_plot(path, device: Device, decay_rows) -> Path:
    """Decay length 1/Re q and wavelength 2 pi/|Im q| vs f: fem.core.analytic (lines)
    and read off the FEM field (markers) in each layer or channel."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    f = np.array(sorted({r[0] for r in decay_rows}))
    fine = np.geomspace(f.min(), f.max(), 200) if f.size > 1 else f
    colours = plt.get_cmap("tab10")
    region_material = device.region_materials()
    materials = list(dict.fromkeys(region_material[r[1]] for r in decay_rows))
    for k, mat in enumerate(materials):
        q = device.material(mat).q(2 * np.pi * fine)
        ax1.loglog(fine, 1e9 / q.real, color=colours(k), label=f"{mat} exact")
        ax2.loglog(fine, 1e9 * 2 * np.pi / np.abs(q.imag), color=colours(k))
    for name in dict.fromkeys(r[1] for r in decay_rows):
        rows = [r for r in decay_rows if r[1] == name]
        c = colours(materials.index(region_material[name]))
        ax1.loglog([r[0] for r in rows], [r[2] * 1e9 for r in rows], "o", mfc="none", color=c,
                   label=f"{name} FEM")
        ax2.loglog([r[0] for r in rows], [r[4] * 1e9 for r in rows], "o", mfc="none", color=c)
    ax1.set_ylabel(r"decay length $1/\mathrm{Re}\,q$ [nm]")
    ax2.set_ylabel(r"wavelength $2\pi/|\mathrm{Im}\,q|$ [nm]")
    for ax in (ax1, ax2):
        ax.set_xlabel("f [Hz]")
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    fig.suptitle(f"{device.name}: decay length and wavelength, FEM field vs exact q(omega)")
    return _save(fig, Path(path))


def bode_plot(path, device: Device, f_Hz, Z: dict[str, list[complex]]) -> Path:
    """Bode plot of the detectors' transfer functions ``Z(f) = <mu>_det / I_in``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    unit = transfer_unit(device.dimension)[0].replace("^3", "$^3$").replace("^2", "$^2$")
    for name, z in Z.items():
        z = np.asarray(z)
        ax1.loglog(f_Hz, np.abs(z), "o-", ms=3, label=name)
        ax2.semilogx(f_Hz, np.unwrap(np.angle(z)), "o-", ms=3)
    ax1.set_ylabel(f"|Z| [{unit}]")
    ax2.set_ylabel("phase of Z [rad]")
    ax2.set_xlabel("f [Hz]")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend()
    ax1.set_title(rf"{device.name}: transfer function $Z = \langle\mu\rangle_{{det}} / I_{{in}}$")
    # where the ferromagnets carry P_F, |R| = P_inj P_det (mu0 mu_B^2/e^2) |Z| on the right
    factors = {d: device.signal_polarizations(d) for d in Z}
    if factors and None not in factors.values() and len(set(factors.values())) == 1:
        k = float(spin_signal_ohm(1.0, *next(iter(factors.values()))))
        ohm = ax1.secondary_yaxis("right", functions=(lambda z: z * k, lambda r: r / k))
        r_unit = resistance_unit(device.dimension)[0].replace("^2", "$^2$")
        ohm.set_ylabel(f"|R| [{r_unit}]")
    return _save(fig, Path(path))


def error_bound_plot(path, device, f_Hz, bounds: dict, snapshots, rel_tol: float) -> Path:
    """The reduced sweep's certified relative error bounds against frequency, with the
    frequencies of its full solves and the tolerance."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, b in bounds.items():
        b = np.asarray(b, dtype=float)
        ax.loglog(f_Hz, np.where(b > 0, b, np.nan), "o-", ms=3, label=name)
    for f in snapshots:
        ax.axvline(f, color="0.6", lw=0.8, ls=":")
    ax.axhline(rel_tol, color="k", lw=1, ls="--", label=f"rel_tol = {rel_tol:g}")
    ax.set_xlabel("f [Hz]")
    ax.set_ylabel("certified relative error bound")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{device.name}: reduced sweep from {len(snapshots)} full solves (dotted)")
    return _save(fig, Path(path))


def _read_csv(path: Path) -> list[dict]:
    import csv

    with path.open() as fh:
        return list(csv.DictReader(fh))


def make_all(out_dir) -> list[Path]:
    """Every picture of a run, made from its saved files (no solving):
    ``mu_profile.png``, ``decay_length.png``, ``Z_bode.png``, ``error_bound.png`` (a
    reduced sweep's certified bounds) and the PyVista
    pictures of :func:`fem.output.render.field_pictures`."""
    import json

    from ..discretize.axis import device_axis
    from ..model.device import validate_device

    out_dir = Path(out_dir)
    device = validate_device(json.loads((out_dir / "device.json").read_text()))
    files = []
    prof = out_dir / "profiles.csv"
    axis = device_axis(device)
    if prof.exists() and axis is not None:
        rows = _read_csv(prof)
        f = sorted({float(r["f_Hz"]) for r in rows})
        mu = np.array([[complex(float(r["mu_re_A_per_m"]), float(r["mu_im_A_per_m"]))
                        for r in rows if float(r["f_Hz"]) == fi] for fi in f])
        files.append(profile_plot(out_dir / "mu_profile.png", device, axis, np.array(f), mu))
    decay = out_dir / "decay_lengths.csv"
    if decay.exists():
        rows = [[float(r["f_Hz"]), r["region"], float(r["decay_length_fem_m"]),
                 float(r["decay_length_exact_m"]), float(r["wavelength_fem_m"]),
                 float(r["wavelength_exact_m"])] for r in _read_csv(decay)]
        files.append(decay_length_plot(out_dir / "decay_length.png", device, rows))
    sweep = out_dir / "sweep.csv"
    detectors = [n for n, c in device.contacts.items() if c.kind == "detector"]
    if sweep.exists() and detectors:
        rows = _read_csv(sweep)
        Z = {}
        for d in detectors:
            re = next(k for k in rows[0] if k.startswith(f"{d}_Z_re"))
            im = next(k for k in rows[0] if k.startswith(f"{d}_Z_im"))
            Z[d] = [complex(float(r[re]), float(r[im])) for r in rows]
        files.append(bode_plot(out_dir / "Z_bode.png", device,
                               [float(r["f_Hz"]) for r in rows], Z))
    summary = out_dir / "summary.json"
    if sweep.exists() and summary.exists():
        rows = _read_csv(sweep)
        solver = json.loads(summary.read_text()).get("solver", {})
        est = [k for k in (rows[0] if rows else {}) if k.startswith("est_rel_error_")]
        if est and "reduced_basis" in solver:
            bounds = {k.removeprefix("est_rel_error_"): [float(r[k]) for r in rows] for k in est}
            files.append(error_bound_plot(
                out_dir / "error_bound.png", device, [float(r["f_Hz"]) for r in rows], bounds,
                solver["reduced_basis"]["snapshot_f_Hz"], solver["settings"]["rel_tol"]))
    if (out_dir / "sweep.pvd").exists() and device.dimension >= 2:
        from .render import field_pictures

        files += field_pictures(out_dir, device)
    return files
