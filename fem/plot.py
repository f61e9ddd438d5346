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


def _pick(n: int, k: int = 6) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, min(n, k))).astype(int))


def profile_plot(path, device: Device, axis, f_Hz, mu) -> Path:
    """|mu| (log scale) and phase of mu along the device axis for up to six frequencies.

    ``axis`` is a :class:`fem.axis.Axis`; ``mu`` has shape ``(n_frequencies, n_points)`` [A/m].
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


def bode_plot(path, device: Device, f_Hz, Z: dict[str, list[complex]]) -> Path:
    """Bode plot of the detectors' transfer functions ``Z(f) = <mu>_det / I_in``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    unit = "s/m$^3$" if device.dimension == 3 else "s/m$^2$ per unit depth"
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
    return _save(fig, Path(path))


def _pyvista():
    import os

    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv


def to_pyvista(result):
    """The result's mesh as a ``pyvista.UnstructuredGrid`` in nm with point data
    ``mu_abs_A_per_m`` and cell data ``region``."""
    pv = _pyvista()
    dmesh = result.dmesh
    mesh = dmesh.mesh
    pts = mesh.p.T * dmesh.scales.length_m * 1e9
    if pts.shape[1] == 2:
        pts = np.column_stack([pts, np.zeros(len(pts))])
    nv = mesh.t.shape[0]
    cell_type = pv.CellType.TETRA if nv == 4 else pv.CellType.TRIANGLE
    cells = np.column_stack([np.full(mesh.nelements, nv), mesh.t.T]).ravel()
    grid = pv.UnstructuredGrid(cells, np.full(mesh.nelements, cell_type, dtype=np.uint8), pts)
    grid.point_data["mu_abs_A_per_m"] = np.abs(result.mu)
    grid.cell_data["region"] = dmesh.element_region
    return grid


def _screenshot(plotter, path: Path) -> Path:
    with atomic_path(path) as tmp:
        plotter.screenshot(str(tmp.with_suffix(".png")))
        tmp.with_suffix(".png").replace(tmp)
    plotter.close()
    return path


def field_pictures(out_dir, result, crop_nm: float | None = None) -> list[Path]:
    """PyVista pictures: the mesh coloured by region, and |mu| at the result's
    frequency (3D: clipped through the middle to show the interior).

    ``crop_nm``: show only ``|x| < crop_nm`` (a long channel's middle)."""
    pv = _pyvista()
    out_dir = Path(out_dir)
    grid = to_pyvista(result)
    names = result.dmesh.region_names
    three_d = result.dmesh.dim == 3
    if crop_nm is not None:  # keep the part worth seeing of a long device
        grid = grid.clip_box([-crop_nm, crop_nm, -1e9, 1e9, -1e9, 1e9], invert=False)
    files = []

    p = pv.Plotter(off_screen=True, window_size=(1400, 700))
    colours = ["#8fb8de", "#f4a582", "#b8e186", "#d9d9d9", "#c2a5cf", "#fddbc7"]
    for i, name in enumerate(names):
        part = grid.extract_cells(grid.cell_data["region"] == names.index(name))
        p.add_mesh(part, color=colours[i % len(colours)], show_edges=True, edge_color="#555555",
                   line_width=0.2, edge_opacity=0.5,
                   label=f"{name} ({result.dmesh.region_material[name]})")
    p.add_legend(bcolor="white", face="rectangle", size=(0.22, 0.05 + 0.04 * len(names)))
    p.add_text(f"mesh: {result.dmesh.mesh.nvertices} nodes, {result.dmesh.mesh.nelements} "
               "elements (nm)", font_size=10)
    _view(p, three_d)
    files.append(_screenshot(p, out_dir / "mesh.png"))

    p = pv.Plotter(off_screen=True, window_size=(1400, 700))
    field = grid.clip(normal="y", origin=grid.center) if three_d else grid
    mu = field.point_data["mu_abs_A_per_m"]
    p.add_mesh(field, scalars="mu_abs_A_per_m", cmap="viridis", log_scale=True,
               clim=[max(mu.max() * 1e-4, mu[mu > 0].min()), mu.max()],
               scalar_bar_args={"title": "abs(mu) [A/m]", "fmt": "%.1e"})
    if three_d:
        p.add_mesh(grid.extract_feature_edges(), color="black", line_width=1)
    p.add_text(f"abs(mu) at f = {result.f_Hz:.3g} Hz" + (" (clipped at y = centre)" if three_d
                                                     else ""), font_size=10)
    _view(p, three_d)
    files.append(_screenshot(p, out_dir / "mu_abs.png"))
    return files


def _view(plotter, three_d: bool) -> None:
    if three_d:  # x to the right, z up, seen from below the y = 0 plane and above
        plotter.view_xz()
        plotter.camera.elevation = 35
        plotter.camera.azimuth = -25
        plotter.reset_camera()
        plotter.camera.zoom(1.5)
    else:
        plotter.view_xy()
    plotter.show_axes()
