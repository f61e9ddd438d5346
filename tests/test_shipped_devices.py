"""Every device in devices/ solves, each against an exact property (examples are tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import exact_bar

import fem
from fem.core import analytic

DEVICES = Path(__file__).parents[1] / "devices"


def shipped(geometry):
    return [p for p in sorted(DEVICES.glob("*.toml")) if fem.load_device(p).geometry == geometry]


@pytest.mark.parametrize("path", shipped("stack"), ids=lambda p: p.name)
def test_stacks_solve_to_the_exact_solution(path):
    """Each shipped stack, reduced to 1D and its first, middle and last frequency,
    on its default mesh (10 elements per 1/|q|: nodal error ~ (|q| h)^2/12 < 1e-3)."""
    dev = fem.load_device(path)
    f = dev.f_Hz()[[0, len(dev.f_Hz()) // 2, -1]]
    dev = dev.with_params(**{"device.dimension": 1, "frequencies.f_Hz": list(f)})
    L = dev.layer_edges_m()[-1]
    x = np.linspace(0, L, 33)
    for res in fem.sweep(dev):
        exact = exact_bar(dev, res.f_Hz).mu(x)
        err = np.max(np.abs(res.sample(x[:, None]).mu - exact)) / np.max(np.abs(exact))
        assert err < 2e-3, (res.f_Hz, err)


@pytest.mark.parametrize("path", shipped("pillar"), ids=lambda p: p.name)
def test_pillars_are_exactly_one_dimensional(path, tmp_path):
    """Junction injections uniform over each junction, grounded bottom and top,
    insulating sides: the pillar's field is the 1D layered bar along z (sources on both
    sides of each spin-resistive junction, LayeredBar(sources=...)) whatever the
    cross-section (ellipse here)."""
    dev = fem.load_device(path)
    f = float(dev.f_Hz()[0])
    dev = dev.with_params(**{"device.mesh_refine": 2.0, "frequencies.f_Hz": [f]})
    res = fem.prepare(dev, mesh_dir=tmp_path).solve(f)
    omega = 2 * np.pi * f
    layers = [(lay.thickness_nm * 1e-9, dev.material(lay.material).sigma,
               dev.material(lay.material).q(omega)) for lay in dev.layers]
    names = dev.layer_names()
    G = {frozenset(i.between): i.G_s_m_per_s for i in dev.interfaces}
    G_s = [G.get(frozenset((dev.layers[k].material, dev.layers[k + 1].material)), np.inf)
           for k in range(len(layers) - 1)]
    sources = {}
    for c in dev.contacts.values():
        if c.junction is None:
            assert c.kind == "ground" and c.at in ("bottom", "top")
            continue
        k_f, k_n = names.index(c.junction[0]), names.index(c.junction[1])
        k = min(k_f, k_n)  # the interface between layers k and k + 1
        r = c.share_N if np.isfinite(G_s[k]) else 0.0
        f_side, n_side = (1 - r) * c.j_in, r * c.j_in
        sources[k] = (f_side, n_side) if k_f < k_n else (n_side, f_side)
    bar = analytic.LayeredBar(layers, 0.0, far_end="ground", G_s=G_s, sources=sources,
                              near_end="ground")
    H = dev.layer_edges_m()[-1]
    z = np.linspace(0.5e-9, H - 0.5e-9, 40)  # 1 nm apart, off the junctions (mu jumps)
    for xy in ([0.0, 0.0], [20e-9, 10e-9]):
        pts = np.column_stack([np.full((z.size, 2), xy), z])
        err = np.max(np.abs(res.sample(pts).mu - bar.mu(z))) / np.max(np.abs(bar.mu(z)))
        # graded along z (extruded cross-section), twice as fine as the default: |q| h
        # ~ 0.06 at the interfaces and contact faces, growing into the layers where mu
        # is smaller: nodal errors ~ (|q| h)^2/12 ~ 3e-4 there, ~1e-3 overall
        assert err < 3e-3, err
    # antiparallel: the spin accumulates in the spacer, well above what either layer holds
    spacer = (dev.layer_edges_m()[1] + dev.layer_edges_m()[2]) / 2
    assert abs(bar.mu(np.array([spacer]))[0]) > 0.5 * np.max(np.abs(bar.mu(z)))


@pytest.mark.parametrize("path", shipped("nonlocal_spin_valve") + shipped("mesh"),
                         ids=lambda p: p.name)
def test_reciprocity_of_detector_and_injector(path, tmp_path):
    """Onsager reciprocity: A(omega) is complex symmetric, so swapping the injection and
    detection contacts leaves Z = <mu>_det / I_in unchanged (to rounding)."""
    dev = fem.load_device(path)
    f = float(dev.f_Hz()[len(dev.f_Hz()) // 2])
    coarse = {"frequencies.f_Hz": [f]}
    if dev.dimension == 3:
        coarse.update({"device.mesh_size_nm": 12.0, "device.mesh_refine": 1.0})
    dev = dev.with_params(**coarse)
    inj = next(n for n, c in dev.contacts.items() if c.kind == "injection")
    det = next(n for n, c in dev.contacts.items() if c.kind == "detector")
    def spec(name, **change):  # the contact as it is (place, junction weights), changed
        out = dev.contacts[name].model_dump(exclude_none=True)
        out.pop("j_in_A_per_s", None)
        return {**out, **change}

    swapped = dev.with_params(**{
        f"contacts.{inj}": spec(inj, kind="detector"),
        f"contacts.{det}": spec(det, kind="injection", j_in_A_per_s=[0.3, -1.2])})
    z1 = fem.prepare(dev, mesh_dir=tmp_path).solve(f).transfer(det)
    z2 = fem.prepare(swapped, mesh_dir=tmp_path).solve(f).transfer(inj)
    assert np.isfinite(z1) and abs(z1) > 0
    assert abs(z2 / z1 - 1) < 1e-9, (z1, z2)
