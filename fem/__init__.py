"""spinfem: finite elements for longitudinal spin accumulation and spin diffusion.

>>> import fem
>>> fem.NormalMetal(chi_m=0.05, D_m=1e-2, tau_mL=1e-11).spin_diffusion_length > 0
True
"""

from .device import Device, load_device, validate_device
from .errors import DeviceError, MeshError, SolveError, SpinfemError
from .fitting import FitResult, fit
from .materials import Ferromagnet, NormalMetal, material, materials_table
from .result import Result, Sample
from .solve import Problem, prepare, solve
from .sweep import Sweep, open_netcdf, sweep
from .version import __version__

__all__ = [
    "Device",
    "DeviceError",
    "Ferromagnet",
    "FitResult",
    "MeshError",
    "NormalMetal",
    "Problem",
    "Result",
    "Sample",
    "SolveError",
    "SpinfemError",
    "Sweep",
    "__version__",
    "fit",
    "load_device",
    "material",
    "materials_table",
    "open_netcdf",
    "prepare",
    "solve",
    "sweep",
    "validate_device",
]
