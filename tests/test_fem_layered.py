"""F/N and F/N/F stacks with transparent interfaces against the exact layered bar.

Oracle: fem.core.analytic.LayeredBar (each layer ``A exp(-q s) + B exp(-q(d - s))``,
injection flux, continuity of mu and sigma mu' at the interfaces, far-end
condition).  Meshes are uniform along x with nodes on every interface, refined
together across y and z (aspect ratio fixed) so the P1 rates are measured.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CU, PY_LATTICE, exact_bar, stack

import fem
from fem.discretize.mesh import stack_mesh
from fem.solvers.verify import error_norms, fitted_rate

H_NM = (4.0, 2.0, 1.0)
STACKS = {
    "F/N": [("Py", 20.0), ("Cu", 300.0)],
    "F/N/F": [("Py", 20.0), ("Cu", 100.0), ("Py", 20.0)],
}
MATERIALS = {"Py": PY_LATTICE, "Cu": CU}


@pytest.mark.parametrize("far_end", ["insulating", "ground"])
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("f_Hz", [1e9, 1e12])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_layered_stack(name, f_Hz, dim, far_end, record_rates):
    width = 8.0  # nm: the transverse size, so that n_transverse = width / h keeps cubes
    device = stack(STACKS[name], MATERIALS, dimension=dim, far_end=far_end, f_Hz=[f_Hz],
                   width_nm=width, height_nm=width)
    exact = exact_bar(device, f_Hz)
    l2, h1 = [], []
    for h in H_NM:
        dmesh = stack_mesh(device, [f_Hz], h_x_m=h * 1e-9, n_transverse=round(width / h))
        res = fem.prepare(device, [f_Hz], dmesh=dmesh).solve(f_Hz)
        e = error_norms(res, exact.mu, exact.dmu_dx)
        l2.append(e[0])
        h1.append(e[1])
    r2, r1 = fitted_rate(H_NM, l2), fitted_rate(H_NM, h1)
    assert abs(r2 - 2) < 0.15, f"L2 rate {r2:.3f}, errors {l2}"
    assert abs(r1 - 1) < 0.1, f"H1 rate {r1:.3f}, errors {h1}"
    record_rates(case=name, dim=dim, far_end=far_end, f_Hz=f_Hz, l2_rate=r2, h1_rate=r1,
                 l2_error=l2[-1])
    # dM is discontinuous: in Cu it vanishes, in Py it is mu times the exact ratio.
    L = device.layer_edges_m()[-1]
    x = np.array([5e-9, 15e-9, 60e-9, L - 10e-9])
    pts = np.column_stack([x] + [np.full(4, 4e-9)] * (dim - 1))
    s = res.sample(pts)
    py = device.material("Py")
    expected = np.where(s.region == "Cu_1", 0.0, py.mu_ratios(2 * np.pi * f_Hz)[1] * s.mu)
    assert np.allclose(s.dM, expected, rtol=1e-12, atol=0)
    # h = 1 nm resolves |q| h <= 0.05 in Py at 1 THz: relative error ~ (|q|h)^2/12 < 1e-3
    assert np.max(np.abs(s.mu - exact.mu(x))) < 1e-3 * np.max(np.abs(exact.mu(x)))


def _twin(device, length_m: float, rate: float):
    """The same device in units of length_m and rate: lengths / length_m, times * rate."""
    changes = {}
    for i, lay in enumerate(device.layers):
        changes[f"layers.{i}.thickness_nm"] = lay.thickness_nm * 1e-9 / length_m * 1e9
    changes["device.width_nm"] = device.device.width_nm * 1e-9 / length_m * 1e9
    changes["device.height_nm"] = device.device.height_nm * 1e-9 / length_m * 1e9
    for name, spec in device.materials.items():
        changes[f"materials.{name}.D_m_m2_per_s"] = spec.D_m_m2_per_s / (length_m**2 * rate)
        for key in ("tau_mM_s", "tau_ML_s", "tau_mL_s"):
            if hasattr(spec, key) and getattr(spec, key) is not None:
                changes[f"materials.{name}.{key}"] = getattr(spec, key) * rate
    f = device.f_Hz()
    changes["frequencies.f_Hz"] = list(f / rate)
    return device.with_params(**changes)


@pytest.mark.parametrize("f_Hz", [1e9, 1e12])
def test_si_device_as_accurate_as_scaled_twin(f_Hz):
    """The Py/Cu bar in SI (nm, THz) and its twin in units of 1/k_M and 1/r of Py
    reach the same relative error against their own exact solutions."""
    device = stack([("Py", 20.0), ("Cu", 300.0)], MATERIALS, dimension=3, far_end="ground",
                   f_Hz=[f_Hz], width_nm=100.0, height_nm=40.0)
    py = device.material("Py")
    twin = _twin(device, 1.0 / py.k_M, py.r)
    assert np.isclose(twin.material("Py").k_M, 1.0) and np.isclose(twin.material("Py").r, 1.0)
    errors = []
    for dev in (device, twin):
        f = float(dev.f_Hz()[0])
        res = fem.solve(dev, f)
        exact = exact_bar(dev, f)
        errors.append(error_norms(res, exact.mu, exact.dmu_dx))
    # the default mesh resolves 1/|q| with 10 elements: ~1e-3 relative L2 error
    assert errors[0][0] < 2e-3 and errors[1][0] < 2e-3, errors
    # Both assemble the same scaled system up to the rounding of the unit
    # conversions (1e-16) times the condition number (< 1e8 here): 1e-6 bounds it.
    assert np.allclose(errors[0], errors[1], rtol=1e-6, atol=0), errors
