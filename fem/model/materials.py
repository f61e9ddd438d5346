"""Materials: immutable parameter sets in SI units with their derived rates.

>>> py = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13)
>>> round(py.xi, 12), round(py.r / 1e12, 9)
(0.3, 7.0)
"""

from __future__ import annotations

import functools
import math
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..core import analytic
from ..core.errors import DeviceError, MaterialDataWarning
from ..core.units import E_CHARGE, K_B, MU0, MU_B

_INF = math.inf


def _positive(name: str, value, allow_inf: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DeviceError(name, f"must be a number, got {value!r}") from None
    if math.isnan(v) or v <= 0.0:
        raise DeviceError(name, f"must be > 0, got {value!r}")
    if math.isinf(v) and not allow_inf:
        raise DeviceError(name, "must be finite (only lattice times may be inf)")
    return v


def _rate(tau: float) -> float:
    return 0.0 if math.isinf(tau) else 1.0 / tau


def _rebuild(cls, kwargs):
    return cls(**kwargs)


class _Material:
    __slots__ = ("source",)
    kind: str
    #: names of the constructor parameters, in order
    params: tuple[str, ...] = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **kw):
        for k, v in kw.items():
            object.__setattr__(self, k, v)

    def _key(self):
        return tuple(getattr(self, p) for p in self.params)

    def __reduce__(self):  # immutable slots: rebuild through the constructor
        return _rebuild, (type(self), {**dict(zip(self.params, self._key())),
                                       "source": self.source})

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    def __repr__(self):
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.params)
        return f"{type(self).__name__}({args})"

    # frequency domain -------------------------------------------------
    @property
    def sigma(self) -> float:
        """Spin conductivity ``sigma = D_m chi_m`` [m^2/s]."""
        return self.D_m * self.chi_m

    def kappa(self, omega):
        """Complex rate ``kappa(omega)`` [1/s] of ``-div(sigma grad mu) + chi_m kappa mu = 0``."""
        return analytic.kappa(omega, r=self.r, xi=self.xi, w_M=self.w_M, w_m=self.w_m)

    def k2(self, omega):
        """Complex ``k^2(omega)`` [1/m^2]."""
        return -self.kappa(omega) / self.D_m

    def q(self, omega):
        """Decay constant ``q(omega)`` [1/m] with ``Re q > 0``: fields go as ``exp(-q x)``."""
        return analytic.q_from_k2(self.k2(omega))

    def mu_ratios(self, omega):
        """``(dm/mu, dM/mu)`` at angular frequency ``omega`` [rad/s]."""
        return analytic.mu_ratios(omega, chi_m=self.chi_m, r=self.r, xi=self.xi, w_M=self.w_M)


class Ferromagnet(_Material):
    """A ferromagnet carrying both ``M`` (local) and ``m`` (diffusive).

    Parameters
    ----------
    chi_M, chi_m : float
        Susceptibilities of ``M`` and ``m`` (dimensionless), ``0 < chi_m <= chi_M``.
    D_m : float
        Diffusion constant of ``m`` [m^2/s].
    tau_mM : float, optional
        ``m -> M`` exchange relaxation time [s].  Give exactly one of
        ``tau_mM`` and ``r``.
    r : float, optional
        Exchange-driven rate ``r = (1 - xi)/tau_mM`` [1/s].
    tau_ML, tau_mL : float
        Lattice relaxation times of ``M`` and ``m`` [s]; ``inf`` (default)
        means no lattice decay.
    source : LibraryEntry, optional
        The measured data behind the parameters (set by :func:`material`).
    """

    __slots__ = ("D_m", "chi_M", "chi_m", "r", "tau_ML", "tau_mL", "tau_mM")
    kind = "ferromagnet"
    params = ("chi_M", "chi_m", "D_m", "tau_mM", "tau_ML", "tau_mL")

    def __init__(self, chi_M, chi_m, D_m, tau_mM=None, r=None, tau_ML=_INF, tau_mL=_INF,
                 source=None):
        chi_M = _positive("chi_M", chi_M)
        chi_m = _positive("chi_m", chi_m)
        if chi_m > chi_M:
            raise DeviceError(
                "chi_m", f"must be <= chi_M for thermodynamic stability (xi = chi_m/chi_M <= 1), "
                f"got chi_m = {chi_m!r} > chi_M = {chi_M!r}")
        D_m = _positive("D_m", D_m)
        tau_ML = _positive("tau_ML", tau_ML, allow_inf=True)
        tau_mL = _positive("tau_mL", tau_mL, allow_inf=True)
        if (tau_mM is None) == (r is None):
            raise DeviceError("tau_mM", "give exactly one of tau_mM and r (r = (1 - xi)/tau_mM)")
        xi = chi_m / chi_M
        if tau_mM is not None:
            tau_mM = _positive("tau_mM", tau_mM)
        else:
            r = _positive("r", r)
            if xi == 1.0:
                raise DeviceError("r", "needs chi_m < chi_M: r = (1 - xi)/tau_mM vanishes "
                                  "at xi = 1; "
                                  "give tau_mM instead")
            tau_mM = (1.0 - xi) / r
        self._set(chi_M=chi_M, chi_m=chi_m, D_m=D_m, tau_mM=tau_mM, r=(1.0 - xi) / tau_mM,
                  tau_ML=tau_ML, tau_mL=tau_mL, source=source)

    @property
    def xi(self) -> float:
        """Susceptibility ratio ``xi = chi_m/chi_M`` (eq. 7), ``0 < xi <= 1``."""
        return self.chi_m / self.chi_M

    @property
    def tau_Mm(self) -> float:
        """``M -> m`` time [s], ``1/tau_Mm = xi/tau_mM`` (Onsager, eq. 27)."""
        return self.tau_mM / self.xi

    @property
    def k_M(self) -> float:
        """Natural wavevector ``k_M = sqrt(r/D_m)`` [1/m] (eq. 31)."""
        return math.sqrt(self.r / self.D_m)

    @property
    def w_M(self) -> float:
        """``M -> lattice`` rate ``1/tau_ML`` [1/s] (0 when infinite)."""
        return _rate(self.tau_ML)

    @property
    def w_m(self) -> float:
        """``m -> lattice`` rate ``1/tau_mL`` [1/s] (0 when infinite)."""
        return _rate(self.tau_mL)

    def gamma_pm(self, k2):
        """Eigenrates ``(gamma+, gamma-)`` [1/s] at real ``k^2`` [1/m^2], eq. (39)."""
        return analytic.gamma_pm(k2, D_m=self.D_m, r=self.r, xi=self.xi, w_M=self.w_M, w_m=self.w_m)


class NormalMetal(_Material):
    """A normal metal (Cu, Pt, Al, ...): ``m`` only.

    Parameters
    ----------
    chi_m : float
        Susceptibility of ``m`` (dimensionless), > 0.
    D_m : float
        Spin diffusion constant [m^2/s].
    tau_mL : float
        Spin-flip time [s]; ``inf`` (default) means no spin flip.
    source : LibraryEntry, optional
        The measured data behind the parameters (set by :func:`material`).
    """

    __slots__ = ("D_m", "chi_m", "tau_mL")
    kind = "normal_metal"
    params = ("chi_m", "D_m", "tau_mL")
    xi = 0.0
    r = 0.0
    w_M = 0.0

    def __init__(self, chi_m, D_m, tau_mL=_INF, source=None):
        self._set(chi_m=_positive("chi_m", chi_m), D_m=_positive("D_m", D_m),
                  tau_mL=_positive("tau_mL", tau_mL, allow_inf=True), source=source)

    @property
    def w_m(self) -> float:
        """Spin-flip rate ``1/tau_mL`` [1/s] (0 when infinite)."""
        return _rate(self.tau_mL)

    @property
    def spin_diffusion_length(self) -> float:
        """Static spin-diffusion length ``sqrt(D_m tau_mL)`` [m] (inf without spin flip)."""
        return math.sqrt(self.D_m * self.tau_mL)


Material = Ferromagnet | NormalMetal



# ------------------------------------------------------------------ material library
# Measured spin-diffusion lengths, resistivities and densities of states of common metals
# (fem/model/data/materials.toml, every number with its publication), turned into the model's
# parameters.  The pieces stay consistent with each other:
#
#   N(E_F) = 3 gamma / (pi^2 k_B^2 V_m)     density of states (both spins) [1/(J m^3)]
#                                           from the Sommerfeld coefficient gamma
#   chi_m  = mu0 mu_B^2 N(E_F)              Pauli-like spin susceptibility
#   D_m    = 1 / (e^2 N(E_F) rho)           Einstein relation
#   sigma  = D_m chi_m = mu0 mu_B^2 / (e^2 rho)
#
# so the spin conductivity is proportional to the electrical conductivity and the spin
# resistance of a length lambda_sf of cross-section A, lambda_sf / (sigma A), is
# (e^2 / mu0 mu_B^2) rho lambda_sf / A: F/N junctions split the spin current as measured.
# The relaxation times are then fixed by the measured lambda_sf (see _model_params).


#: Model parameters of a ferromagnet that no experiment measures directly (assumptions):
#: xi = chi_m / chi_M, the ratio of the spin accumulation's susceptibility to the
#: longitudinal (high-field) susceptibility of the magnetization.  Both are of order
#: 1e-4 in 3d ferromagnets near room temperature; xi must lie in (0, 1] for stability.
ASSUMED_XI = 0.3
#: tau_mM [s], the m -> M exchange relaxation time: the fastest time of the model,
#: taken at the 0.1 ps scale of electron-magnon exchange seen in ultrafast
#: demagnetization.
ASSUMED_TAU_MM_S = 1.0e-13
#: tau_ML [s], the longitudinal relaxation of M to the lattice: taken at 1 ns, the
#: scale of magnetization relaxation in ferromagnetic resonance (Gilbert damping of
#: order 0.01 at about 10 GHz).  With w_M << xi r the exchange with M barely shortens the
#: decay length (kappa(0) ~ w_m + w_M/xi), so the measured lambda_sf fixes tau_mL.
ASSUMED_TAU_ML_S = 1.0e-9

ASSUMPTIONS = (
    "chi_m = mu0 mu_B^2 N(E_F) and D_m = 1/(e^2 N(E_F) rho) with N(E_F) from the "
    "Sommerfeld coefficient (its electron-phonon enhancement included); "
    f"ferromagnets: xi = chi_m/chi_M = {ASSUMED_XI}, tau_mM = {ASSUMED_TAU_MM_S:g} s, "
    f"tau_ML = {ASSUMED_TAU_ML_S:g} s (assumed), tau_mL set so that the low-frequency "
    "decay length 1/Re q(0) equals the measured lambda_sf; normal metals: "
    "tau_mL = lambda_sf^2 / D_m")

_DATA = Path(__file__).with_name("data") / "materials.toml"


@dataclass(frozen=True)
class Citation:
    """One publication: authors, title, journal, volume, pages, year, DOI."""

    authors: str
    title: str
    journal: str
    year: int
    volume: str = ""
    pages: str = ""
    doi: str = ""
    doi_verified: bool = True
    #: how the number was checked: "seen" (in the publication's record), "recalled"
    #: (from the publication, not re-read), "assumed" (not measured on that sample:
    #: see the entry's note)
    status: str = "recalled"
    note: str = ""

    def _where(self) -> str:
        """``Journal volume, pages (year)``."""
        where = " ".join(x for x in (self.journal, self.volume) if x)
        where += f", {self.pages}" if self.pages else ""
        return f"{where} ({self.year})"

    def __str__(self) -> str:
        doi = f", doi:{self.doi}" if self.doi else ""
        return f"{self.authors}, {self._where()}{doi}"

    def short(self) -> str:
        """``First author et al., Journal volume, pages (year)``."""
        first = self.authors.split(",")[0].strip()
        many = "," in self.authors or " and " in self.authors
        return f"{f'{first} et al.' if many else first}, {self._where()}"


@dataclass(frozen=True)
class LibraryEntry:
    """A metal at one temperature: the measured numbers, their sources, the model.

    Attributes
    ----------
    name, composition, kind : str
        Short name (``"Py"``), composition (``"Ni80Fe20"``), ``ferromagnet`` or
        ``normal_metal``.
    T_K : float
        Temperature of the measurements [K].
    lambda_sf_m, rho_Ohm_m : float
        Measured spin-diffusion length [m] and resistivity [Ohm m].
    gamma_J_per_mol_K2, molar_volume_m3_per_mol : float
        Sommerfeld coefficient and molar volume, for the density of states.
    sources : dict[str, Citation]
        ``lambda_sf``, ``rho`` and ``dos``: where each number comes from.
    note, assumptions : str
        What the sample was; what the model assumes beyond the measurements.
    """

    name: str
    composition: str
    kind: str
    T_K: float
    lambda_sf_m: float
    rho_Ohm_m: float
    gamma_J_per_mol_K2: float
    molar_volume_m3_per_mol: float
    sources: dict = field(compare=False, hash=False)
    gamma_is_assumption: bool = False
    note: str = ""
    assumptions: str = ASSUMPTIONS

    @property
    def dos_per_J_m3(self) -> float:
        """Density of states at the Fermi level, both spins [1/(J m^3)]."""
        return 3.0 * self.gamma_J_per_mol_K2 / (
            math.pi**2 * K_B**2 * self.molar_volume_m3_per_mol)

    @property
    def chi_m(self) -> float:
        """Pauli-like spin susceptibility ``mu0 mu_B^2 N(E_F)`` (dimensionless)."""
        return MU0 * MU_B**2 * self.dos_per_J_m3

    @property
    def D_m(self) -> float:
        """Diffusion constant from the Einstein relation ``1/(e^2 N(E_F) rho)`` [m^2/s]."""
        return 1.0 / (E_CHARGE**2 * self.dos_per_J_m3 * self.rho_Ohm_m)

    @property
    def spin_resistance_area_Ohm_m2(self) -> float:
        """``rho lambda_sf`` [Ohm m^2]: the spin resistance of a unit cross-section."""
        return self.rho_Ohm_m * self.lambda_sf_m

    def model_params(self) -> dict[str, float]:
        """The model's parameters [SI]: ``chi_m, D_m, tau_mL`` (and ``chi_M, tau_mM,
        tau_ML`` for a ferromagnet), with ``1/Re q(0) = lambda_sf``.

        Raises
        ------
        DeviceError
            The assumed ferromagnet times alone already relax faster than the measured
            ``lambda_sf`` allows (no positive ``tau_mL`` fits).
        """
        D, chi_m, lam = self.D_m, self.chi_m, self.lambda_sf_m
        kappa0 = D / lam**2  # the static rate that gives the measured decay length
        if self.kind == "normal_metal":
            return {"chi_m": chi_m, "D_m": D, "tau_mL": 1.0 / kappa0}
        xi, w_M = ASSUMED_XI, 1.0 / ASSUMED_TAU_ML_S
        r = (1.0 - xi) / ASSUMED_TAU_MM_S
        w_m = kappa0 - r * w_M / (w_M + xi * (r - w_M))  # kappa(0) of the model, solved
        if w_m <= 0:
            raise DeviceError(f"{self.name}", "the assumed tau_mM, tau_ML relax faster than "
                              "the measured lambda_sf allows")
        return {"chi_M": chi_m / xi, "chi_m": chi_m, "D_m": D, "tau_mM": ASSUMED_TAU_MM_S,
                "tau_ML": ASSUMED_TAU_ML_S, "tau_mL": 1.0 / w_m}

    def material(self) -> Material:
        """The model material, carrying this entry as its ``source``."""
        cls = Ferromagnet if self.kind == "ferromagnet" else NormalMetal
        return cls(**self.model_params(), source=self)

    def citation(self) -> str:
        """The sources of lambda_sf, rho and the density of states, one per line."""
        return "\n".join(f"{k}: {c}" for k, c in self.sources.items())

    @property
    def unmeasured(self) -> tuple[str, ...]:
        """The quantities (``lambda_sf``, ``rho``, ``dos``) whose value here is not a
        measurement of the cited sample (``status = "assumed"``; the note says why)."""
        return tuple(k for k, c in self.sources.items() if c.status == "assumed")

    def caveat(self) -> str | None:
        """Why this entry's decay length cannot be trusted as data, or None when its
        ``lambda_sf`` is a measurement."""
        if "lambda_sf" not in self.unmeasured:
            return None
        return (f"library material {self.name!r} at {self.T_K:g} K: lambda_sf = "
                f"{1e9 * self.lambda_sf_m:.3g} nm is not a measurement (an extrapolation "
                f"or assumption, see its note: spinfem materials {self.name} --T-K "
                f"{self.T_K:g}); give tau_mL_s yourself if you know better")


def _citation(d: dict) -> Citation:
    return Citation(authors=d["authors"], title=d.get("title", ""), journal=d["journal"],
                    year=int(d["year"]), volume=str(d.get("volume", "")),
                    pages=str(d.get("pages", "")), doi=d.get("doi", ""),
                    doi_verified=bool(d.get("doi_verified", True)),
                    status=d.get("status", "recalled"), note=d.get("note", ""))


#: the source tables of an entry -> the quantity they are the source of
_SOURCE_KEYS = {"source_lambda": "lambda_sf", "source_rho": "rho", "source_dos": "dos"}


def load_library(path: str | Path = _DATA) -> tuple[LibraryEntry, ...]:
    """Read the material library (``fem/model/data/materials.toml`` by default)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    out = []
    for e in data["entry"]:
        out.append(LibraryEntry(
            name=e["name"], composition=e.get("composition", e["name"]), kind=e["kind"],
            T_K=float(e["T_K"]), lambda_sf_m=1e-9 * e["lambda_sf_nm"],
            rho_Ohm_m=1e-9 * e["rho_nOhm_m"], gamma_J_per_mol_K2=1e-3 * e["gamma_mJ_per_mol_K2"],
            molar_volume_m3_per_mol=1e-6 * e["molar_volume_cm3_per_mol"],
            sources={_SOURCE_KEYS[k]: _citation(v) for k, v in e.items() if k in _SOURCE_KEYS},
            gamma_is_assumption=bool(e.get("gamma_is_assumption", False)),
            note=e.get("note", "")))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def library() -> tuple[LibraryEntry, ...]:
    """Every entry of the shipped material library."""
    return load_library()


#: the temperature ``material(name)`` means when none is given [K]
ROOM_TEMPERATURE_K = 300.0


def library_entry(name: str, T_K: float | None = None) -> LibraryEntry:
    """The library entry of ``name`` at ``T_K`` (default: room temperature).

    Raises
    ------
    DeviceError
        ``name`` is not in the library (the message lists what is), or not at ``T_K``
        (the message lists its temperatures).
    """
    entries = [e for e in library() if e.name == name]
    if not entries:
        names = sorted({e.name for e in library()})
        raise DeviceError("preset", f"unknown material {name!r}; the library has {names}")
    T = ROOM_TEMPERATURE_K if T_K is None else float(T_K)
    for e in entries:
        if math.isclose(e.T_K, T, rel_tol=0, abs_tol=0.05):
            return e
    temps = sorted(e.T_K for e in entries)
    raise DeviceError("T_K", f"{name} is in the library at T_K = {temps} K only, got {T:g}")


def material(name: str, T_K: float | None = None) -> Material:
    """A library metal as a model material (room temperature unless ``T_K`` [K] is
    given), its measured data and sources in ``.source``.

    Warns (:class:`~fem.core.errors.MaterialDataWarning`) when the entry's
    spin-diffusion length is an extrapolation rather than a measurement.

    >>> cu = material("Cu")
    >>> round(1e9 * analytic.decay_length(cu.q(0.0)))  # measured lambda_sf [nm]
    350
    """
    entry = library_entry(name, T_K)
    if (text := entry.caveat()) is not None:
        warnings.warn(text, MaterialDataWarning, stacklevel=2)
    return entry.material()


def materials_table() -> list[dict]:
    """One row per library entry: name, composition, kind, T [K], measured lambda_sf
    [nm], rho [nOhm m], the model's D_m [m^2/s] and chi_m, the sources and how each
    number was obtained (``seen``, ``recalled`` or ``assumed``, see :class:`Citation`)."""
    rows = []
    for e in library():
        rows.append({
            "name": e.name, "composition": e.composition, "kind": e.kind, "T_K": e.T_K,
            "lambda_sf_nm": 1e9 * e.lambda_sf_m, "rho_nOhm_m": 1e9 * e.rho_Ohm_m,
            "D_m2_per_s": e.D_m, "chi_m": e.chi_m,
            "source_lambda_sf": e.sources["lambda_sf"].short(),
            "source_rho": e.sources["rho"].short(),
            "doi_lambda_sf": e.sources["lambda_sf"].doi,
            "status_lambda_sf": e.sources["lambda_sf"].status,
            "status_rho": e.sources["rho"].status,
        })
    return rows


def materials_markdown() -> str:
    """The library as a Markdown table (what the README shows)."""
    lines = ["| name | composition | T [K] | lambda_sf [nm] | rho [nOhm m] | D_m [m^2/s] "
             "| lambda_sf from | rho from |", "|---|---|---|---|---|---|---|---|"]
    for e in library():
        def cite(c: Citation) -> str:
            text = f"[{c.short()}](https://doi.org/{c.doi})" if c.doi else c.short()
            return text + {"assumed": " (assumed, see note)", "recalled": ""}.get(c.status, "")
        lines.append(f"| {e.name} | {e.composition} | {e.T_K:g} | {1e9 * e.lambda_sf_m:g} | "
                     f"{1e9 * e.rho_Ohm_m:g} | {e.D_m:.3g} | {cite(e.sources['lambda_sf'])} | "
                     f"{cite(e.sources['rho'])} |")
    return "\n".join(lines)
