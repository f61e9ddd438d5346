"""Materials: immutable parameter sets in SI units with their derived rates.

>>> py = Ferromagnet(chi_M=1.0, chi_m=0.3, D_m=2.5e-3, tau_mM=1e-13)
>>> round(py.xi, 12), round(py.r / 1e12, 9)
(0.3, 7.0)
"""

from __future__ import annotations

import math

from . import analytic
from .errors import DeviceError

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
    __slots__ = ()
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
        return _rebuild, (type(self), dict(zip(self.params, self._key())))

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
    """

    __slots__ = ("D_m", "chi_M", "chi_m", "r", "tau_ML", "tau_mL", "tau_mM")
    kind = "ferromagnet"
    params = ("chi_M", "chi_m", "D_m", "tau_mM", "tau_ML", "tau_mL")

    def __init__(self, chi_M, chi_m, D_m, tau_mM=None, r=None, tau_ML=_INF, tau_mL=_INF):
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
                  tau_ML=tau_ML, tau_mL=tau_mL)

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
    """

    __slots__ = ("D_m", "chi_m", "tau_mL")
    kind = "normal_metal"
    params = ("chi_m", "D_m", "tau_mL")
    xi = 0.0
    r = 0.0
    w_M = 0.0

    def __init__(self, chi_m, D_m, tau_mL=_INF):
        self._set(chi_m=_positive("chi_m", chi_m), D_m=_positive("D_m", D_m),
                  tau_mL=_positive("tau_mL", tau_mL, allow_inf=True))

    @property
    def w_m(self) -> float:
        """Spin-flip rate ``1/tau_mL`` [1/s] (0 when infinite)."""
        return _rate(self.tau_mL)

    @property
    def spin_diffusion_length(self) -> float:
        """Static spin-diffusion length ``sqrt(D_m tau_mL)`` [m] (inf without spin flip)."""
        return math.sqrt(self.D_m * self.tau_mL)


Material = Ferromagnet | NormalMetal

