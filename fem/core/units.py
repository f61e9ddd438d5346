"""Units: key suffixes of device files and the scales used inside the solver.

Device files name every dimensional key with its unit (``thickness_nm``,
``tau_mM_s``, ...).  :data:`SUFFIX_TO_SI` is the one table that converts them.
Inside the solver lengths are measured in ``Scales.length_m`` and rates in
``Scales.rate_per_s`` so that a nanometre device at THz rates assembles
matrices of order one.
"""

from __future__ import annotations

from dataclasses import dataclass

#: key suffix -> factor that converts the value to SI
SUFFIX_TO_SI: dict[str, float] = {
    "_nm": 1e-9,
    "_um": 1e-6,
    "_m": 1.0,
    "_s": 1.0,
    "_per_s": 1.0,
    "_Hz": 1.0,
    "_m2_per_s": 1.0,
    "_m_per_s": 1.0,
    "_A_per_s": 1.0,
}


def to_si(key: str, value: float) -> float:
    """Convert ``value`` given under ``key`` to SI using its unit suffix."""
    for suffix in sorted(SUFFIX_TO_SI, key=len, reverse=True):
        if key.endswith(suffix):
            return value * SUFFIX_TO_SI[suffix]
    raise KeyError(f"{key!r} has no known unit suffix")


@dataclass(frozen=True)
class Scales:
    """Length and rate scales of the scaled (dimensionless) solver units.

    Attributes
    ----------
    length_m : float
        Length unit [m]; mesh coordinates are ``x / length_m``.
    rate_per_s : float
        Rate unit [1/s]; frequencies and decay rates are divided by it.
    """

    length_m: float
    rate_per_s: float

    @property
    def diffusivity_m2_per_s(self) -> float:
        """Diffusion-constant unit [m^2/s]: ``length_m**2 * rate_per_s``."""
        return self.length_m**2 * self.rate_per_s


#: CODATA 2018 constants [SI]
MU0 = 1.25663706212e-6
MU_B = 9.2740100783e-24
E_CHARGE = 1.602176634e-19
K_B = 1.380649e-23

#: ``mu0 mu_B^2 / e^2`` [Ohm m^3/s]: a spin impedance (``mu`` [A/m] per spin current
#: [A m^2/s]) in electrical units.  With ``chi_m = mu0 mu_B^2 N(E_F)`` the spin splitting
#: is ``mu_s = (mu_up - mu_down)/2 = mu0 mu_B mu`` [J], and a spin current ``j``
#: [A/s] is ``(mu_B/e) J_s`` of an electrical spin current density ``J_s`` [A/m^2].
SPIN_TO_OHM = MU0 * MU_B**2 / E_CHARGE**2


def spin_signal_ohm(Z, P_injector: float, P_detector: float | None = None):
    """The electrical signal of a transfer function: ``R = P_inj P_det (mu0 mu_B^2/e^2) Z``.

    A charge current ``I_c`` through the injector's junction injects the spin current
    ``I_in = (mu_B/e) P_inj I_c``; a ferromagnetic detector reads the voltage
    ``V = P_det mu_s/e = P_det mu0 mu_B <mu>/e``, so ``V/I_c`` is this.  For a
    nonlocal spin valve it is the nonlocal resistance ``R_NL`` of the parallel state
    (the spin signal ``R_P - R_AP`` is twice it).

    Parameters
    ----------
    Z : complex or array
        ``<mu>_det / I_in`` from spinfem: s/m^3 in 3D (then ``R`` in Ohm), s/m^2 per
        unit depth in 2D (``R`` in Ohm m: divide by the device's depth), s/m in 1D
        (``R`` in Ohm m^2: divide by the cross-section).
    P_injector, P_detector : float
        Spin polarizations of the injecting and detecting junctions (``P_detector``
        defaults to ``P_injector``).
    """
    P_det = P_injector if P_detector is None else P_detector
    return P_injector * P_det * SPIN_TO_OHM * Z
