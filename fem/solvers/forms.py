"""Weak forms of the spin-potential equation (scaled units).

Per region the coefficient is a constant, so the forms carry none: the
assembler multiplies each region's matrix by its scaled ``sigma`` or uses it
with the frequency-dependent ``chi_m kappa(omega)``.
"""

from skfem import BilinearForm, LinearForm
from skfem.helpers import dot, grad


@BilinearForm
def stiffness(u, v, w):
    """``grad u . grad v`` (times sigma per region: the diffusion term)."""
    return dot(grad(u), grad(v))


@BilinearForm
def mass(u, v, w):
    """``u v`` (times ``chi_m kappa(omega)`` per region: decay and dM coupling)."""
    return u * v


@LinearForm
def unit_load(v, w):
    """``v`` on a contact (times the injected current ``j_in``)."""
    return v
