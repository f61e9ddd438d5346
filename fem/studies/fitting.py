"""Fit device parameters to a measured transfer function ``Z``: bounded least squares
in log space with adjoint gradients.

>>> import fem
>>> result = fem.fit("devices/nlsv_py_cu_2d.toml", "data.csv",
...              ["materials.Cu.tau_mL_s", "interfaces.0.G_s_m_per_s"])  # doctest: +SKIP
>>> result.values, result.std_errors, result.chi2_per_dof  # doctest: +SKIP

The residuals are ``(model - data) / error`` for ``Re Z`` and ``Im Z`` (or ``|Z|``),
minimized by ``scipy.optimize.least_squares`` (trust-region reflective) over
``x = log p`` within bounds.  The Jacobian comes from :mod:`fem.solvers.sensitivity`: one
forward and one adjoint solve per frequency for material and interface keys, central
differences for geometry keys, on the mesh morphed to each geometry
(:func:`fem.discretize.meshing.morph_device_mesh`: nodes moved, no re-meshing noise;
a fresh mesh where a segment would stretch beyond 1.5x).  At the optimum, the covariance
of ``x`` is ``(J^T J)^-1`` from the singular values of ``J`` (scaled by the residual
variance when the data carry no errors); standard errors of ``p`` follow as
``p sqrt(cov_xx)``.  A direction of parameter space the data do not constrain (a
singular value below :data:`SINGULAR_RCOND` of the largest), a relative standard
error above :data:`POORLY_DETERMINED`, a correlation above :data:`CORRELATED`, or a
value stuck at a bound gives an :class:`IdentifiabilityWarning` naming the
parameters, and undetermined ones get an infinite standard error instead of a
confident number.

The mesh is built once for the starting values (per geometry value of the data) and
reused: new material and interface values rescale the assembled blocks, new geometry
values morph it.  If a fitted value changes a material's decay length by more than
:data:`REMESH_RATIO`, or the fitted geometry stretches the morphed mesh by more than
:data:`REMESH_STRETCH`, the fit is repeated once, from the fitted values, on a mesh
built for them.

The mesh's own error
--------------------
A fit is only as good as its model: on a mesh whose ``Z`` is 3% off, the fitted values
carry that bias however small the noise.  ``mesh_correction=True`` removes most of it.
The dual-weighted residual estimate of :mod:`fem.studies.adapt` gives, per data
frequency, ``eta = J(u_f) - J(u_h)``: the change of ``Z`` under one uniform refinement
(one more solve per frequency, on the refined mesh).  For the ``h^2`` convergence of
P1 the error left on the refined mesh is a quarter of the coarse one, so
``Z ~ Z_h (1 + delta)`` with ``delta = eta / ((1 - 1/4) J(u_h))``; the fitted model is
``Z_h(p) (1 + delta)``, ``delta`` held fixed while ``p`` moves (the relative mesh error
changes slowly with the parameters).  ``delta`` is computed at the starting values, and
once more at the fitted ones, where the fit is repeated.  What remains is the
estimator's own error: its effectivity, measured 0.87 - 1.00 on exact cases, leaves
about 15% of ``delta`` (give it as ``model_error`` if that matters against the noise).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import DeviceError
from ..core.units import spin_signal_ohm
from ..discretize.meshing import device_mesh, morph_device_mesh, morph_stretch
from ..model.device import Device, load_device
from ..model.fit_data import DataError, FitData, read_fit_data
from ..solvers.sensitivity import Parameter, TransferModel, parameter
from ..solvers.solve import prepare
from .adapt import SATURATION, estimate

#: singular values of the scaled Jacobian below this fraction of the largest: the
#: data do not determine that direction
SINGULAR_RCOND = 1e-8
#: relative standard error above which a parameter is reported as poorly determined
POORLY_DETERMINED = 0.5
#: |correlation| above which a pair is reported as determined only in combination
CORRELATED = 0.99
#: default bounds: the starting value divided and multiplied by this
DEFAULT_BOUND_FACTOR = 100.0
#: step in log p of the central differences of geometry keys (morphed meshes)
GEOMETRY_LOG_STEP = 1e-2
#: refit on a new mesh when a decay length moved by more than this factor
REMESH_RATIO = 1.5
#: refit on a new mesh when the fitted geometry stretched a segment of the morphed mesh
#: by more than this factor (elements 10% longer: P1's error of Z about 20% larger)
REMESH_STRETCH = 1.1


class IdentifiabilityWarning(UserWarning):
    """The data do not determine a fitted parameter (or only a combination of some)."""


@dataclass
class FitResult:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    params : list[str]
        The fitted key paths, in the order given.
    values, std_errors : dict[str, float]
        Fitted values and one-sigma standard errors, keyed by path, in the key's unit
        (SI, or nm for ``_nm`` keys); ``inf`` where the data do not determine it.
    initial : dict[str, float]
        Starting values (the device file's).
    bounds : dict[str, tuple[float, float]]
    correlation : ndarray, shape (n_params, n_params)
        Correlation matrix of the fitted parameters (``params`` order; NaN rows for
        undetermined ones).
    chi2_per_dof : float
        ``sum residual^2 / (n_residuals - n_params)``; NaN when the data carry no
        errors (then the errors are estimated from the scatter, see ``errors_given``).
    errors_given : bool
        Whether the data had error columns.
    model_error : float
        The model's relative uncertainty added to the data's errors.
    mesh_correction : ndarray or None
        Per data row, the estimated relative error ``delta`` of the mesh's ``Z`` the
        model was corrected by (``Z_h (1 + delta)``); None when not asked for.
    warnings : list[str]
        Identifiability problems, also issued as :class:`IdentifiabilityWarning`.
    data : FitData
    model : ndarray
        The fitted model at every data row (complex ``Z``, or ``|Z|``).
    contact : str
    device : Device
        The device with the fitted values.
    """

    params: list[str]
    values: dict[str, float]
    std_errors: dict[str, float]
    initial: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    correlation: np.ndarray
    chi2_per_dof: float
    success: bool
    message: str
    evaluations: int
    warnings: list[str]
    data: FitData
    model: np.ndarray
    contact: str
    device: Device
    singular_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meshes: int = 1
    model_error: float = 0.0
    #: the fitted model on a fine frequency grid spanning the data (frequency data)
    curve_f_Hz: np.ndarray | None = None
    curve_Z: np.ndarray | None = None
    #: per data row, the relative correction ``delta`` of the mesh's ``Z`` applied
    #: (``Z = Z_h (1 + delta)``), or None without ``mesh_correction``
    mesh_correction: np.ndarray | None = None

    @property
    def errors_given(self) -> bool:
        return self.data.err is not None

    @property
    def n_residuals(self) -> int:
        return self.data.n_residuals

    def relative_errors(self) -> dict[str, float]:
        return {p: self.std_errors[p] / abs(self.values[p]) for p in self.params}

    def to_dict(self) -> dict:
        """Everything as JSON-ready values."""
        def num(v):
            return None if not math.isfinite(v) else float(v)

        return {
            "device": self.device.name, "contact": self.contact,
            "data": self.data.source, "fitted": "|Z|" if self.data.magnitude else "Z",
            "geometry_key": self.data.geometry_key,
            "params": self.params,
            "values": {p: self.values[p] for p in self.params},
            "std_errors": {p: num(self.std_errors[p]) for p in self.params},
            "relative_errors": {p: num(v) for p, v in self.relative_errors().items()},
            "initial": self.initial, "bounds": {p: list(b) for p, b in self.bounds.items()},
            "correlation": [[num(v) for v in row] for row in self.correlation],
            "chi2_per_dof": num(self.chi2_per_dof), "errors_given": self.errors_given,
            "model_error": self.model_error,
            "mesh_correction_abs_max": (None if self.mesh_correction is None else
                                        float(np.abs(self.mesh_correction).max())),
            "n_points": self.data.n_points, "n_residuals": self.n_residuals,
            "singular_values": [float(s) for s in self.singular_values],
            "success": self.success, "message": self.message,
            "evaluations": self.evaluations, "meshes": self.meshes,
            "warnings": self.warnings,
        }

    def table(self) -> list[tuple[str, float, float]]:
        """``(path, value, std_error)`` rows."""
        return [(p, self.values[p], self.std_errors[p]) for p in self.params]


def _default_contact(device: Device) -> str:
    for kind in ("detector", "injection"):
        names = [n for n, c in device.contacts.items() if c.kind == kind]
        if len(names) == 1:
            return names[0]
        if names:
            raise DeviceError("contact", f"the device has several {kind} contacts {names}: "
                              "say which one the data measured")
    raise DeviceError("contact", "the device has no detector or injection contact")


def _parse_params(device: Device, params, bounds) -> tuple[list[Parameter], np.ndarray,
                                                            np.ndarray]:
    """The parameters and their lower and upper bounds (the key's unit)."""
    if isinstance(params, str):
        params = [params]
    if isinstance(params, Mapping):
        bounds = {**params, **(bounds or {})}
        params = list(params)
    params = list(params)
    if not params:
        raise DeviceError("params", "give at least one parameter to fit")
    if len(set(params)) != len(params):
        raise DeviceError("params", f"a parameter is given twice: {params}")
    bounds = bounds or {}
    for k in bounds:
        if k not in params:
            raise DeviceError(k, f"bounds given for a parameter that is not fitted: {params}")
    pars = [parameter(device, p) for p in params]
    lo, hi = [], []
    for par in pars:
        v = par.value(device)
        b = bounds.get(par.path)
        a, c = (v / DEFAULT_BOUND_FACTOR, v * DEFAULT_BOUND_FACTOR) if b is None else b
        if not (0 < a < c and math.isfinite(c)):
            raise DeviceError(par.path, f"bounds must be 0 < lower < upper < inf, got {b}")
        if not a <= v <= c:
            raise DeviceError(par.path, f"the starting value {v:g} lies outside the bounds "
                              f"[{a:g}, {c:g}]")
        lo.append(float(a))
        hi.append(float(c))
    return pars, np.array(lo), np.array(hi)


class _Model:
    """The model at the data rows as a function of ``x = log p``, with its Jacobian."""

    def __init__(self, device: Device, data: FitData, pars: list[Parameter], contact: str,
                 mesh_dir):
        self.device, self.data, self.pars = device, data, pars
        self.contact, self.mesh_dir = contact, mesh_dir
        self.base = {p.path: p.value(device) for p in pars}
        f = data.f_Hz if data.f_Hz is not None else np.full(data.n_points, device.f_Hz().min())
        self.f_Hz = f
        if data.geometry_key is None:
            self.groups = [(None, np.arange(data.n_points))]
        else:
            vals = np.unique(data.geometry)
            self.groups = [(v, np.flatnonzero(data.geometry == v)) for v in vals]
        self._meshed: dict = {}
        self._unsplit: dict = {}
        self._base: dict = {}   # group -> (device, unsplit mesh) that geometry changes morph
        self.evaluations = 0
        self._memo: tuple | None = None
        #: relative mesh correction ``delta`` per data row (zeros: none)
        self.correction = np.zeros(data.n_points, dtype=complex)

    def _values(self, x) -> dict[str, float]:
        return {p.path: float(np.exp(xi)) for p, xi in zip(self.pars, x)}

    def _device(self, values: dict, group) -> Device:
        changes = dict(values)
        if group is not None:
            changes[self.data.geometry_key] = float(group)
        return self.device.with_params(**changes)

    def _transfer(self, dev: Device, group, values: dict) -> TransferModel:
        """The meshed model of one group at the geometry of ``values`` (cached)."""
        geom = tuple(values[p.path] for p in self.pars if p.kind == "geometry")
        key = (group, geom)
        if key not in self._meshed:
            dmesh = None
            if group in self._base:   # a geometry key moved: morph the group's mesh
                base_dev, base_mesh = self._base[group]
                dmesh = morph_device_mesh(base_mesh, base_dev, dev)
            if dmesh is None:
                dmesh = device_mesh(dev, self.f_Hz, self.mesh_dir)
                self._base[group] = (dev, dmesh)
            self._unsplit[key] = dmesh
            self._meshed[key] = TransferModel(prepare(dev, dmesh=dmesh), self.contact)
        return self._meshed[key].at(dev)

    def correct_mesh_error(self, x) -> None:
        """Set :attr:`correction` from the dual-weighted residual estimate of every
        group's ``Z`` at ``x``, on the meshes the fit uses."""
        values = self._values(x)
        geom = tuple(values[p.path] for p in self.pars if p.kind == "geometry")
        for group, rows in self.groups:
            dev = self._device(values, group)
            self._transfer(dev, group, values)
            freqs = np.unique(self.f_Hz[rows])
            est = estimate(dev, self._unsplit[(group, geom)], self.contact, freqs)
            delta = {f: est["eta"][float(f)] / ((1.0 - SATURATION) * est["J"][float(f)])
                     for f in freqs}
            self.correction[rows] = [delta[f] for f in self.f_Hz[rows]]
        self._memo = None

    def evaluate(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Complex ``Z`` at every row and ``dZ/dx``, shape ``(n,)``, ``(n, n_params)``."""
        x = np.asarray(x, dtype=float)
        if self._memo is not None and np.array_equal(self._memo[0], x):
            return self._memo[1], self._memo[2]
        self.evaluations += 1
        values = self._values(x)
        n = self.data.n_points
        Z = np.zeros(n, dtype=complex)
        J = np.zeros((n, len(self.pars)), dtype=complex)
        adjoint = [j for j, p in enumerate(self.pars) if p.kind != "geometry"]
        for group, rows in self.groups:
            dev = self._device(values, group)
            model = self._transfer(dev, group, values)
            z, dz = model.z_and_gradient(self.f_Hz[rows], [self.pars[j] for j in adjoint])
            Z[rows] = z
            J[np.ix_(rows, adjoint)] = dz
            for j, par in enumerate(self.pars):
                if par.kind != "geometry":
                    continue
                side = []
                for s in (1, -1):
                    v = dict(values)
                    v[par.path] *= math.exp(s * GEOMETRY_LOG_STEP)
                    side.append(self._transfer(self._device(v, group), group, v).z(
                        self.f_Hz[rows]))
                J[rows, j] = (side[0] - side[1]) / (2 * GEOMETRY_LOG_STEP)
        factor = 1.0 + self.correction
        Z, J = Z * factor, J * factor[:, None]
        self._memo = (x.copy(), Z, J)
        return Z, J


def _errors(data: FitData, model_error: float) -> tuple[np.ndarray, ...]:
    """One-sigma errors of the residuals: the data's, with the model's own relative
    uncertainty ``model_error * |Z|`` added in quadrature; without error columns, unit
    weights ``rms |Z|`` (the errors are then estimated from the scatter)."""
    n = data.n_points
    if data.err is None:
        if model_error:
            raise DataError(f"{data.source}: a model error adds to the data's errors, and "
                            "the data have no error columns (Z_re_err, Z_im_err or Z_abs_err)")
        scale = float(np.sqrt(np.mean(np.abs(data.Z) ** 2)))
        return tuple(np.full(n, scale) for _ in range(1 if data.magnitude else 2))
    extra = model_error * np.abs(data.Z)
    return tuple(np.hypot(e, extra) for e in data.err)


def _residuals(data: FitData, Z, J, errors: tuple[np.ndarray, ...]):
    """Scaled residuals ``(model - data) / error`` and their Jacobian (real)."""
    if data.magnitude:
        a, (err,) = np.abs(Z), errors
        r = (a - data.Z) / err
        if J is None:
            return r, None
        return r, (np.conj(Z)[:, None] * J).real / (a * err)[:, None]
    e_re, e_im = errors
    r = np.concatenate([(Z.real - data.Z.real) / e_re, (Z.imag - data.Z.imag) / e_im])
    if J is None:
        return r, None
    return r, np.vstack([J.real / e_re[:, None], J.imag / e_im[:, None]])


def _statistics(J: np.ndarray, r: np.ndarray, values: np.ndarray, names: list[str],
                errors_given: bool, at_bound: np.ndarray):
    """Standard errors, correlation, chi^2/dof and identifiability warnings from the
    Jacobian in ``log p`` at the optimum."""
    n, k = J.shape
    dof = n - k
    chi2 = float(r @ r) / dof
    U, s, Vt = np.linalg.svd(J, full_matrices=False)
    keep = s > SINGULAR_RCOND * s[0] if s.size and s[0] > 0 else np.zeros(k, bool)
    V = Vt.T
    cov = (V[:, keep] / s[keep] ** 2) @ V[:, keep].T
    if not errors_given:
        cov = cov * chi2  # unit-weight residuals: the noise estimated from the scatter
    notes = []
    undetermined = np.zeros(k, dtype=bool)
    for i in np.flatnonzero(~keep):
        v = V[:, i]
        involved = np.abs(v) > 0.1
        undetermined |= involved
        combo = " ".join(f"{c:+.2f} log({names[j]})" for j, c in enumerate(v) if abs(c) > 0.1)
        notes.append(f"not determined by the data: the fit cannot change {combo} "
                     "(singular Jacobian); their standard errors are infinite")
    se_log = np.sqrt(np.clip(np.diag(cov), 0, None))
    se_log[undetermined] = np.inf
    std = values * se_log
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov)))
    corr[undetermined, :] = np.nan
    corr[:, undetermined] = np.nan
    for j in range(k):
        if not undetermined[j] and se_log[j] > POORLY_DETERMINED:
            notes.append(f"{names[j]} is poorly determined by the data: standard error "
                         f"{100 * se_log[j]:.0f}% of the value")
        if at_bound[j]:
            notes.append(f"{names[j]} ended at a bound: the data push it outside the "
                         "range allowed; its standard error does not describe that")
    for a in range(k):
        for b in range(a + 1, k):
            if not (undetermined[a] or undetermined[b]) and abs(corr[a, b]) > CORRELATED:
                notes.append(f"{names[a]} and {names[b]} are correlated by {corr[a, b]:+.3f}:"
                             " the data determine mainly a combination of them")
    if not errors_given:
        chi2 = float("nan")
    return std, corr, chi2, notes, s


def fit(device: Device | str | Path, data, params: Iterable[str] | Mapping, *,
        bounds: Mapping[str, tuple[float, float]] | None = None, contact: str | None = None,
        mesh_dir: str | Path = "meshes", max_evaluations: int = 60,
        callback: Callable[[int, dict, float], None] | None = None,
        curve_points: int = 40, model_error: float = 0.0,
        mesh_correction: bool = False) -> FitResult:
    """Fit device parameters to measured ``Z``.

    Parameters
    ----------
    device : Device or path
        The device; its values of the fitted keys are the starting values.
    data : path or table or FitData
        The measurements (see :mod:`fem.model.fit_data`): ``Z(f)`` (complex or ``|Z|``), or
        ``Z`` against one geometry key.
    params : list of key paths, or a mapping path -> (lower, upper) bounds or None
        E.g. ``["materials.Cu.tau_mL_s", "interfaces.0.G_s_m_per_s"]``.
    bounds : mapping path -> (lower, upper), optional
        Default: the starting value divided and multiplied by
        :data:`DEFAULT_BOUND_FACTOR`.
    contact : str, optional
        The contact whose ``Z`` was measured (default: the device's detector, else its
        injection contact).
    mesh_dir : path
        Where gmsh meshes go.
    max_evaluations : int
        Model evaluations (each a forward and adjoint solve per data frequency) the
        optimizer may use.
    callback : callable ``(evaluation, values, cost)``, optional
        Called after every model evaluation (progress).
    curve_points : int
        Frequencies of the fitted curve kept for the picture (frequency data; 0: none).
    model_error : float
        Relative uncertainty of the model's own ``Z`` (its discretization error, from
        ``spinfem accuracy`` or an ``[adapt]`` estimate), added in quadrature to the
        data's errors: ``sigma^2 = sigma_data^2 + (model_error |Z|)^2``.  Leave it at 0
        only when the mesh's error is far below the noise, or the fitted values carry
        its bias.
    mesh_correction : bool
        Correct the model for the mesh's estimated error (dual-weighted residual, one
        more solve per frequency on the once refined mesh; see the module notes), at the
        starting and at the fitted values (the fit is then repeated once).

    Returns
    -------
    FitResult
    """
    if not isinstance(device, Device):
        device = load_device(device)
    data = read_fit_data(data)
    contact = _default_contact(device) if contact is None else contact
    if contact not in device.contacts:
        raise DeviceError("contact", f"no contact {contact!r}; contacts: "
                          f"{sorted(device.contacts)}")
    if data.ohm:
        pols = device.signal_polarizations(contact)
        if pols is None:
            raise DataError(f"{data.source}: R columns are a signal in ohms, R = P_inj P_det "
                            f"(mu0 mu_B^2/e^2) Z: give the ferromagnets of the injection "
                            f"junction and of {contact!r}'s junction their P_F "
                            f"([materials.X] P_F), or fit Z")
        data = data.in_transfer_units(spin_signal_ohm(1.0, *pols))
    pars, lower, upper = _parse_params(device, params, bounds)
    lo, hi = np.log(lower), np.log(upper)
    if data.geometry_key is not None:
        gpar = parameter(device, data.geometry_key)
        if gpar.kind != "geometry":
            raise DataError(f"{data.source}: column {data.geometry_key} is not a geometry key "
                            "of the device (one device per row needs e.g. "
                            "electrodes.spacing_nm)")
        if data.geometry_key in {p.path for p in pars}:
            raise DataError(f"{data.source}: {data.geometry_key} is both a data column and a "
                            "fitted parameter")
    data.require(len(pars))
    initial = {p.path: p.value(device) for p in pars}
    if not (0 <= model_error < 1):
        raise DeviceError("model_error", f"a relative error in [0, 1), got {model_error!r}")
    errors = _errors(data, model_error)

    meshes = evaluations = 0
    start = device
    structured = device.geometry == "stack" and device.device.mesher == "structured"
    while True:
        meshes += 1
        model = _Model(start, data, pars, contact, mesh_dir)
        x0 = np.clip(np.log([p.value(start) for p in pars]), lo, hi)
        if mesh_correction:
            model.correct_mesh_error(x0)
        sol = _least_squares(model, data, x0, lo, hi, errors, max_evaluations, callback)
        evaluations += model.evaluations
        fitted = model._device(model._values(sol.x), None)
        remesh = _needs_remesh(start, fitted, structured)
        if meshes >= 2 or not (remesh or mesh_correction):
            break
        start = fitted
    Z, J = model.evaluate(sol.x)
    r, Jr = _residuals(data, Z, J, errors)
    values = np.exp(sol.x)
    at_bound = (sol.x <= lo + 1e-9) | (sol.x >= hi - 1e-9)
    names = [p.path for p in pars]
    std, corr, chi2, notes, s = _statistics(Jr, r, values, names, data.err is not None,
                                            at_bound)
    for note in notes:
        warnings.warn(note, IdentifiabilityWarning, stacklevel=2)
    curve_f = curve = None
    if data.geometry_key is None and curve_points > 0:
        curve_f = np.geomspace(data.f_Hz.min(), data.f_Hz.max(), curve_points)
        curve = model._transfer(fitted, None, model._values(sol.x)).z(curve_f)
        if mesh_correction:   # delta is smooth in log f: interpolate between data rows
            fd, i = np.unique(np.log(data.f_Hz), return_index=True)
            delta = model.correction[i]
            curve = curve * (1.0 + np.interp(np.log(curve_f), fd, delta.real)
                             + 1j * np.interp(np.log(curve_f), fd, delta.imag))
    return FitResult(
        params=names, values=dict(zip(names, map(float, values))),
        std_errors=dict(zip(names, map(float, std))), initial=initial,
        bounds={n: (a, b) for n, a, b in zip(names, lower, upper)},
        correlation=corr, chi2_per_dof=chi2, success=bool(sol.success),
        message=str(sol.message),
        evaluations=evaluations, warnings=notes, data=data,
        model=np.abs(Z) if data.magnitude else Z, contact=contact, device=fitted,
        singular_values=s, meshes=meshes, model_error=model_error, curve_f_Hz=curve_f,
        curve_Z=curve, mesh_correction=model.correction.copy() if mesh_correction else None)


def _least_squares(model: _Model, data: FitData, x0, lo, hi, errors, max_evaluations,
                   callback):
    from scipy.optimize import least_squares

    def fun(x):
        Z, J = model.evaluate(x)
        r, _ = _residuals(data, Z, None, errors)
        if callback is not None:
            callback(model.evaluations, model._values(x), 0.5 * float(r @ r))
        return r

    def jac(x):
        Z, J = model.evaluate(x)
        return _residuals(data, Z, J, errors)[1]

    return least_squares(fun, x0, jac=jac, bounds=(lo, hi), method="trf", x_scale=1.0,
                         xtol=1e-10, ftol=1e-12, gtol=1e-10, max_nfev=max_evaluations)


def _needs_remesh(start: Device, fitted: Device, structured: bool) -> bool:
    """Whether the mesh built for ``start`` no longer fits ``fitted``: the fitted
    geometry stretches the morphed mesh by more than :data:`REMESH_STRETCH`, or (graded
    meshes) a material's low-frequency decay length moved by more than
    :data:`REMESH_RATIO` (the grading was sized for the old one)."""
    stretch = morph_stretch(start, fitted)
    if stretch is not None and stretch > REMESH_STRETCH:
        return True
    if structured:  # resolved at every frequency already: the rule is for graded meshes
        return False
    for name in start.materials:
        a, b = (1.0 / float(d.material(name).q(2 * np.pi).real) for d in (start, fitted))
        if math.isfinite(a) and math.isfinite(b) and max(a / b, b / a) > REMESH_RATIO:
            return True
    return False


def synthetic_data(device: Device, f_Hz, *, noise: float = 0.01, seed: int | None = 0,
                   contact: str | None = None, mesh_dir: str | Path = "meshes") -> dict:
    """Simulated measurements of ``Z(f)``: the device's ``Z`` at ``f_Hz`` with Gaussian
    noise of standard deviation ``noise * |Z|`` on each of ``Re Z`` and ``Im Z``, as
    the columns of a data file (``f_Hz``, ``Z_re``, ``Z_im``, ``Z_re_err``,
    ``Z_im_err``): for planning an experiment, or testing a fit."""
    contact = _default_contact(device) if contact is None else contact
    f_Hz = np.asarray(list(f_Hz), dtype=float)
    Z = TransferModel(prepare(device, f_Hz, mesh_dir=mesh_dir), contact).z(f_Hz)
    sigma = noise * np.abs(Z)
    rng = np.random.default_rng(seed)
    return {"f_Hz": f_Hz, "Z_re": Z.real + sigma * rng.standard_normal(Z.size),
            "Z_im": Z.imag + sigma * rng.standard_normal(Z.size), "Z_re_err": sigma,
            "Z_im_err": sigma}
