"""fem.output.figures: the PNGs are written, and the plotted curves obey the paper's limits.

Oracles: eq. (37) (``gamma+ -> r``, ``gamma- -> xi D_m k^2`` as ``k -> 0``), the
``k -> infinity`` slow rate ``w_M + xi (r - w_M)``, and eq. (43)
(``k^2/k_M^2 -> i omega/r`` for ``omega >> r``), all in units ``r = k_M = 1``.
"""

from __future__ import annotations

import numpy as np
import pytest

from fem.output import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ["fig2_rates_no_lattice.png", "fig3_rates_lattice_xi0.01.png",
         "fig4_rates_lattice_xi0.09.png", "fig5_wavevector.png"]


def test_make_figures_writes_four_pngs(tmp_path):
    paths = figures.make_figures(tmp_path / "figs")
    assert [p.name for p in paths] == NAMES
    for p in paths:
        assert p.stat().st_size > 10_000, p  # a real picture, not an empty canvas
        assert p.read_bytes()[:8] == PNG_MAGIC
    assert sorted(q.name for q in (tmp_path / "figs").iterdir()) == sorted(NAMES)  # no temp left


@pytest.fixture(scope="module")
def panels():
    return {p.filename: p for p in figures.figure_data()}


def test_fig2_long_wavelength_limit(panels):
    """Eq. (37): at small (k/k_M)^2 = K, gamma+/r = 1 + O(K) and gamma-/r = xi K (1 + O(K))."""
    curves = panels[NAMES[0]].curves
    plotted = [c for c in curves if c.x.size]
    assert len(plotted) == 6  # gamma+ and gamma- for three xi
    for xi, (plus, minus) in zip((0.1, 0.3, 0.9), zip(plotted[::2], plotted[1::2])):
        K = plus.x[1]  # first non-zero grid point, 0.01
        assert plus.x[0] == 0 and plus.y[0] == pytest.approx(1.0, abs=1e-15)
        assert minus.y[0] == pytest.approx(0.0, abs=1e-15)
        # the O(K) corrections are (1 - xi) K <= 1% of the value: rtol 2 K
        assert plus.y[1] == pytest.approx(1.0, rel=2 * K)
        assert minus.y[1] == pytest.approx(xi * K, rel=2 * K)
        assert np.all(plus.y >= minus.y)


def test_fig3_slow_rate_approaches_its_short_wavelength_limit(panels):
    """gamma-/r -> w_M/r + xi (1 - w_M/r) from below as k grows (xi = 0.01, w_m/r = 0.05)."""
    minus = [c for c in panels[NAMES[1]].curves if c.linestyle == "--" and c.x.size]
    for w_M, c in zip(figures.W_M_OVER_R, minus):
        limit = w_M + 0.01 * (1 - w_M)
        assert np.all(np.diff(c.y) > 0) and c.y[-1] < limit
        # at (k/k_M)^2 = 4 the remaining gap is O(k_M^2/k^2) of the rate: within 25%
        assert c.y[-1] == pytest.approx(limit, rel=0.25)


def test_fig5_high_frequency_limit(panels):
    """Eq. (43): omega >> r gives k/k_M -> sqrt(i omega/r), so Re k = Im k = sqrt(omega/2r)."""
    curves = [c for c in panels[NAMES[3]].curves if c.x.size]
    assert len(curves) == 6
    for c in curves:
        omega, k = c.x[-1], c.y[-1]
        assert omega == pytest.approx(1e3)
        # relative corrections O(r/omega) + O(w/omega) ~ 1e-3 at omega = 1e3 r: rtol 3e-3
        assert k == pytest.approx(np.sqrt(omega / 2), rel=3e-3)
        assert np.all(c.y > 0)  # Im k > 0 (decay) and Re k > 0 (outgoing phase)
