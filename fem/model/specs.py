"""Sections of a device file: closed pydantic models, units in key names.

:mod:`fem.model.device` assembles them into a :class:`~fem.model.device.Device`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from ..core.errors import DeviceError
from ..core.units import to_si
from .materials import Ferromagnet, NormalMetal

#: a number: a TOML integer or float, never a boolean or a string ("20" is not 20)
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
#: a length in nm: finite and at least a thousandth of a nanometre
Length = Annotated[float, Strict(), Field(ge=1e-3, allow_inf_nan=False)]
Time = Annotated[float, Strict(), Field(gt=0)]  # "inf" allowed: no lattice decay


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MaterialSpec(_Closed):
    #: ``preset = "Py"``: the library entry the values came from (``T_K``: its
    #: temperature [K]); keys given in the file override the entry's
    preset: str | None = None
    T_K: PositiveFloat | None = None

    def _source(self):
        if self.preset is None:
            return None
        from .materials import library_entry

        return library_entry(self.preset, self.T_K)

    def build(self) -> Ferromagnet | NormalMetal:
        """The material, errors reported under the file's key names."""
        args = {k: (key, getattr(self, key)) for k, key in self.FILE_KEYS.items()}
        return _build(self.MATERIAL, {**args, "source": ("preset", self._source())})


class FerromagnetSpec(_MaterialSpec):
    """``[materials.X]`` with ``kind = "ferromagnet"``.

    ``P_F`` (optional, between 0 and 1): the ferromagnet's bulk current spin
    polarization.  It does not enter the solve (a junction's injected spin current is
    given as ``j_in = P_F j_c`` already); with it on the injector's and the detector's
    ferromagnets, spinfem also reports the electrical signal
    ``R = P_inj P_det (mu0 mu_B^2/e^2) Z`` (:func:`fem.core.units.spin_signal_ohm`).
    """

    #: the material's constructor parameter -> its key in a device file
    FILE_KEYS: ClassVar[dict[str, str]] = {
        "chi_M": "chi_M", "chi_m": "chi_m", "D_m": "D_m_m2_per_s", "tau_mM": "tau_mM_s",
        "r": "r_per_s", "tau_ML": "tau_ML_s", "tau_mL": "tau_mL_s"}
    MATERIAL: ClassVar[type] = Ferromagnet

    kind: Literal["ferromagnet"]
    chi_M: Float
    chi_m: Float
    D_m_m2_per_s: Float
    tau_mM_s: Float | None = None
    r_per_s: Float | None = None
    tau_ML_s: Time = math.inf
    tau_mL_s: Time = math.inf
    P_F: Annotated[float, Strict(), Field(gt=0, lt=1)] | None = None


class NormalMetalSpec(_MaterialSpec):
    """``[materials.X]`` with ``kind = "normal_metal"``."""

    FILE_KEYS: ClassVar[dict[str, str]] = {
        "chi_m": "chi_m", "D_m": "D_m_m2_per_s", "tau_mL": "tau_mL_s"}
    MATERIAL: ClassVar[type] = NormalMetal

    kind: Literal["normal_metal"]
    chi_m: Float
    D_m_m2_per_s: Float
    tau_mL_s: Time = math.inf


#: a material spec class by its ``kind``
MATERIAL_SPECS = {"ferromagnet": FerromagnetSpec, "normal_metal": NormalMetalSpec}


def _build(cls, args: dict[str, tuple[str, Any]]):
    """Construct a material, reporting errors under the device-file key names."""
    try:
        return cls(**{k: (None if v is None else to_si(key, v) if key not in (k, "preset")
                          else v) for k, (key, v) in args.items()})
    except DeviceError as err:
        key = args.get(err.loc, (err.loc,))[0]
        rule = err.rule
        for k, (file_key, _) in args.items():  # speak the file's key names
            rule = re.sub(rf"\b{k}\b", file_key, rule)
        raise DeviceError(key, rule) from None


MaterialSpec = Annotated[FerromagnetSpec | NormalMetalSpec, Field(discriminator="kind")]


class LayerSpec(_Closed):
    """``[[layers]]``: one layer of a stack, in order from the injection face."""

    material: str
    thickness_nm: Length
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None


ContactKind = Literal["injection", "ground", "insulating", "lead", "detector"]


class ContactSpec(_Closed):
    """``[contacts.X]``: where a contact sits and what it does.

    ``injection``: spin current density ``j_in`` into the device; ``ground``:
    ``mu = 0``; ``insulating``: zero flux; ``lead``: a semi-infinite lead of the
    adjacent material (non-reflecting Robin condition with its exact ``q``);
    ``detector``: insulating, reports the contact-averaged fields and ``Z``.

    ``at`` names an outer face, or a junction ``"F|N"``: the faces shared by two regions
    (an injector or detector on the junction of a ferromagnetic electrode ``F`` with a
    channel ``N``, where a charge current crossing it injects, and a voltage probe
    detects, spin).  A junction injection ``j_in = P_F j_c`` [A/s] is the spin current
    the ferromagnet's bulk polarization ``P_F`` carries in the charge current ``j_c``;
    on a spin-resistive junction (a finite ``G_s`` between the two materials) it enters
    as ``(1 - P_I/P_F) j_in`` on the F side and ``(P_I/P_F) j_in`` on the N side, where
    ``P_I`` is the junction's own (interface) polarization: ``P_I_over_P_F``, default
    1 (``P_I ~ P_F``, as CPP-GMR finds for Py/Cu).  A junction detector averages the two
    sides' ``mu`` with the same weights (Onsager reciprocity).
    """

    at: str
    kind: ContactKind
    j_in_A_per_s: tuple[Float, Float] | None = None
    P_I_over_P_F: Float | None = None

    @field_validator("at")
    @classmethod
    def _place(cls, at: str) -> str:
        """A junction is kept as ``"F|N"``, spaces around the bar dropped, so that every
        reader of ``at`` (the mesh's contacts included) sees the region names."""
        return "|".join(part.strip() for part in at.split("|")) if "|" in at else at

    @model_validator(mode="after")
    def _amplitude(self):
        key = "j_in_A_per_s"
        if self.kind == "injection" and self.j_in_A_per_s is None:
            raise DeviceError(key, "required for kind = 'injection' (j_in_A_per_s = [re, im])")
        if self.j_in_A_per_s is not None and not (
                all(map(math.isfinite, self.j_in_A_per_s)) and any(self.j_in_A_per_s)):
            raise DeviceError(key, "must be finite and not zero")
        if self.kind != "injection" and self.j_in_A_per_s is not None:
            raise DeviceError(key, f"only allowed for kind = 'injection', not {self.kind!r}")
        if self.junction is not None:
            a, b = self.junction
            if not a or not b or a == b:
                raise DeviceError("at", f"a junction is two different regions 'F|N', got "
                                  f"{self.at!r}")
            if self.kind not in ("injection", "detector"):
                raise DeviceError("kind", f"a contact on a junction ({self.at!r}) must be an "
                                  f"injection or a detector, not {self.kind!r}")
        elif self.P_I_over_P_F is not None:
            raise DeviceError("P_I_over_P_F", "only allowed on a junction contact "
                              f"(at = 'F|N'), not on face {self.at!r}")
        return self

    @property
    def junction(self) -> tuple[str, str] | None:
        """``(F, N)``, the two regions of a junction contact; None on an outer face."""
        if "|" not in self.at:
            return None
        a, _, b = self.at.partition("|")
        return a, b

    @property
    def share_N(self) -> float:
        """Weight of the second (N) side of a spin-resistive junction: ``P_I / P_F``."""
        return 1.0 if self.P_I_over_P_F is None else self.P_I_over_P_F

    @property
    def j_in(self) -> complex:
        """Injected spin-current density [A/s] (complex amplitude), 0 unless injection."""
        if self.j_in_A_per_s is None:
            return 0j
        return complex(*self.j_in_A_per_s)


#: a device file may name at most this many frequencies (the schema's hard limit; what
#: a sweep on this machine may hold is checked by :mod:`fem.discretize.resources`)
MAX_FREQUENCIES_SCHEMA = 10**7


class FrequencyRange(_Closed):
    """``f_Hz = { start, stop, num, spacing }``."""

    start: PositiveFloat
    stop: PositiveFloat
    num: Annotated[int, Strict(), Field(ge=1, le=MAX_FREQUENCIES_SCHEMA)]
    spacing: Literal["log", "linear"] = "log"

    @field_validator("stop")
    @classmethod
    def _ordered(cls, stop, info):
        start = info.data.get("start")
        if start is not None and stop < start:
            raise ValueError(f"must be >= start = {start:g} Hz")
        return stop


class FrequencySpec(_Closed):
    """``[frequencies]``: a list of frequencies [Hz] or a range."""

    f_Hz: Annotated[list[PositiveFloat], Field(min_length=1,
                                               max_length=MAX_FREQUENCIES_SCHEMA)] \
        | FrequencyRange

    @field_validator("f_Hz", mode="before")
    @classmethod
    def _list_or_range(cls, v):
        if not isinstance(v, (list, dict)):
            raise ValueError("must be a list of frequencies [Hz] or a range "
                             "{ start = ..., stop = ..., num = ..., spacing = 'log' }")
        return v

    def values(self) -> np.ndarray:
        """The frequencies [Hz] as an array."""
        f = self.f_Hz
        if isinstance(f, FrequencyRange):
            if f.spacing == "log":
                return np.geomspace(f.start, f.stop, f.num)
            return np.linspace(f.start, f.stop, f.num)
        return np.asarray(f, dtype=float)




class ChannelSpec(_Closed):
    """``[channel]`` of a nonlocal spin valve: the normal-metal channel along x."""

    material: str
    length_nm: Length
    width_nm: Length
    thickness_nm: Length


class ElectrodesSpec(_Closed):
    """``[electrodes]`` of a nonlocal spin valve: two ferromagnetic bars on the channel."""

    material: str
    width_nm: Length
    length_nm: Length
    thickness_nm: Length
    spacing_nm: Length


class InterfaceSpec(_Closed):
    """``[[interfaces]]``: a spin-resistive junction between two materials or regions."""

    between: tuple[str, str]
    G_s_m_per_s: Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]


class SolverSpec(_Closed):
    """``[solver]``: how ``A(omega) x = b`` is solved.

    ``method``: ``"auto"`` (default: a reduced basis for sweeps of 8 or more frequencies
    on meshes of 5000 or more unknowns, else direct up to a size per dimension and
    iterative above; see :func:`fem.solvers.linear.auto_method`), ``"direct"`` (SuperLU),
    ``"iterative"`` (AMG-preconditioned GMRES) or ``"reduced"`` (a certified reduced
    basis over the sweep).  ``rel_tol``: for ``iterative`` the relative residual of every
    solve, for ``reduced`` the bound on the relative error of the fields and of every
    contact signal at every frequency.  ``max_iterations``: GMRES iterations per solve;
    ``max_full_solves``: full solves a reduced basis may use.
    """

    method: Literal["auto", "direct", "iterative", "reduced"] = "auto"
    rel_tol: Annotated[float, Strict(), Field(gt=0, lt=1)] = 1e-6
    max_iterations: Annotated[int, Field(ge=1, strict=True)] = 1000
    max_full_solves: Annotated[int, Field(ge=2, strict=True)] = 64


class OutputSpec(_Closed):
    """``[output]``: which frequencies get full fields (VTU) in a sweep.

    ``"auto"`` (default): all of them for small meshes, else ten spread over the
    sweep; ``"all"``; ``"none"``; or a list of the device's frequencies [Hz].
    """

    fields: Literal["auto", "all", "none"] | list[PositiveFloat] = "auto"


class AdaptSpec(_Closed):
    """``[adapt]``: refine the mesh until the estimated relative error of one contact's
    ``Z`` is below ``rel_error`` at the listed frequencies (dual-weighted residual;
    :func:`fem.studies.adapt.adapt`).

    ``contact``: an injection or detector contact; ``f_Hz``: the frequencies [Hz] the
    estimate must hold at (default: the device's lowest, highest and one between);
    ``max_nodes``: stop with an error rather than refine beyond this many nodes;
    ``strategy``: ``"graded"`` remeshes the device's graded gmsh mesh at the scale the
    estimate asks for, ``"refine"`` splits the elements it marks, ``"auto"`` graded
    where it applies (a device's own gmsh geometry with graded sizes).
    """

    contact: str
    rel_error: Annotated[float, Strict(), Field(gt=0, lt=1)] = 1e-3
    max_nodes: Annotated[int, Field(ge=10, strict=True)] = 2_000_000
    f_Hz: Annotated[list[PositiveFloat], Field(min_length=1, max_length=100)] | None = None
    strategy: Literal["auto", "graded", "refine"] = "auto"
