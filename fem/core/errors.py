"""Exceptions of spinfem.

The library raises; only the CLI prints and exits.  Every message names the
place in the input (``loc``, a dotted key path such as ``layers[1].thickness_nm``)
and the rule that was broken.
"""

from __future__ import annotations


class SpinfemError(Exception):
    """Base class of every error spinfem raises on purpose."""


class DeviceError(SpinfemError, ValueError):
    """Bad device input: a key path ``loc`` and the ``rule`` it breaks."""

    def __init__(self, loc: str, rule: str):
        self.loc = loc
        self.rule = rule
        super().__init__(f"{loc}: {rule}" if loc else rule)

    def within(self, prefix: str) -> DeviceError:
        """The same error with ``prefix`` put in front of its key path."""
        loc = f"{prefix}.{self.loc}" if self.loc else prefix
        return DeviceError(loc, self.rule)


class SpinfemWarning(UserWarning):
    """Base class of the warnings spinfem gives on purpose (the CLI prints them as one
    line each)."""


class MaterialDataWarning(SpinfemWarning):
    """A library material whose spin-diffusion length is not a measurement (an
    extrapolation or an assumption, stated in the entry's note)."""


class MeshError(SpinfemError):
    """A mesh that cannot carry the device (missing region, contact, ...)."""


class SolveError(SpinfemError):
    """The linear solve failed or produced non-finite values."""
