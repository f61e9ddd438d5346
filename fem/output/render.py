"""PyVista pictures of a sweep, rendered off-screen from its saved VTU files.

``mesh.png`` (the mesh coloured by region), ``mu_abs.png`` and ``mu_phase.png``
(3D: clipped through the middle to show the interior), and ``dM_abs.png`` (dM in
the ferromagnets), each at the first frequency that has fields.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from ..model.device import Device
from .export import atomic_path

REGION_COLOURS = ["#8fb8de", "#f4a582", "#b8e186", "#d9d9d9", "#c2a5cf", "#fddbc7"]


def _pyvista():
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv


def listed_fields(out_dir: Path) -> list[tuple[float, Path]]:
    """``(f_Hz, vtu path)`` of every data set listed in ``sweep.pvd``, by frequency."""
    text = (out_dir / "sweep.pvd").read_text()
    found = re.findall(r'timestep="([^"]+)"[^>]*file="([^"]+)"', text)
    if not found:
        raise FileNotFoundError(f"{out_dir / 'sweep.pvd'} lists no data set")
    return sorted((float(f), out_dir / path) for f, path in found)


def _outline(grid, three_d: bool):
    if three_d:  # the sharp edges of the surface, with its normals made consistent first
        surface = grid.extract_surface(algorithm="dataset_surface").compute_normals(
            consistent_normals=True, auto_orient_normals=True, split_vertices=False)
        return surface.extract_feature_edges(boundary_edges=False, non_manifold_edges=False,
                                             manifold_edges=False, feature_angle=30)
    return grid.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                      manifold_edges=False, non_manifold_edges=False)


def _load(pv, vtu: Path, crop: float | None):
    grid = pv.read(vtu)
    grid.points = grid.points * 1e9  # show nm
    if crop is not None:
        grid = grid.clip_box([-crop, crop, -1e12, 1e12, -1e12, 1e12], invert=False)
    return grid


def _screenshot(plotter, path: Path) -> Path:
    try:
        with atomic_path(path, suffix=".png") as tmp:
            plotter.screenshot(str(tmp))
    finally:
        plotter.close()
    return Path(path)


def _view(plotter, three_d: bool) -> None:
    if three_d:  # x to the right, z up, seen from in front and above
        plotter.view_xz()
        plotter.camera.elevation = 35
        plotter.camera.azimuth = -25
        plotter.reset_camera()
        plotter.camera.zoom(1.5)
    else:
        plotter.view_xy()
        plotter.reset_camera()
        plotter.camera.zoom(1.3)
    plotter.show_axes()


def _crop_nm(device: Device) -> float | None:
    if device.geometry == "nonlocal_spin_valve":  # the long channel's middle
        return 0.5 * device.electrodes.spacing_nm + 2 * device.electrodes.width_nm
    return None


def _add_regions(plotter, grid, names: list[str], materials: dict[str, str], **edges) -> None:
    """Each region of ``grid`` in its colour with its element edges, labelled
    ``name (material)`` for a legend."""
    for i, name in enumerate(names):
        part = grid.extract_cells(grid.cell_data["region"] == i)
        if part.n_cells:
            plotter.add_mesh(part, color=REGION_COLOURS[i % len(REGION_COLOURS)],
                             show_edges=True, label=f"{name} ({materials[name]})", **edges)


def _junction_mesh(pv, grid, device: Device, names: list[str], path: Path) -> Path:
    """The mesh around the injector's junction with the channel (a nonlocal spin valve's
    grading is invisible in the full view): a window 1.5 electrode widths wide, cut at
    the channel's centre plane in 3D."""
    ch, el = device.channel, device.electrodes
    x0, top = -el.spacing_nm / 2, ch.thickness_nm
    half = 0.75 * el.width_nm
    lo, hi = top - min(ch.thickness_nm, half), top + el.thickness_nm
    big = 1e12
    if device.dimension == 3:
        g = grid.clip(normal="y", origin=(0.0, 0.0, 0.0))
        g = g.clip_box([x0 - half, x0 + half, -big, big, lo, hi], invert=False)
    else:
        g = grid.clip_box([x0 - half, x0 + half, lo, hi, -big, big], invert=False)
    materials = device.region_materials()
    p = pv.Plotter(off_screen=True, window_size=(1400, 700))
    _add_regions(p, g, names, materials, edge_color="#333333", line_width=0.5)
    p.add_text(f"{device.name}: mesh at the injector junction (nm): injector "
               f"({materials['injector']}) above the channel ({materials['channel']})",
               font_size=10)
    if device.dimension == 3:
        p.view_xz()
    else:
        p.view_xy()
    p.enable_parallel_projection()
    p.reset_camera()
    p.camera.zoom(1.2)
    p.show_axes()
    return _screenshot(p, path)


def field_pictures(out_dir, device: Device) -> list[Path]:
    """The PyVista pictures of a run folder (needs ``sweep.pvd`` and its VTU files):
    the mesh, |mu| and dM at the lowest frequency with fields, the phase of mu at the
    highest (where it varies)."""
    pv = _pyvista()
    out_dir = Path(out_dir)
    listed = listed_fields(out_dir)
    f_Hz, vtu = listed[0]
    crop = _crop_nm(device)
    grid = _load(pv, vtu, crop)
    f_high, high = listed[-1][0], _load(pv, listed[-1][1], crop)
    names = json.loads((out_dir / "sweep" / "fields.json").read_text())["region_names"]
    materials = device.region_materials()
    three_d = device.dimension == 3
    files = []

    p = pv.Plotter(off_screen=True, window_size=(1400, 700))
    _add_regions(p, grid, names, materials, edge_color="#555555", line_width=0.2,
                 edge_opacity=0.5)
    p.add_legend(bcolor="white", face="rectangle", size=(0.22, 0.05 + 0.04 * len(names)))
    p.add_text(f"{device.name}: mesh, {grid.n_cells} elements shown (nm)", font_size=10)
    _view(p, three_d)
    files.append(_screenshot(p, out_dir / "mesh.png"))
    if device.geometry == "nonlocal_spin_valve":
        files.append(_junction_mesh(pv, grid, device, names, out_dir / "mesh_junction.png"))

    def clipped(g):
        return g.clip(normal="y", origin=g.center) if three_d else g

    cut = " (clipped at y = centre)" if three_d else ""
    mu = clipped(grid).point_data["mu_abs"]
    shows = [("mu_abs.png", grid, f_Hz, "mu_abs", "abs(mu) [A/m]", dict(
                 cmap="viridis", log_scale=True,
                 clim=[max(mu.max() * 1e-4, mu[mu > 0].min()), mu.max()])),
             ("mu_phase.png", high, f_high, "mu_phase_rad", "phase of mu [rad]",
              dict(cmap="twilight_shifted", clim=[-np.pi, np.pi]))]
    for fname, g, f, array, title, opts in shows:
        p = pv.Plotter(off_screen=True, window_size=(1400, 700))
        p.add_mesh(clipped(g), scalars=array, scalar_bar_args={"title": title, "fmt": "%.2g"},
                   **opts)
        p.add_mesh(_outline(g, three_d), color="black", line_width=1)
        p.add_text(f"{title} at f = {f:.3g} Hz{cut}", font_size=10)
        _view(p, three_d)
        files.append(_screenshot(p, out_dir / fname))

    ferro = [i for i, n in enumerate(names) if device.materials[materials[n]].kind ==
             "ferromagnet"]
    if ferro:
        mag = grid.extract_cells(np.isin(grid.cell_data["region"], ferro))
        p = pv.Plotter(off_screen=True, window_size=(1400, 700))
        p.add_mesh(_outline(grid, three_d), color="#888888", line_width=1)
        dM = mag.cell_data["dM_abs"]
        p.add_mesh(mag, scalars="dM_abs", cmap="magma", log_scale=True,
                   clim=[max(dM.max() * 1e-3, dM[dM > 0].min()), dM.max()],
                   scalar_bar_args={"title": "abs(dM) [A/m]", "fmt": "%.1e"})
        p.add_text(f"abs(dM) in the ferromagnets at f = {f_Hz:.3g} Hz", font_size=10)
        _view(p, three_d)
        files.append(_screenshot(p, out_dir / "dM_abs.png"))
    return files
