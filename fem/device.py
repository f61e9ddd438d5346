"""Device files: a closed pydantic schema for TOML device descriptions.

Every dimensional key carries its unit (``thickness_nm``, ``tau_mM_s``);
:func:`load_device` validates a file and returns a frozen :class:`Device`.
Any problem -- a TOML syntax error, an unknown key, a wrong type, an
unphysical parameter -- becomes a :class:`~fem.errors.DeviceError` whose
message names the key path and the rule.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import DeviceError
from .materials import Ferromagnet, Material, NormalMetal
from .units import to_si

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Time = Annotated[float, Field(gt=0)]  # "inf" allowed: no lattice decay


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSection(_Closed):
    """``[device]``: name, geometry and sizes (nm)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1)]
    geometry: Literal["stack"] = "stack"
    dimension: Literal[1, 2, 3] = 1
    width_nm: PositiveFloat | None = None
    height_nm: PositiveFloat | None = None
    mesh_size_nm: PositiveFloat | None = None

    @model_validator(mode="after")
    def _sizes_for_dimension(self):
        if self.dimension >= 2 and self.width_nm is None:
            raise ValueError(f"width_nm is required when dimension = {self.dimension}")
        if self.dimension == 3 and self.height_nm is None:
            raise ValueError("height_nm is required when dimension = 3")
        return self


class FerromagnetSpec(_Closed):
    """``[materials.X]`` with ``kind = "ferromagnet"``."""

    kind: Literal["ferromagnet"]
    chi_M: float
    chi_m: float
    D_m_m2_per_s: float
    tau_mM_s: float | None = None
    r_per_s: float | None = None
    tau_ML_s: Time = math.inf
    tau_mL_s: Time = math.inf

    def build(self) -> Ferromagnet:
        return _build(Ferromagnet, dict(
            chi_M=("chi_M", self.chi_M), chi_m=("chi_m", self.chi_m),
            D_m=("D_m_m2_per_s", self.D_m_m2_per_s), tau_mM=("tau_mM_s", self.tau_mM_s),
            r=("r_per_s", self.r_per_s), tau_ML=("tau_ML_s", self.tau_ML_s),
            tau_mL=("tau_mL_s", self.tau_mL_s)))


class NormalMetalSpec(_Closed):
    """``[materials.X]`` with ``kind = "normal_metal"``."""

    kind: Literal["normal_metal"]
    chi_m: float
    D_m_m2_per_s: float
    tau_mL_s: Time = math.inf

    def build(self) -> NormalMetal:
        return _build(NormalMetal, dict(
            chi_m=("chi_m", self.chi_m), D_m=("D_m_m2_per_s", self.D_m_m2_per_s),
            tau_mL=("tau_mL_s", self.tau_mL_s)))


def _build(cls, args: dict[str, tuple[str, Any]]):
    """Construct a material, reporting errors under the device-file key names."""
    try:
        return cls(**{k: (None if v is None else to_si(key, v) if key != k else v)
                      for k, (key, v) in args.items()})
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
    thickness_nm: PositiveFloat
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None


class ContactSpec(_Closed):
    """``[contacts.X]``: where a contact sits and what it does."""

    at: str
    kind: Literal["injection", "ground", "insulating"]
    j_in_A_per_s: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _amplitude(self):
        if self.kind == "injection" and self.j_in_A_per_s is None:
            raise ValueError("j_in_A_per_s = [re, im] is required for kind = 'injection'")
        if self.kind != "injection" and self.j_in_A_per_s is not None:
            raise ValueError(
                f"j_in_A_per_s is only allowed for kind = 'injection', not {self.kind!r}")
        return self

    @property
    def j_in(self) -> complex:
        """Injected spin-current density [A/s] (complex amplitude), 0 unless injection."""
        if self.j_in_A_per_s is None:
            return 0j
        return complex(*self.j_in_A_per_s)


class FrequencyRange(_Closed):
    """``f_Hz = { start, stop, num, spacing }``."""

    start: PositiveFloat
    stop: PositiveFloat
    num: Annotated[int, Field(ge=1)]
    spacing: Literal["log", "linear"] = "log"

    @model_validator(mode="after")
    def _ordered(self):
        if self.stop < self.start:
            raise ValueError("stop must be >= start")
        return self


class FrequencySpec(_Closed):
    """``[frequencies]``: a list of frequencies [Hz] or a range."""

    f_Hz: Annotated[list[PositiveFloat], Field(min_length=1)] | FrequencyRange

    def values(self) -> np.ndarray:
        """The frequencies [Hz] as an array."""
        f = self.f_Hz
        if isinstance(f, FrequencyRange):
            if f.spacing == "log":
                return np.geomspace(f.start, f.stop, f.num)
            return np.linspace(f.start, f.stop, f.num)
        return np.asarray(f, dtype=float)


class Device(_Closed):
    """A validated device: the whole TOML file."""

    device: DeviceSection
    materials: Annotated[dict[str, MaterialSpec], Field(min_length=1)]
    layers: Annotated[list[LayerSpec], Field(min_length=1)]
    contacts: Annotated[dict[str, ContactSpec], Field(min_length=1)]
    frequencies: FrequencySpec

    @field_validator("materials", "contacts")
    @classmethod
    def _names(cls, v: dict):
        for name in v:
            if not name.replace("_", "a").replace("-", "a").isalnum():
                raise ValueError(f"name {name!r} must use letters, digits, '_' or '-'")
        return v

    # ----------------------------------------------------------- derived
    @property
    def name(self) -> str:
        return self.device.name

    @property
    def dimension(self) -> int:
        return self.device.dimension

    def material(self, name: str) -> Material:
        """The physical material object of ``[materials.<name>]`` (SI)."""
        return self.materials[name].build()

    def layer_names(self) -> list[str]:
        """Region names of the layers: the ``name`` key or ``<material>_<index>``."""
        return [lay.name or f"{lay.material}_{i}" for i, lay in enumerate(self.layers)]

    def layer_edges_m(self) -> np.ndarray:
        """Layer boundaries along x [m], shape ``(n_layers + 1,)``."""
        t = [to_si("thickness_nm", lay.thickness_nm) for lay in self.layers]
        return np.concatenate([[0.0], np.cumsum(t)])

    def extent_m(self) -> tuple[float, ...]:
        """Size of the device box along x (and y, z) [m]."""
        ext = [self.layer_edges_m()[-1]]
        if self.dimension >= 2:
            ext.append(to_si("width_nm", self.device.width_nm))
        if self.dimension == 3:
            ext.append(to_si("height_nm", self.device.height_nm))
        return tuple(ext)

    def f_Hz(self) -> np.ndarray:
        """The device's frequencies [Hz]."""
        return self.frequencies.values()

    def with_params(self, **changes) -> Device:
        """A copy with dotted-path changes, revalidated, e.g.
        ``device.with_params(**{"materials.Cu.tau_mL_s": 2e-11})``."""
        data = self.model_dump()
        for path, value in changes.items():
            node = data
            keys = path.split(".")
            for k in keys[:-1]:
                node = node[int(k)] if isinstance(node, list) else node[k]
            last = keys[-1]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        return validate_device(data)


def _loc(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in ("ferromagnet", "normal_metal", "list[constrained-float]", "FrequencyRange"):
            continue  # union tags pydantic puts in the path
        else:
            out += ("." if out else "") + str(p)
    return out


def _message(err: dict) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (keys carry their unit: _nm, _s, _Hz, _m2_per_s, _per_s, _A_per_s)"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"kind must be one of {err['ctx']['expected_tags']}, got {err['ctx']['tag']!r}"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _first_error(exc: ValidationError) -> DeviceError:
    errors = exc.errors()
    # a key with the wrong unit suffix also makes the right one "missing": report the cause
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = _loc(err["loc"]) + (".kind" if err["type"] == "union_tag_invalid" else "")
    return DeviceError(loc, _message(err))


def validate_device(data: dict) -> Device:
    """Validate a parsed device dictionary; raise :class:`DeviceError` on any problem."""
    try:
        dev = Device.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc) from None
    for name, spec in dev.materials.items():
        try:
            spec.build()
        except DeviceError as err:
            raise err.within(f"materials.{name}") from None
    for i, lay in enumerate(dev.layers):
        if lay.material not in dev.materials:
            raise DeviceError(f"layers[{i}].material",
                              f"unknown material {lay.material!r}; "
                              f"defined: {sorted(dev.materials)}")
    names = dev.layer_names()
    if len(set(names)) != len(names):
        raise DeviceError("layers", f"layer names must be unique, got {names}")
    faces = ["x_min", "x_max", "y_min", "y_max", "z_min", "z_max"][: 2 * dev.dimension]
    for cname, c in dev.contacts.items():
        if c.at not in faces:
            raise DeviceError(f"contacts.{cname}.at",
                              f"must be one of {faces} for a {dev.dimension}D stack, got {c.at!r}")
    used = [c.at for c in dev.contacts.values()]
    if len(set(used)) != len(used):
        raise DeviceError("contacts", "two contacts sit on the same face")
    if not any(c.kind == "injection" for c in dev.contacts.values()):
        raise DeviceError("contacts", "needs at least one contact with kind = 'injection'")
    return dev


def load_device(path: str | Path) -> Device:
    """Read and validate a TOML device file.

    Raises
    ------
    DeviceError
        The file is missing, is not valid TOML, or breaks a rule of the schema;
        the message names the key path and the rule.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DeviceError(str(path), f"cannot read the device file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeviceError(str(path), f"not valid TOML: {exc}") from None
    return validate_device(data)
