"""Nonlocal spin valves in the thin-channel limit against 1D models.

Oracles (fem.core.analytic): an infinite channel with a point injection,
``mu_det = I_in exp(-q L) / (2 sigma q A_ch)``, and the 1D network model
``nlsv_network`` (channel a line with semi-infinite ends, each electrode a
vertical segment joined at one node, G_s junctions).  Every length of the
cross-section (channel thickness and width, electrode width, length and
thickness) shrinks with ``t`` while the spacing (1 um) and the spin-diffusion
length (1 um in N at low f) stay: the FEM detector mean must approach the 1D
result, the difference falling as a power of ``t``.  Channel ends are leads.
"""

from __future__ import annotations

import numpy as np
import pytest

import fem
from fem.core import analytic
from fem.solvers.verify import fitted_rate

N = {"kind": "normal_metal", "chi_m": 0.05, "D_m_m2_per_s": 1e-2, "tau_mL_s": 1e-10}
PY = {"kind": "ferromagnet", "chi_M": 1.0, "chi_m": 0.3, "D_m_m2_per_s": 2.5e-3,
      "tau_mM_s": 1e-13, "tau_ML_s": 1e-9, "tau_mL_s": 5e-12}
SPACING = 1000.0  # nm
THICKNESS = (80.0, 40.0, 20.0)  # nm


def nlsv(dim, t, f_Hz, electrode, G_s=None):
    data = {
        "device": {"name": "thin_nlsv", "geometry": "nonlocal_spin_valve", "dimension": dim},
        "materials": {"N": N, "Py": PY},
        "channel": {"material": "N", "length_nm": 3 * SPACING, "width_nm": t, "thickness_nm": t},
        "electrodes": {"material": electrode, "width_nm": t, "length_nm": t,
                       "thickness_nm": t / 2, "spacing_nm": SPACING},
        "contacts": {"inj": {"at": "injector_top", "kind": "injection", "j_in_A_per_s": [1.0, 0.0]},
                     "det": {"at": "detector_top", "kind": "detector"},
                     "left": {"at": "channel_x_min", "kind": "lead"},
                     "right": {"at": "channel_x_max", "kind": "lead"}},
        "frequencies": {"f_Hz": [f_Hz]},
    }
    if G_s is not None:
        data["interfaces"] = [{"between": ["Py", "N"], "G_s_m_per_s": G_s}]
    return fem.validate_device(data)


def area(dim, a_nm, b_nm):
    """A cross-section [m^2]; per unit depth (y) in 2D."""
    return a_nm * 1e-9 * (b_nm * 1e-9 if dim == 3 else 1.0)


def network(dev, res, dim, t):
    """The 1D network model of this device (electrodes of N or Py)."""
    w = res.omega
    n, e = dev.material("N"), dev.material(dev.electrodes.material)
    G = dev.interfaces[0].G_s_m_per_s if dev.interfaces else np.inf
    return analytic.nlsv_network(
        sigma_N=n.sigma, q_N=n.q(w), A_N=area(dim, t, t), sigma_F=e.sigma, q_F=e.q(w),
        A_F=area(dim, t, t), t_F=t / 2 * 1e-9, L=SPACING * 1e-9, I_in=res.injected_current(),
        G_s=G)


def detector_errors(dim, f_Hz, electrode, G_s, tmp_path, oracle):
    errs = []
    for t in THICKNESS:
        dev = nlsv(dim, t, f_Hz, electrode, G_s)
        res = fem.prepare(dev, mesh_dir=tmp_path).solve(f_Hz)
        ref = oracle(dev, res, dim, t)
        errs.append(abs(res.contact_mean("det") / ref - 1))
        # Z is the detector mean per injected current (s/m^3; s/m^2 per depth in 2D)
        assert res.transfer("det") == pytest.approx(res.contact_mean("det") /
                                                    res.injected_current(), rel=1e-14)
    return errs


def point_injection(dev, res, dim, t):
    n = dev.material("N")
    return analytic.channel_point_injection(SPACING * 1e-9, I_in=res.injected_current(),
                                            sigma=n.sigma, q=n.q(res.omega), area=area(dim, t, t))


# 1D spin diffusion length of N: 1 um at low f; 1e11 Hz shortens the decay to ~270 nm
@pytest.mark.parametrize("dim,f_Hz", [(2, 1e8), (2, 1e10), (2, 1e11), (3, 1e10)])
def test_thin_normal_channel_approaches_point_injection(dim, f_Hz, tmp_path):
    """Injection and detection patches are the tops of thin bumps of channel metal.
    Against the point-injection channel the difference is first order in t (the
    bumps' own spin relaxation, -2g in the network model's expansion); against the
    network model, which includes the bumps, it falls faster (finite contact size
    and thickness, O((q t)^2))."""
    e_point = detector_errors(dim, f_Hz, "N", None, tmp_path, point_injection)
    e_net = detector_errors(dim, f_Hz, "N", None, tmp_path, network)
    h = np.array(THICKNESS)
    assert all(np.diff(e_point) < 0) and all(np.diff(e_net) < 0), (e_point, e_net)
    assert abs(fitted_rate(h, e_point) - 1) < 0.1, e_point
    assert fitted_rate(h, e_net) > 1.5, e_net
    # t = 20 nm: q t <= 0.08 even at 1e11 Hz; the bump term 2g ~ 0.01 - 0.08
    assert e_point[-1] < 0.1 and e_net[-1] < 0.02, (e_point, e_net)


@pytest.mark.parametrize("G_s", [None, 1e3])
@pytest.mark.parametrize("dim,f_Hz", [(2, 1e8), (2, 1e10), (2, 1e11), (3, 1e10)])
def test_thin_py_pillars_approach_network_model(dim, f_Hz, G_s, tmp_path):
    """Py pillar electrodes (electrode length = channel width), transparent or with
    G_s = 1e3 m/s (comparable to the channel's 2 sigma q A_N / A_c): the detector
    mean approaches the 1D network model as everything thins."""
    errs = detector_errors(dim, f_Hz, "Py", G_s, tmp_path, network)
    assert all(np.diff(errs) < 0), errs
    assert fitted_rate(np.array(THICKNESS), errs) > 1.3, errs
    assert errs[-1] < 0.02, errs


@pytest.mark.parametrize("dim", [2, 3])
def test_nlsv_names_survive_into_skfem(dim, tmp_path):
    from fem.discretize.meshing import device_mesh
    from fem.model.device import NLSV_FACES

    dev = nlsv(dim, 40.0, 1e9, "Py")
    dm = device_mesh(dev, [1e9], tmp_path)
    assert set(dm.mesh.subdomains) == {"channel", "injector", "detector"}
    assert set(NLSV_FACES) <= set(dm.mesh.boundaries)
    assert (tmp_path / "thin_nlsv.msh").exists()
    top = dm.nodes_m()[dm.mesh.facets[:, dm.mesh.boundaries["detector_top"]].ravel()]
    assert np.allclose(top[:, -1], 60e-9)  # channel 40 nm + electrode 20 nm
    assert np.all(top[:, 0] > 0)  # the detector sits at x = +spacing/2
