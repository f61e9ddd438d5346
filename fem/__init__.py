"""spinfem: finite elements for longitudinal spin accumulation and spin diffusion.

>>> import fem
>>> fem.NormalMetal(chi_m=0.05, D_m=1e-2, tau_mL=1e-11).spin_diffusion_length > 0
True
"""

from .core.errors import (
    DeviceError,
    MaterialDataWarning,
    MeshError,
    SolveError,
    SpinfemError,
    SpinfemWarning,
)
from .core.units import spin_signal_ohm
from .core.version import __version__
from .model.device import Device, load_device, validate_device
from .model.materials import Ferromagnet, NormalMetal, material, materials_table
from .solvers.result import Result, Sample
from .solvers.solve import Problem, prepare, solve
from .solvers.sweep import Sweep, open_netcdf, sweep
from .studies.adapt import adapt
from .studies.fitting import FitResult, fit

__all__ = [
    "Device",
    "DeviceError",
    "Ferromagnet",
    "FitResult",
    "MaterialDataWarning",
    "MeshError",
    "NormalMetal",
    "Problem",
    "Result",
    "Sample",
    "SolveError",
    "SpinfemError",
    "SpinfemWarning",
    "Sweep",
    "__version__",
    "adapt",
    "fit",
    "load_device",
    "material",
    "materials_table",
    "open_netcdf",
    "prepare",
    "solve",
    "spin_signal_ohm",
    "sweep",
    "validate_device",
]
