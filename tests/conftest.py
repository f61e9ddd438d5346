"""Shared builders of small devices for the tests."""

from __future__ import annotations

import numpy as np
import pytest

import fem

PY = dict(kind="ferromagnet", chi_M=1.0, chi_m=0.3, D_m_m2_per_s=2.5e-3, tau_mM_s=1.0e-13)
PY_LATTICE = dict(PY, tau_ML_s=1.0e-9, tau_mL_s=5.0e-12)
CU = dict(kind="normal_metal", chi_m=0.05, D_m_m2_per_s=1.0e-2, tau_mL_s=1.0e-11)


def stack(layers, materials, *, dimension=1, far_end="insulating", f_Hz=(1e9,), j_in=(1.0, 0.0),
          width_nm=50.0, height_nm=30.0, name="test_stack"):
    """A validated stack device; ``layers`` is [(material, thickness_nm), ...]."""
    contacts = {"injector": {"at": "x_min", "kind": "injection", "j_in_A_per_s": list(j_in)}}
    if far_end != "insulating":
        contacts["end"] = {"at": "x_max", "kind": far_end}
    dev = {"name": name, "geometry": "stack", "dimension": dimension}
    if dimension >= 2:
        dev["width_nm"] = width_nm
    if dimension == 3:
        dev["height_nm"] = height_nm
    return fem.validate_device({
        "device": dev,
        "materials": materials,
        "layers": [{"material": m, "thickness_nm": t} for m, t in layers],
        "contacts": contacts,
        "frequencies": {"f_Hz": list(f_Hz)},
    })


def exact_bar(device, f_Hz, G_s=None):
    """The exact layered-bar solution of a stack device (fem.core.analytic.LayeredBar)."""
    from fem.core import analytic

    omega = 2 * np.pi * f_Hz
    layers = []
    for lay in device.layers:
        mat = device.material(lay.material)
        layers.append((lay.thickness_nm * 1e-9, mat.sigma, mat.q(omega)))
    ends = {c.kind for c in device.contacts.values()} - {"injection"}
    far = "ground" if "ground" in ends else "lead" if "lead" in ends else "insulating"
    j_in = device.contacts["injector"].j_in
    return analytic.LayeredBar(layers, j_in, far_end=far, G_s=G_s)


def spinfem(*args, cwd=None):
    """Run the ``spinfem`` command line in a fresh interpreter."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "fem.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def assert_bad_input(proc, expected: str) -> None:
    """Exit code 2, one line on stderr naming ``expected``, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


_RATES: list[dict] = []


@pytest.fixture
def record_rates():
    """Record a measured convergence rate; with SPINFEM_RATES_OUT=path set, the
    session writes every recorded rate as a Markdown table there (the README's table)."""
    return lambda **row: _RATES.append(row)


def pytest_sessionfinish(session, exitstatus):
    import os

    out = os.environ.get("SPINFEM_RATES_OUT")
    if not out or not _RATES or exitstatus != 0:
        return
    from fem.output.export import write_text

    lines = ["| case | dim | far end | f [Hz] | L2 rate | H1 rate | L2 error (finest) |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(_RATES, key=lambda r: (r["case"], r["dim"], r["far_end"], r["f_Hz"])):
        lines.append(f"| {r['case']} | {r['dim']}D | {r['far_end']} | {r['f_Hz']:.0e} | "
                     f"{r['l2_rate']:.3f} | {r['h1_rate']:.3f} | {r['l2_error']:.2e} |")
    summary = ["| case | dim | runs | L2 rate (min - max) | H1 rate (min - max) |",
               "|---|---|---|---|---|"]
    groups: dict = {}
    for r in _RATES:
        groups.setdefault((r["case"].split(" ")[0] if r["case"].endswith("bar") else r["case"],
                           r["dim"]), []).append(r)
    for (case, dim), rows in sorted(groups.items()):
        l2 = [r["l2_rate"] for r in rows]
        h1 = [r["h1_rate"] for r in rows if r["h1_rate"] == r["h1_rate"]]
        h1_text = f"{min(h1):.3f} - {max(h1):.3f}" if h1 else "-"
        summary.append(f"| {case} | {dim}D | {len(rows)} | {min(l2):.3f} - {max(l2):.3f} | "
                       f"{h1_text} |")
    write_text(out, "## Summary\n\n" + "\n".join(summary) + "\n\n## Every case\n\n"
               + "\n".join(lines) + "\n")


@pytest.fixture
def py_material():
    return fem.Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13)
