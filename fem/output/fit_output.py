"""A fit's files: ``fit.json`` (values, errors, correlations, chi^2, warnings),
``fit.csv`` (data, model and residual per row) and ``fit.png`` (data against fit),
each written atomically."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..core.atomic import write_text
from ..core.version import __version__
from ..solvers.result import transfer_unit
from ..studies.fitting import FitResult
from .export import write_csv
from .plot import _pyplot, _save


def write_fit(result: FitResult, out_dir: str | Path) -> list[Path]:
    """``fit.json``, ``fit.csv`` and ``fit.png`` in ``out_dir`` (e.g.
    ``results/<device>/fit``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.to_dict()
    summary["Z_unit"] = transfer_unit(result.device.dimension)[0]
    summary["device_sha256"] = result.device.source_sha256()
    summary["spinfem_version"] = __version__
    summary["written_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    files = [write_text(out / "fit.json", json.dumps(summary, indent=2) + "\n")]
    files.append(_write_rows(result, out / "fit.csv"))
    files.append(fit_plot(result, out / "fit.png"))
    return files


def _write_rows(result: FitResult, path: Path) -> Path:
    d = result.data
    unit = transfer_unit(result.device.dimension)[1]
    header, cols = [], []
    if d.geometry_key is not None:
        header.append(d.geometry_key)
        cols.append(d.geometry)
    if d.f_Hz is not None:
        header.append("f_Hz")
        cols.append(d.f_Hz)
    if d.magnitude:
        err = d.err[0] if d.err is not None else np.full(d.n_points, np.nan)
        header += [f"Z_abs_{unit}", f"Z_abs_err_{unit}", f"model_abs_{unit}"]
        cols += [d.Z, err, result.model]
    else:
        e_re, e_im = d.err if d.err is not None else (np.full(d.n_points, np.nan),) * 2
        header += [f"Z_re_{unit}", f"Z_im_{unit}", f"Z_re_err_{unit}", f"Z_im_err_{unit}",
                   f"model_re_{unit}", f"model_im_{unit}"]
        cols += [d.Z.real, d.Z.imag, e_re, e_im, result.model.real, result.model.imag]
    return write_csv(path, header, zip(*cols))


def _value_text(result: FitResult) -> str:
    lines = []
    for p, v, se in result.table():
        err = "undetermined" if not math.isfinite(se) else f"{se:.2g} ({100 * se / v:.1f}%)"
        lines.append(f"{p} = {v:.4g} ± {err}")
    if result.model_error:
        lines.append(f"model error {100 * result.model_error:.3g}% of |Z| added to the data's")
    if result.mesh_correction is not None:
        worst = 100 * float(np.abs(result.mesh_correction).max())
        lines.append(f"model corrected for the mesh's error (up to {worst:.2g}%)")
    chi = result.chi2_per_dof
    lines.append(r"$\chi^2$/dof = " + (f"{chi:.2f}" if math.isfinite(chi) else
                                      "n/a (no errors in the data)"))
    return "\n".join(lines)


def fit_plot(result: FitResult, path: str | Path) -> Path:
    """Data (with one-sigma error bars) against the fitted model: a Bode plot for
    ``Z(f)``, ``|Z|`` against the key for geometry data; the fitted values in a box."""
    plt = _pyplot()
    d = result.data
    unit = transfer_unit(result.device.dimension)[0].replace("^3", "$^3$").replace("^2",
                                                                                  "$^2$")
    complex_data = not d.magnitude
    fig, axes = plt.subplots(2 if complex_data else 1, 1, figsize=(7, 6 if complex_data else 4),
                             sharex=True, squeeze=False)
    ax1 = axes[0, 0]
    x = d.geometry if d.geometry_key is not None else d.f_Hz
    order = np.argsort(x)
    mag = np.abs(d.Z)
    if d.err is None:
        mag_err = None
    elif d.magnitude:
        mag_err = d.err[0]
    else:  # first-order propagation of the Re/Im errors onto |Z| and the phase
        mag_err = np.hypot(d.Z.real * d.err[0], d.Z.imag * d.err[1]) / mag
    log_x = d.geometry_key is None
    ax1.errorbar(x, mag, yerr=mag_err, fmt="o", ms=4, color="k", capsize=2, label="data")
    if result.curve_f_Hz is not None:
        ax1.plot(result.curve_f_Hz, np.abs(result.curve_Z), "-", color="tab:red", label="fit")
    else:
        ax1.plot(x[order], np.abs(result.model)[order], "-", color="tab:red", label="fit")
    ax1.set_yscale("log")
    if log_x:
        ax1.set_xscale("log")
    ax1.set_ylabel(f"|Z({result.contact})| [{unit}]")
    ax1.legend(loc="best", fontsize=8)
    if complex_data:
        ax2 = axes[1, 0]
        phase_err = None if d.err is None else \
            np.hypot(d.Z.imag * d.err[0], d.Z.real * d.err[1]) / mag ** 2
        if result.curve_f_Hz is not None:
            cx, cz = result.curve_f_Hz, result.curve_Z
        else:
            cx, cz = x[order], result.model[order]
        curve_phase = np.unwrap(np.angle(cz))
        # each data phase on the branch nearest the (unwrapped) fitted curve
        near = np.interp(np.log(x) if log_x else x, np.log(cx) if log_x else cx, curve_phase)
        phase = np.angle(d.Z) + 2 * np.pi * np.round((near - np.angle(d.Z)) / (2 * np.pi))
        ax2.errorbar(x, phase, yerr=phase_err, fmt="o", ms=4, color="k", capsize=2)
        ax2.plot(cx, curve_phase, "-", color="tab:red")
        ax2.set_ylabel("phase of Z [rad]")
        if log_x:
            ax2.set_xscale("log")
    axes[-1, 0].set_xlabel(f"{d.geometry_key}" if d.geometry_key else "f [Hz]")
    for ax in axes[:, 0]:
        ax.grid(True, which="both", alpha=0.3)
    what = "|Z|" if d.magnitude else "Z"
    ax1.set_title(f"{result.device.name}: fit of {what}({result.contact}) to "
                  f"{Path(d.source).name}", fontsize=10)
    fig.tight_layout()
    text = _value_text(result)
    n = text.count("\n") + 1
    height = fig.get_figheight()
    fig.set_figheight(height + 0.2 * n + 0.2)
    fig.subplots_adjust(bottom=(0.2 * n + 0.2 + 0.5) / fig.get_figheight(),
                        top=1 - 0.4 / fig.get_figheight())
    fig.text(0.5, 0.01, text, ha="center", va="bottom", fontsize=8.5,
             bbox=dict(boxstyle="round", fc="white", ec="0.7"))
    return _save(fig, Path(path))
