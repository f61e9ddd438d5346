"""The paper's Figs. 2-5 redrawn from the exact dispersion in :mod:`fem.core.analytic`.

Everything is in units of the exchange rate ``r`` and the natural wavevector
``k_M = sqrt(r/D_m)``: the curves are computed with ``r = D_m = 1`` (so
``k_M = 1``).  Parameters the paper leaves out are chosen here and printed on
the figures: ``w_M/r = 0.01, 0.05, 0.2`` in Figs. 3-5, ``xi = 0.09`` in Fig. 5.
Fig. 5 uses ``k = i q`` with ``Im k > 0`` (decay towards ``+x``) and the
sign-corrected eq. (44) (``exp(-i omega t)``), for which ``Re k > 0``.

:func:`figure_data` returns the curves (for tests and other plotting tools);
:func:`make_figures` draws them with matplotlib, imported only there.

>>> panels = figure_data()
>>> [p.filename for p in panels][0]
'fig2_rates_no_lattice.png'
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

import numpy as np

from ..core import analytic
from ..core.atomic import atomic_path

#: ``w_M/r`` of Figs. 3-5 (not given in the paper; our choice)
W_M_OVER_R = (0.01, 0.05, 0.2)
#: ``w_m/r`` of Figs. 3-5 (the paper's text writes ``tau_mL/r = 0.05``)
W_m_OVER_R = 0.05
#: ``xi`` of Fig. 5 (not given in the paper; that of Fig. 4)
XI_FIG5 = 0.09
_COLORS = ("tab:blue", "tab:orange", "tab:green")
_K2 = np.linspace(0.0, 4.0, 401)
_OMEGA = np.logspace(-3.0, 3.0, 601)


@dataclass(frozen=True)
class Curve:
    """One plotted line: dimensionless ``x``, ``y`` (float arrays, same shape) and its style."""

    x: np.ndarray
    y: np.ndarray
    label: str | None
    color: str
    linestyle: str = "-"


@dataclass(frozen=True)
class Panel:
    """One figure: file name, title, axis labels and scales, and its curves."""

    filename: str
    title: str
    xlabel: str
    ylabel: str
    curves: tuple[Curve, ...]
    xscale: str = "linear"
    yscale: str = "linear"
    legend_loc: str = "best"
    legend_anchor: tuple[float, float] | None = None


def _rate_curves(xi: float, label: str, color: str, w_M: float = 0.0,
                 w_m: float = 0.0) -> tuple[Curve, Curve]:
    """``gamma+/r`` (solid, labelled) and ``gamma-/r`` (dashed) vs ``(k/k_M)^2``, eq. (39)."""
    gp, gm = analytic.gamma_pm(_K2, D_m=1.0, r=1.0, xi=xi, w_M=w_M, w_m=w_m)
    return (Curve(_K2, np.real(gp), label, color, "-"),
            Curve(_K2, np.real(gm), None, color, "--"))


def _style_keys(solid: str, dashed: str) -> tuple[Curve, Curve]:
    """Empty black curves that only put the meaning of the line styles in the legend."""
    empty = np.empty(0)
    return Curve(empty, empty, solid, "k", "-"), Curve(empty, empty, dashed, "k", "--")


def figure_data() -> list[Panel]:
    """The curves of Figs. 2-5, in units of ``r`` and ``k_M``.

    Returns
    -------
    list of Panel
        Figs. 2, 3, 4, 5 in order.  Figs. 2-4: ``x = (k/k_M)^2``,
        ``y = gamma/r`` (``gamma+`` solid, ``gamma-`` dashed).  Fig. 5:
        ``x = omega/r``, ``y = Re k/k_M`` (solid) and ``Im k/k_M`` (dashed).
    """
    rates_x, rates_y = r"$(k/k_M)^2$", r"$\gamma/r$"
    fig2 = [c for xi, col in zip((0.1, 0.3, 0.9), _COLORS)
            for c in _rate_curves(xi, rf"$\xi = {xi}$", col)]
    panels = [Panel("fig2_rates_no_lattice.png",
                    "Fig. 2: eigenrates without lattice decay ($w_M = w_m = 0$)",
                    rates_x, rates_y, (*fig2, *_style_keys(r"$\gamma^+$", r"$\gamma^-$")))]
    for number, xi in ((3, 0.01), (4, 0.09)):
        curves = [c for w_M, col in zip(W_M_OVER_R, _COLORS)
                  for c in _rate_curves(xi, rf"$w_M/r = {w_M}$", col, w_M, W_m_OVER_R)]
        panels.append(Panel(
            f"fig{number}_rates_lattice_xi{xi}.png",
            f"Fig. {number}: $\\xi = {xi}$, $w_m/r = {W_m_OVER_R}$\n"
            "($w_M/r$ values chosen here: not given in the paper)",
            rates_x, rates_y,
            (*curves, *_style_keys(r"$\gamma^+$ (the three coincide)", r"$\gamma^-$")),
            yscale="log", legend_loc="lower right", legend_anchor=(1.0, 0.58)))
    fig5 = []
    for w_M, col in zip(W_M_OVER_R, _COLORS):
        k2 = analytic.k_squared(_OMEGA, D_m=1.0, r=1.0, xi=XI_FIG5, w_M=w_M, w_m=W_m_OVER_R)
        k = analytic.k_from_q(analytic.q_from_k2(k2))
        fig5 += [Curve(_OMEGA, k.real, rf"$w_M/r = {w_M}$", col, "-"),
                 Curve(_OMEGA, k.imag, None, col, "--")]
    panels.append(Panel(
        "fig5_wavevector.png",
        f"Fig. 5: wavevector, $\\xi = {XI_FIG5}$, $w_m/r = {W_m_OVER_R}$\n"
        r"($\xi$ and $w_M/r$ chosen here; $e^{-i\omega t}$, Im $k > 0$)",
        r"$\omega/r$", r"$k/k_M$",
        (*fig5, *_style_keys(r"Re $k$", r"Im $k$")), xscale="log", yscale="log"))
    return panels


def _draw(panel: Panel):
    """A matplotlib ``Figure`` (Agg canvas, no pyplot state) showing ``panel``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for c in panel.curves:
        ax.plot(c.x, c.y, color=c.color, linestyle=c.linestyle, label=c.label, lw=1.6)
    ax.set(xscale=panel.xscale, yscale=panel.yscale, xlabel=panel.xlabel,
           ylabel=panel.ylabel, title=panel.title)
    if panel.xscale == "linear":
        ax.set_xlim(panel.curves[0].x[0], panel.curves[0].x[-1])
    if panel.yscale == "linear":
        ax.set_ylim(bottom=0.0)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc=panel.legend_loc, bbox_to_anchor=panel.legend_anchor, fontsize="small",
              ncols=2)
    return fig


def make_figures(out_dir: str | os.PathLike) -> list[pathlib.Path]:
    """Draw Figs. 2-5 as PNG files in ``out_dir`` (created if missing).

    Each file is written to a temporary file in ``out_dir`` and moved into
    place with :func:`os.replace`, so a reader never sees a partial image.

    Parameters
    ----------
    out_dir : str or path-like
        Folder for ``fig2_rates_no_lattice.png``, ``fig3_rates_lattice_xi0.01.png``,
        ``fig4_rates_lattice_xi0.09.png`` and ``fig5_wavevector.png``.

    Returns
    -------
    list of pathlib.Path
        The written files, in figure order.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for panel in figure_data():
        target = out / panel.filename
        with atomic_path(target) as tmp, tmp.open("wb") as fh:
            _draw(panel).savefig(fh, format="png")
        paths.append(target)
    return paths
