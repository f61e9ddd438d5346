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
