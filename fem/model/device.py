"""Device files: a closed pydantic schema for TOML device descriptions.

Every dimensional key carries its unit (``thickness_nm``, ``tau_mM_s``);
:func:`load_device` validates a file and returns a frozen :class:`Device`.
Any problem -- a TOML syntax error, an unknown key, a wrong type, an
unphysical parameter, an impossible geometry -- becomes a
:class:`~fem.core.errors.DeviceError` whose message names the key path and the rule.

Geometries (``[device] geometry``):

* ``stack``: ``[[layers]]`` along x from the injection face ``x = 0``; faces
  ``x_min``, ``x_max`` (``y_*``, ``z_*`` in 2D/3D); ``mesher = "structured"``
  (scikit-fem's tensor meshes, default) or ``"gmsh"``.
* ``pillar``: a CPP spin-valve pillar, ``[[layers]]`` from bottom to top along
  z (the second coordinate in 2D), cross-section ``"rectangle"`` (``width_nm``
  along x, ``depth_nm`` along y) or ``"ellipse"`` (axes ``width_nm``, ``depth_nm``);
  faces ``bottom``, ``top``, ``sides``.
* ``nonlocal_spin_valve``: ``[channel]`` along x centred on the midpoint of
  ``[electrodes]`` (injector at ``x = -spacing/2``, detector at ``+spacing/2``,
  on top of the channel); faces ``injector_top``, ``detector_top``,
  ``channel_x_min``, ``channel_x_max``, ``channel_bottom``; regions
  ``channel``, ``injector``, ``detector``.  ``dimension = 2`` is the x-z
  cross-section per unit depth in y.
* ``mesh``: a user mesh (``mesh = "path"``, any meshio format, coordinates in
  ``mesh_unit``) with ``[regions]`` mapping physical-group names to materials;
  contacts name physical groups.
"""

from __future__ import annotations

import hashlib
import tomllib
import warnings
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from ..core.errors import DeviceError, MaterialDataWarning
from ..core.units import SUFFIX_TO_SI, to_si
from .materials import Material
from .specs import (
    MATERIAL_SPECS,
    AdaptSpec,
    ChannelSpec,
    ContactSpec,
    ElectrodesSpec,
    FrequencySpec,
    InterfaceSpec,
    LayerSpec,
    Length,
    MaterialSpec,
    OutputSpec,
    SolverSpec,
    _Closed,
)

Geometry = Literal["stack", "pillar", "nonlocal_spin_valve", "mesh"]

#: ``[output] fields = "auto"``: every frequency gets fields while nodes x frequencies
#: stays below this (about 1 GB of VTU)
AUTO_FIELDS_VALUES = 20_000_000

NLSV_FACES = ["injector_top", "detector_top", "channel_x_min", "channel_x_max", "channel_bottom"]
PILLAR_FACES = ["bottom", "top", "sides"]


def _not_bool(v):
    if isinstance(v, bool):
        raise ValueError(f"must be 1, 2 or 3, got boolean {v}")
    return v


class DeviceSection(_Closed):
    """``[device]``: name, geometry and sizes (nm)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1)]
    geometry: Geometry = "stack"
    dimension: Annotated[Literal[1, 2, 3], BeforeValidator(_not_bool)] = 1
    width_nm: Length | None = None
    height_nm: Length | None = None
    depth_nm: Length | None = None
    cross_section: Literal["rectangle", "ellipse"] = "rectangle"
    mesher: Literal["structured", "gmsh"] = "structured"
    mesh_size_nm: Length | None = None
    #: divides every size of a graded gmsh mesh (2: twice as fine; 0.5: twice as coarse)
    mesh_refine: Annotated[float, Strict(), Field(gt=0.01, le=100, allow_inf_nan=False)] = 1.0
    mesh: str | None = None
    mesh_unit: Literal["nm", "um", "m"] = "nm"

    @model_validator(mode="after")
    def _sizes_for_geometry(self):
        g, d = self.geometry, self.dimension
        if g == "stack":
            if d >= 2 and self.width_nm is None:
                raise DeviceError("width_nm", f"required when dimension = {d}")
            if d == 3 and self.height_nm is None:
                raise DeviceError("height_nm", "required when dimension = 3")
            if d == 1 and self.mesher == "gmsh":
                raise DeviceError("mesher", "'gmsh' needs dimension 2 or 3")
        elif g == "pillar":
            if d == 1:
                raise DeviceError("dimension", "a pillar needs dimension 2 or 3")
            if self.width_nm is None:
                raise DeviceError("width_nm", "required for a pillar")
            if d == 3 and self.depth_nm is None:
                raise DeviceError("depth_nm", "required for a 3D pillar")
            if d == 2 and self.cross_section == "ellipse":
                raise DeviceError("cross_section", "'ellipse' needs dimension = 3")
        elif g == "nonlocal_spin_valve" and d == 1:
            raise DeviceError("dimension", "a nonlocal spin valve needs dimension 2 or 3")
        elif g == "mesh" and self.mesh is None:
            raise DeviceError("mesh", "required for geometry = 'mesh' (mesh = 'path/to/file.msh')")
        elif g == "mesh" and d == 1:
            raise DeviceError("dimension", "a user mesh needs dimension = 2 or 3 (triangles or "
                              "tetrahedra)")
        if self.mesh_refine != 1.0:
            if self.mesh_size_nm is not None:
                raise DeviceError("mesh_refine", "scales the graded mesh; mesh_size_nm asks for "
                                  "a uniform one: give one of them")
            if g == "mesh" or (g == "stack" and self.mesher == "structured"):
                raise DeviceError("mesh_refine", "a key of gmsh meshes (pillar, "
                                  "nonlocal_spin_valve, stack with mesher = 'gmsh')")
        if g != "mesh" and self.mesh is not None:
            raise DeviceError("mesh", "only allowed for geometry = 'mesh'")
        if g != "stack" and self.mesher != "structured" and "mesher" in self.model_fields_set:
            raise DeviceError("mesher", "a key of geometry = 'stack' only")
        return self


class Device(_Closed):
    """A validated device: the whole TOML file."""

    device: DeviceSection
    materials: Annotated[dict[str, MaterialSpec], Field(min_length=1)]
    layers: list[LayerSpec] | None = None
    channel: ChannelSpec | None = None
    electrodes: ElectrodesSpec | None = None
    regions: dict[str, str] | None = None
    interfaces: list[InterfaceSpec] = []
    contacts: Annotated[dict[str, ContactSpec], Field(min_length=1)]
    frequencies: FrequencySpec
    output: OutputSpec = OutputSpec()
    solver: SolverSpec = SolverSpec()
    adapt: AdaptSpec | None = None
    _source_dir: Path | None = PrivateAttr(default=None)
    _source_sha256: str | None = PrivateAttr(default=None)

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
    def geometry(self) -> str:
        return self.device.geometry

    @property
    def dimension(self) -> int:
        return self.device.dimension

    def junction_P_F(self, contact: str) -> float | None:
        """``P_F`` of the ferromagnet ``F`` of a junction contact ``"F|N"`` (None: not a
        junction, or its ferromagnet has no ``P_F``)."""
        junction = self.contacts[contact].junction
        if junction is None:
            return None
        spec = self.materials.get(self.region_materials().get(junction[0], junction[0]))
        return getattr(spec, "P_F", None)

    def signal_polarizations(self, detector: str) -> tuple[float, float] | None:
        """``(P_inj, P_det)`` that turn ``Z`` of ``detector`` into ohms: the ``P_F`` of
        the one injection contact's and of the detector's junction ferromagnets (None
        unless both are junctions with ``P_F`` and there is one injection contact)."""
        injections = [n for n, c in self.contacts.items() if c.kind == "injection"]
        if len(injections) != 1:
            return None
        pols = self.junction_P_F(injections[0]), self.junction_P_F(detector)
        return None if None in pols else pols

    @property
    def graded_mesh(self) -> bool:
        """Whether gmsh meshes this device from its own geometry with sizes graded by the
        physics (not a user mesh, a uniform ``mesh_size_nm`` or a structured stack)."""
        spec = self.device
        return (spec.geometry != "mesh" and spec.mesh_size_nm is None
                and not (spec.geometry == "stack" and spec.mesher == "structured"))

    def material(self, name: str) -> Material:
        """The physical material object of ``[materials.<name>]`` (SI)."""
        return self.materials[name].build()

    def layer_names(self) -> list[str]:
        """Region names of the layers: the ``name`` key or ``<material>_<index>``."""
        return [lay.name or f"{lay.material}_{i}" for i, lay in enumerate(self.layers or [])]

    def layer_edges_m(self) -> np.ndarray:
        """Layer boundaries along the stacking axis [m], shape ``(n_layers + 1,)``."""
        t = [to_si("thickness_nm", lay.thickness_nm) for lay in self.layers or []]
        return np.concatenate([[0.0], np.cumsum(t)])

    def region_materials(self) -> dict[str, str]:
        """Region name -> material name."""
        if self.geometry in ("stack", "pillar"):
            return {n: lay.material for n, lay in zip(self.layer_names(), self.layers)}
        if self.geometry == "nonlocal_spin_valve":
            return {"channel": self.channel.material, "injector": self.electrodes.material,
                    "detector": self.electrodes.material}
        return dict(self.regions)

    def touching_regions(self) -> set[frozenset[str]] | None:
        """Pairs of regions that share a face (None for a user mesh: read it to know)."""
        if self.geometry in ("stack", "pillar"):
            names = self.layer_names()
            return {frozenset(p) for p in zip(names[:-1], names[1:])}
        if self.geometry == "nonlocal_spin_valve":
            return {frozenset(("channel", "injector")), frozenset(("channel", "detector"))}
        return None

    def faces(self) -> list[str] | None:
        """Names a contact may sit ``at`` (None: any physical group of the user mesh)."""
        if self.geometry == "stack":
            return ["x_min", "x_max", "y_min", "y_max", "z_min", "z_max"][: 2 * self.dimension]
        if self.geometry == "pillar":
            return list(PILLAR_FACES)
        if self.geometry == "nonlocal_spin_valve":
            return list(NLSV_FACES)
        return None

    def extent_m(self) -> tuple[float, ...]:
        """Size of a stack's box along x (and y, z) [m]."""
        ext = [self.layer_edges_m()[-1]]
        if self.dimension >= 2:
            ext.append(to_si("width_nm", self.device.width_nm))
        if self.dimension == 3:
            ext.append(to_si("height_nm", self.device.height_nm))
        return tuple(ext)

    def injections(self) -> dict[str, complex]:
        """Injection contacts: name -> spin-current density ``j_in`` [A/s]."""
        return {n: c.j_in for n, c in self.contacts.items() if c.kind == "injection"}

    def f_Hz(self) -> np.ndarray:
        """The device's frequencies [Hz]."""
        return self.frequencies.values()

    def mesh_path(self) -> Path:
        """The user mesh file of ``geometry = "mesh"``, relative paths resolved
        against the device file's folder, then the working folder."""
        p = Path(self.device.mesh)
        if not p.is_absolute() and self._source_dir is not None and \
                (self._source_dir / p).exists():
            return self._source_dir / p
        return p

    def source_sha256(self) -> str:
        """SHA-256 of the device file's text (of the resolved JSON if not from a file)."""
        if self._source_sha256 is not None:
            return self._source_sha256
        import json

        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def field_indices(self, n_nodes: int) -> list[int]:
        """Indices of the frequencies that get full fields (``[output] fields``)."""
        f = self.f_Hz()
        sel = self.output.fields
        if sel == "all" or (sel == "auto" and n_nodes * f.size <= AUTO_FIELDS_VALUES):
            return list(range(f.size))
        if sel == "none":
            return []
        if sel == "auto":
            return sorted(set(np.round(np.linspace(0, f.size - 1, 10)).astype(int).tolist()))
        return sorted({int(np.argmin(np.abs(f - v))) for v in sel})

    def mesh_unit_m(self) -> float:
        return SUFFIX_TO_SI["_" + self.device.mesh_unit]

    def with_params(self, **changes) -> Device:
        """A copy with dotted-path changes, revalidated, e.g.
        ``device.with_params(**{"materials.Cu.tau_mL_s": 2e-11})``."""
        data = self.model_dump(exclude_none=True)
        for path, value in changes.items():
            node = data
            keys = path.split(".")
            for k in keys[:-1]:
                node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
            last = keys[-1]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        dev = validate_device(data)
        dev._source_dir = self._source_dir
        return dev


# ------------------------------------------------------------ error messages
def _loc(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in ("ferromagnet", "normal_metal") or "[" in str(p) or p == "FrequencyRange":
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
    if kind == "union_tag_not_found":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"kind must be one of {err['ctx']['expected_tags']}, got {err['ctx']['tag']!r}"
    if kind in ("float_type", "int_type", "float_parsing", "int_parsing", "int_from_float"):
        what = "an integer" if kind.startswith("int") else "a number"
        return f"must be {what}, got {_shown(err['input'])}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}
    if kind in bounds:
        (limit,) = err["ctx"].values()
        return f"must be {bounds[kind]} {limit:g}, got {_shown(err['input'])}"
    if kind in ("finite_number",):
        return f"must be finite, got {_shown(err['input'])}"
    return err["msg"].removeprefix("Value error, ")


def _shown(value) -> str:
    text = repr(value)
    kind = {bool: "boolean", str: "string"}.get(type(value), type(value).__name__)
    return f"{kind} {text if len(text) < 40 else text[:37] + '...'}"


def _first_error(exc: ValidationError) -> DeviceError:
    errors = exc.errors()
    for e in errors:  # a rule of a whole table that names its key (a DeviceError)
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, DeviceError):
            loc = ".".join(x for x in (_loc(e["loc"]), cause.loc) if x)
            return DeviceError(loc, cause.rule)
    # a key with the wrong unit suffix also makes the right one "missing": report the
    # cause; of the branches of a union (a list of frequencies or a range), the one that
    # got deepest into the input is the one the file meant
    err = next((e for e in errors if e["type"] == "extra_forbidden"), None) or max(
        errors, key=lambda e: len(e["loc"]))
    tagged = err["type"] in ("union_tag_invalid", "union_tag_not_found")
    loc = _loc(err["loc"]) + (".kind" if tagged else "")
    return DeviceError(loc, _message(err))


# ------------------------------------------------------------------- rules
def _require(dev: Device, key: str, present: bool):
    if not present:
        raise DeviceError(key, f"required for geometry = {dev.geometry!r}")


def _forbid(dev: Device, key: str, present: bool):
    if present:
        raise DeviceError(key, f"not a key of geometry = {dev.geometry!r}")


def _known_material(dev: Device, loc: str, name: str):
    if name not in dev.materials:
        raise DeviceError(loc, f"unknown material {name!r}; defined: {sorted(dev.materials)}")


def _check_geometry(dev: Device):
    g = dev.geometry
    layered = g in ("stack", "pillar")
    _require(dev, "layers", bool(dev.layers) or not layered)
    _forbid(dev, "layers", dev.layers is not None and not layered)
    _require(dev, "channel", dev.channel is not None or g != "nonlocal_spin_valve")
    _require(dev, "electrodes", dev.electrodes is not None or g != "nonlocal_spin_valve")
    _forbid(dev, "channel", dev.channel is not None and g != "nonlocal_spin_valve")
    _forbid(dev, "electrodes", dev.electrodes is not None and g != "nonlocal_spin_valve")
    _require(dev, "regions", bool(dev.regions) or g != "mesh")
    _forbid(dev, "regions", dev.regions is not None and g != "mesh")
    for i, lay in enumerate(dev.layers or []):
        _known_material(dev, f"layers[{i}].material", lay.material)
    names = dev.layer_names()
    if len(set(names)) != len(names):
        raise DeviceError("layers", f"layer names must be unique, got {names}")
    if g == "nonlocal_spin_valve":
        ch, el = dev.channel, dev.electrodes
        _known_material(dev, "channel.material", ch.material)
        _known_material(dev, "electrodes.material", el.material)
        if el.spacing_nm <= el.width_nm:
            raise DeviceError("electrodes.spacing_nm", f"must be > electrodes.width_nm = "
                              f"{el.width_nm:g} (centre to centre), or the electrodes overlap")
        if el.spacing_nm + el.width_nm > ch.length_nm:
            raise DeviceError("electrodes.spacing_nm", "the electrodes (spacing_nm + width_nm = "
                              f"{el.spacing_nm + el.width_nm:g}) must fit on the channel "
                              f"(channel.length_nm = {ch.length_nm:g})")
        if dev.dimension == 3 and el.length_nm < ch.width_nm:
            raise DeviceError("electrodes.length_nm", f"must be >= channel.width_nm = "
                              f"{ch.width_nm:g} (the electrodes cross the whole channel)")
    for name, mat in (dev.regions or {}).items():
        _known_material(dev, f"regions.{name}", mat)


def _check_contacts(dev: Device):
    faces = dev.faces()
    regions = dev.region_materials()
    touching = dev.touching_regions()
    for cname, c in dev.contacts.items():
        if c.junction is not None:
            for r in c.junction:
                if r not in regions:
                    raise DeviceError(f"contacts.{cname}.at", f"a junction 'F|N' joins two "
                                      f"regions, and {r!r} is none of {sorted(regions)}")
            if touching is not None and frozenset(c.junction) not in touching:
                raise DeviceError(f"contacts.{cname}.at", f"regions {c.junction[0]!r} and "
                                  f"{c.junction[1]!r} do not touch: no junction {c.at!r}")
            kinds = [getattr(dev.materials.get(regions[r]), "kind", None) for r in c.junction]
            if kinds == ["normal_metal", "ferromagnet"]:
                raise DeviceError(f"contacts.{cname}.at", f"a junction is written 'F|N', the "
                                  f"ferromagnet first: {c.junction[1]}|{c.junction[0]}, "
                                  f"not {c.at!r}")
            continue
        if faces is not None and c.at not in faces:
            raise DeviceError(f"contacts.{cname}.at", f"must be one of {faces} for geometry = "
                              f"{dev.geometry!r} in {dev.dimension}D, got {c.at!r}")
    seen: dict = {}
    for cname, c in dev.contacts.items():
        place = c.at if c.junction is None else frozenset(c.junction)
        if place in seen:
            raise DeviceError(f"contacts.{cname}.at", f"contacts {seen[place]!r} and {cname!r} "
                              f"both sit on {c.at!r}: one contact per face or junction")
        seen[place] = cname
    if not any(c.kind == "injection" for c in dev.contacts.values()):
        raise DeviceError("contacts", "needs at least one contact with kind = 'injection'")
    if dev.adapt is not None:
        name = dev.adapt.contact
        if name not in dev.contacts:
            raise DeviceError("adapt.contact", f"no contact {name!r}; contacts: "
                              f"{sorted(dev.contacts)}")
        if dev.contacts[name].kind not in ("injection", "detector"):
            raise DeviceError("adapt.contact", f"must be an injection or detector contact (its "
                              f"Z is the goal), got {name!r} of kind "
                              f"{dev.contacts[name].kind!r}")
        if dev.adapt.strategy == "graded" and not dev.graded_mesh:
            raise DeviceError("adapt.strategy", "'graded' remeshes the device's own graded "
                              "gmsh mesh: not for geometry = 'mesh', a uniform mesh_size_nm "
                              "or a structured stack (use 'refine' or 'auto')")


def _check_interfaces(dev: Device):
    regions = dev.region_materials()
    known = set(regions) | set(dev.materials)
    for i, itf in enumerate(dev.interfaces):
        for name in itf.between:
            if name not in known:
                raise DeviceError(f"interfaces[{i}].between", f"{name!r} is neither a material "
                                  f"nor a region; regions: {sorted(regions)}")
        sides = [{r for r, m in regions.items() if name in (r, m)} for name in itf.between]
        if itf.between[0] == itf.between[1] or sides[0] & sides[1]:
            raise DeviceError(f"interfaces[{i}].between", "needs two different names with no "
                              f"region in common, got {list(itf.between)}")
        touching = dev.touching_regions()
        if touching is not None and not any(frozenset((a, b)) in touching
                                            for a in sides[0] for b in sides[1]):
            pairs = sorted("/".join(sorted(p)) for p in touching)
            raise DeviceError(f"interfaces[{i}].between", f"{itf.between[0]!r} and "
                              f"{itf.between[1]!r} never touch in this geometry (regions that "
                              f"touch: {pairs})")


def _check_output(dev: Device):
    fields = dev.output.fields
    if isinstance(fields, list):
        f = dev.f_Hz()
        for i, v in enumerate(fields):
            if not np.any(np.isclose(f, v, rtol=1e-9, atol=0)):
                raise DeviceError(f"output.fields[{i}]", f"{v:g} Hz is not one of the "
                                  "device's frequencies")


def expand_presets(data: dict) -> dict:
    """``[materials.X] preset = "Py"`` (optionally ``T_K = 4.2``) filled in from the
    material library; every key the table gives itself overrides the library's."""
    mats = data.get("materials") if isinstance(data, dict) else None
    if not isinstance(mats, dict) or not any(
            isinstance(m, dict) and "preset" in m for m in mats.values()):
        return data
    from .materials import library_entry

    out = {}
    for name, spec in mats.items():
        if not isinstance(spec, dict) or "preset" not in spec:
            out[name] = spec
            continue
        loc = f"materials.{name}"
        preset, T = spec["preset"], spec.get("T_K")
        if not isinstance(preset, str):
            raise DeviceError(f"{loc}.preset", f"must be a material name, got {_shown(preset)}")
        if T is not None and (isinstance(T, bool) or not isinstance(T, int | float)):
            raise DeviceError(f"{loc}.T_K", f"must be a number, got {_shown(T)}")
        try:
            entry = library_entry(preset, T)
        except DeviceError as err:
            raise err.within(loc) from None
        if spec.get("kind", entry.kind) != entry.kind:
            raise DeviceError(f"{loc}.kind", f"preset {preset!r} is a {entry.kind}, got "
                              f"kind = {spec['kind']!r}")
        if "tau_mL_s" not in spec and (text := entry.caveat()) is not None:
            warnings.warn(f"{loc}: {text}", MaterialDataWarning, stacklevel=2)
        base = {"kind": entry.kind}
        keys = MATERIAL_SPECS[entry.kind].FILE_KEYS
        base.update({keys[k]: v for k, v in entry.model_params().items()})
        if "r_per_s" in spec:  # the file gives r instead of tau_mM
            base.pop("tau_mM_s", None)
        out[name] = {**base, **spec}
    return {**data, "materials": out}


def validate_device(data: dict) -> Device:
    """Validate a parsed device dictionary; raise :class:`DeviceError` on any problem."""
    try:
        dev = Device.model_validate(expand_presets(data))
    except ValidationError as exc:
        raise _first_error(exc) from None
    for name, spec in dev.materials.items():
        try:
            spec.build()
        except DeviceError as err:
            raise err.within(f"materials.{name}") from None
    _check_geometry(dev)
    _check_contacts(dev)
    _check_interfaces(dev)
    _check_output(dev)
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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeviceError(str(path), f"cannot read the device file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DeviceError(str(path), "not a text file in UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeviceError(str(path), f"not valid TOML: {exc}") from None
    if not data:
        raise DeviceError(str(path), "empty device file: no keys (a device needs [device], "
                          "[materials], [contacts] and [frequencies])")
    dev = validate_device(data)
    dev._source_dir = path.resolve().parent
    dev._source_sha256 = hashlib.sha256(text.encode()).hexdigest()
    return dev
