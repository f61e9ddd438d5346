"""Measured data for :mod:`fem.studies.fitting`: a CSV file (or a table object) read and checked.

Columns (one row per measurement):

* ``f_Hz``: frequency [Hz] (> 0);
* ``Z_re``, ``Z_im``: the measured transfer function ``Z = <mu>_contact / I_in`` in
  the units of :func:`fem.solvers.result.transfer_unit` (s/m^3 in 3D, s/m^2 per unit depth in
  2D), with optional one-sigma errors ``Z_re_err``, ``Z_im_err`` (> 0); or ``Z_abs``
  (with optional ``Z_abs_err``) to fit ``|Z|`` only;
* or the same in ohms: ``R_re``, ``R_im`` (``R_abs``) and their errors, the electrical
  signal ``R = P_inj P_det (mu0 mu_B^2/e^2) Z`` in the units of
  :func:`fem.solvers.result.resistance_unit` (Ohm in 3D, Ohm m per unit depth in 2D,
  Ohm m^2 per unit area in 1D):
  the device's ferromagnets then need ``P_F`` (the fit divides by that factor);
* optionally one geometry key of the device (e.g. ``electrodes.spacing_nm``): every
  row is then its own device with that key set (a signal against electrode spacing);
  ``f_Hz`` may be left out there, and the device's lowest frequency is used.

Lines starting with ``#`` are comments.  Every problem is a :class:`DataError` naming
the file, the row or column, and the rule.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..core.errors import SpinfemError

VALUE_COLUMNS = ("Z_re", "Z_im", "Z_abs")
ERROR_COLUMNS = ("Z_re_err", "Z_im_err", "Z_abs_err")
#: the same columns for a signal in ohms (``R_re`` for ``Z_re``...)
OHM_COLUMNS = tuple("R" + c[1:] for c in (*VALUE_COLUMNS, *ERROR_COLUMNS))
KNOWN = ("f_Hz", *VALUE_COLUMNS, *ERROR_COLUMNS, *OHM_COLUMNS)


class DataError(SpinfemError, ValueError):
    """A measured-data file or table that cannot be fitted: where, and the rule."""


@dataclass(frozen=True)
class FitData:
    """Checked measurements.

    Attributes
    ----------
    source : str
        The file, or ``"data"`` for a table object.
    f_Hz : ndarray, float, shape (n,) or None
        Frequency of each row [Hz] (None: geometry data without ``f_Hz``).
    Z : ndarray, shape (n,)
        Complex ``Z`` (``magnitude`` False) or ``|Z|`` (``magnitude`` True).
    err : tuple of ndarray or None
        One-sigma errors: ``(Z_re_err, Z_im_err)`` or ``(Z_abs_err,)``; None when
        the data give none.
    magnitude : bool
        Fit ``|Z|`` only.
    geometry_key : str or None
        The device key every row sets (e.g. ``electrodes.spacing_nm``).
    geometry : ndarray, float, shape (n,) or None
        Its value on each row (the key's unit).
    """

    source: str
    f_Hz: np.ndarray | None
    Z: np.ndarray
    err: tuple | None
    magnitude: bool
    geometry_key: str | None = None
    geometry: np.ndarray | None = None
    #: the values are the electrical signal ``R`` (columns ``R_*``), not ``Z``
    ohm: bool = False

    def in_transfer_units(self, factor: float) -> FitData:
        """Data in ohms divided by ``factor = P_inj P_det mu0 mu_B^2/e^2``: ``Z``."""
        if not self.ohm:
            return self
        err = None if self.err is None else tuple(e / factor for e in self.err)
        return replace(self, Z=self.Z / factor, err=err, ohm=False)

    @property
    def n_points(self) -> int:
        return int(self.Z.size)

    @property
    def n_residuals(self) -> int:
        """Real numbers fitted: two per row for complex ``Z``, one for ``|Z|``."""
        return self.n_points * (1 if self.magnitude else 2)

    def require(self, n_params: int) -> None:
        """Refuse data with no more residuals than fitted parameters."""
        if self.n_residuals <= n_params:
            what = "|Z| value" if self.magnitude else "complex Z value (2 residuals)"
            raise DataError(f"{self.source}: {self.n_points} data point(s) of one {what} "
                            f"each give {self.n_residuals} residual(s) for {n_params} "
                            "parameter(s): need more residuals than parameters")


def read_fit_data(data) -> FitData:
    """Read a CSV path, or a table object with the same columns (a ``dict`` of arrays,
    a ``pandas.DataFrame``...), and check it."""
    if isinstance(data, FitData):
        return data
    if isinstance(data, str | Path):
        source = str(data)
        columns = _read_csv(Path(data))
    else:
        source = "data"
        try:
            columns = {str(k): list(np.ravel(np.asarray(data[k], dtype=object)))
                       for k in data.keys()}
        except (AttributeError, TypeError, KeyError):
            raise DataError(f"data: expected a CSV path or a table with columns "
                            f"{list(KNOWN)}, got {type(data).__name__}") from None
    return _check(source, columns)


def _read_csv(path: Path) -> dict[str, list]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the data file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file in UTF-8") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: no header line and no data (a CSV with columns "
                        "f_Hz, Z_re, Z_im)")
    rows = list(csv.reader(lines))
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: column(s) {dup} appear more than once in the header")
    columns: dict[str, list] = {h: [] for h in header}
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {i} of the data has {len(row)} values for "
                            f"{len(header)} columns")
        for h, v in zip(header, row):
            columns[h].append(v.strip())
    return columns


def _numbers(source: str, name: str, values: list) -> np.ndarray:
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise DataError(f"{source}: row {i + 1}, column {name}: not a number "
                            f"({v!r})") from None
        if not np.isfinite(out[i]):
            raise DataError(f"{source}: row {i + 1}, column {name}: {v} (every value must "
                            "be a finite number)")
    return out


def _check(source: str, columns: dict[str, list]) -> FitData:
    ohm = [c for c in columns if c in OHM_COLUMNS]
    if ohm:
        mixed = [c for c in columns if c in (*VALUE_COLUMNS, *ERROR_COLUMNS)]
        if mixed:
            raise DataError(f"{source}: give Z (columns Z_*) or R in ohms (columns R_*), not "
                            f"both: {mixed} with {ohm}")
        try:
            data = _check(source, {("Z" + c[1:] if c in ohm else c): v
                                   for c, v in columns.items()})
        except DataError as err:  # speak of the columns the file has
            text = re.sub(r"\bZ(_re|_im|_abs)", r"R\1", str(err))
            raise DataError(text.replace("complex Z", "complex R").replace("|Z|", "|R|")) \
                from None
        return replace(data, ohm=True)
    extra = [c for c in columns if c not in KNOWN]
    if len(extra) > 1:
        raise DataError(f"{source}: unknown columns {extra}: known ones are {list(KNOWN)} "
                        "and at most one geometry key of the device")
    if "Z_abs" in columns and ("Z_re" in columns or "Z_im" in columns):
        raise DataError(f"{source}: give Z_re and Z_im (complex Z) or Z_abs (|Z| only), "
                        "not both")
    magnitude = "Z_abs" in columns
    need = ["Z_abs"] if magnitude else ["Z_re", "Z_im"]
    if not extra:
        need = ["f_Hz", *need]
    missing = [c for c in need if c not in columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}: a fit needs f_Hz, Z_re, "
                        "Z_im (or f_Hz, Z_abs), with optional Z_re_err, Z_im_err (Z_abs_err)")
    errs = ["Z_abs_err"] if magnitude else ["Z_re_err", "Z_im_err"]
    stray = [c for c in ERROR_COLUMNS if c in columns and c not in errs]
    if stray:
        raise DataError(f"{source}: column(s) {stray} do not go with "
                        f"{'Z_abs' if magnitude else 'Z_re, Z_im'}")
    given = [c for c in errs if c in columns]
    if given and len(given) != len(errs):
        raise DataError(f"{source}: {given[0]} without {[c for c in errs if c not in given]}:"
                        " give the errors of both parts")
    n = len(columns[need[-1]])
    if n == 0:
        raise DataError(f"{source}: no data rows")
    num = {c: _numbers(source, c, v) for c, v in columns.items()}
    f = num.get("f_Hz")
    if f is not None and np.any(f <= 0):
        i = int(np.argmax(f <= 0))
        raise DataError(f"{source}: row {i + 1}, column f_Hz: must be > 0 Hz, got {f[i]:g}")
    for c in given:
        if np.any(num[c] <= 0):
            i = int(np.argmax(num[c] <= 0))
            raise DataError(f"{source}: row {i + 1}, column {c}: a one-sigma error must be "
                            f"> 0, got {num[c][i]:g}")
    geometry = None
    if extra:
        geometry = num[extra[0]]
        if np.any(geometry <= 0):
            i = int(np.argmax(geometry <= 0))
            raise DataError(f"{source}: row {i + 1}, column {extra[0]}: must be > 0, got "
                            f"{geometry[i]:g}")
    Z = num["Z_abs"] if magnitude else num["Z_re"] + 1j * num["Z_im"]
    if magnitude and np.any(Z <= 0):
        i = int(np.argmax(Z <= 0))
        raise DataError(f"{source}: row {i + 1}, column Z_abs: |Z| must be > 0, got {Z[i]:g}")
    if not magnitude and np.any(Z == 0):
        raise DataError(f"{source}: row {int(np.argmax(Z == 0)) + 1}: Z_re = Z_im = 0")
    return FitData(source=source, f_Hz=f, Z=Z,
                   err=tuple(num[c] for c in errs) if given else None, magnitude=magnitude,
                   geometry_key=extra[0] if extra else None, geometry=geometry)
