"""Pictures of a run (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .device import Device
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


def _shade_layers(ax, device: Device):
    edges = device.layer_edges_m() * 1e9
    for i, lay in enumerate(device.layers):
        kind = device.materials[lay.material].kind
        ax.axvspan(edges[i], edges[i + 1], color=LAYER_COLOURS[kind], alpha=0.5, lw=0)
        ax.text((edges[i] + edges[i + 1]) / 2, 1.0, lay.material,
                transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=8)


def _pick(n: int, k: int = 6) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, min(n, k))).astype(int))


def profile_plot(path, device: Device, x_m, f_Hz, mu) -> Path:
    """|mu| (log scale) and phase of mu along x for up to six frequencies.

    ``mu`` has shape ``(n_frequencies, n_points)`` [A/m].
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    x = np.asarray(x_m) * 1e9
    cmap = plt.get_cmap("viridis")
    sel = _pick(len(f_Hz))
    for j, i in enumerate(sel):
        c = cmap(j / max(1, len(sel) - 1))
        ax1.semilogy(x, np.abs(mu[i]), color=c, label=f"{f_Hz[i]:.3g} Hz")
        ax2.plot(x, np.unwrap(np.angle(mu[i])), color=c)
    for ax in (ax1, ax2):
        _shade_layers(ax, device)
    top = np.max(np.abs(mu[sel]))
    ax1.set_ylim(top * 1e-4, top * 2)  # a grounded end would pull the axis down to 0
    ax1.set_ylabel(r"$|\mu|$ [A/m]")
    ax2.set_ylabel(r"phase of $\mu$ [rad]")
    ax2.set_xlabel("x [nm]")
    ax1.legend(fontsize=8, ncol=2)
    ax1.set_title(f"{device.name}: spin potential along the device", pad=16)
    return _save(fig, Path(path))


def decay_length_plot(path, device: Device, decay_rows) -> Path:
    """Decay length 1/Re q and wavelength 2 pi/|Im q| vs f: fem.analytic (lines)
    and read off the FEM field in each layer (markers)."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    f = np.array(sorted({r[0] for r in decay_rows}))
    fine = np.geomspace(f.min(), f.max(), 200) if f.size > 1 else f
    colours = plt.get_cmap("tab10")
    seen = []
    for lay in device.layers:
        if lay.material in seen:
            continue
        seen.append(lay.material)
        c = colours(len(seen) - 1)
        q = device.material(lay.material).q(2 * np.pi * fine)
        ax1.loglog(fine, 1e9 / q.real, color=c, label=f"{lay.material} exact")
        ax2.loglog(fine, 1e9 * 2 * np.pi / np.abs(q.imag), color=c)
    for k, name in enumerate(device.layer_names()):
        rows = [r for r in decay_rows if r[1] == name]
        c = colours(seen.index(device.layers[k].material))
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
