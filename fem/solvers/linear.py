"""Linear solvers for ``A(omega) X = B`` on the assembled blocks.

``A(omega) = sum_q theta_q(omega) A_q`` with every ``A_q`` real, symmetric and
positive semi-definite (stiffness and interface terms, ``chi_m``-weighted masses,
lead boundary masses) and every coefficient ``theta_q`` in the sector
``-pi/2 <= arg theta_q <= 0`` (``kappa(omega)`` of a material has ``Re >= 0`` and
``Im <= 0`` for ``exp(-i omega t)``; a lead's ``q`` is its square root).  So ``A`` is
complex symmetric (``A^T = A``) and, with the real SPD matrix

    X(omega) = sum_q |theta_q(omega)| A_q,

``|x^H A x| >= alpha x^H X x`` with ``alpha = cos(spread/2) >= 1/sqrt(2)``, the
spread being the angular range of the ``theta_q``.  ``X`` is the preconditioner of
the iterative solver (its field of values bound makes GMRES converge independently of
the mesh and the frequency) and the norm of the reduced basis' error bound
(:mod:`fem.solvers.reduced`).

Solvers:

* ``direct``: SuperLU (scipy), one factorization per frequency, any number of
  right-hand sides; the reference.
* ``iterative``: restarted GMRES preconditioned by one smoothed-aggregation AMG
  V-cycle (pyamg) on ``X(omega)``, deflated by the region-wise constants ``Z``
  (``x = Q b + (I - Q A) y`` with ``Q = Z (Z^T A Z)^-1 Z^T`` and GMRES on
  ``(I - A Q) A y = (I - A Q) b``): at low frequency without spin flip these are the
  nearly singular modes of ``A``, which a V-cycle alone resolves too slowly.  A solve
  has converged when its relative residual is below ``rel_tol`` or below the rounding
  floor ``64 eps || |A| |x| || / ||b||`` (what rounding alone leaves in the residual of the
  exact solution: a nearly singular system cannot go lower, nor can a direct solve).
  The hierarchy is reused across frequencies while the weights ``|theta_q|`` stay
  within a factor :data:`AMG_REUSE_RATIO` of those it was built for, and the previous
  solution is the initial guess.  A solve that reaches neither raises
  :class:`~fem.core.errors.SolveError` naming the frequency.

:func:`auto_method` picks by size (measured in ``results/benchmarks``).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as spla

from ..core.errors import SolveError
from .assemble import Blocks


@functools.lru_cache(maxsize=1)
def _blas_pools():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas(solve):
    """Run ``solve`` with the BLAS thread pools (OpenBLAS, MKL) limited to one thread.

    SuperLU's supernodal kernels, GMRES and AMG call BLAS on small blocks: a second
    BLAS thread gains nothing (2D, 42k-234k unknowns: the same factorization time) or
    little (3D, 332k: 13%), but when the cores are busy (Dask workers in threads, a
    shared machine) the threads of a multithreaded BLAS wait on each other: 2D, 42k
    unknowns, beside a 2-thread BLAS load, SuperLU 0.24 s -> 4.5-11 s and an AMG-GMRES
    solve 0.69 s -> 6.6 s; limited to one thread, 0.81 s and 0.64 s
    (results/benchmarks/blas_threads.md)."""

    @functools.wraps(solve)
    def wrapper(*args, **kwargs):
        with _blas_pools().limit(limits=1, user_api="blas"):
            return solve(*args, **kwargs)

    return wrapper


#: rebuild the AMG hierarchy when a weight |theta_q| moves by more than this factor
AMG_REUSE_RATIO = 4.0
#: "auto" solves directly up to this many unknowns (per dimension), iteratively above
DIRECT_MAX_UNKNOWNS = {1: 10**7, 2: 400_000, 3: 40_000}
#: "auto" sweeps with a reduced basis from this many frequencies and this many unknowns
REDUCED_MIN_FREQUENCIES = 8
REDUCED_MIN_UNKNOWNS = 5_000


@dataclass(frozen=True)
class SolveStats:
    """How one frequency was solved.

    Attributes
    ----------
    method : str
        ``"direct"``, ``"iterative"`` or ``"reduced"``.
    iterations : int
        Krylov iterations (largest over the right-hand sides; 0 for direct/reduced).
    rel_residual : float
        ``max_j ||b_j - A x_j|| / ||b_j||`` (NaN for reduced solutions: see the estimate).
    seconds : float
        Wall time of the solve.
    """

    method: str
    iterations: int
    rel_residual: float
    seconds: float


def auto_method(n_unknowns: int, dim: int, n_frequencies: int = 1) -> str:
    """The method ``"auto"`` stands for: a reduced basis for sweeps of
    :data:`REDUCED_MIN_FREQUENCIES` or more frequencies on meshes of
    :data:`REDUCED_MIN_UNKNOWNS` or more unknowns, else ``direct`` up to
    :data:`DIRECT_MAX_UNKNOWNS` unknowns and ``iterative`` above."""
    if n_frequencies >= REDUCED_MIN_FREQUENCIES and n_unknowns >= REDUCED_MIN_UNKNOWNS:
        return "reduced"
    return "direct" if n_unknowns <= DIRECT_MAX_UNKNOWNS[dim] else "iterative"


def sector_alpha(theta: np.ndarray) -> float:
    """``alpha = cos(spread/2)`` of the nonzero coefficients: ``|x^H A x| >= alpha x^H X x``.

    0 when the coefficients do not lie in a half-plane (no bound)."""
    args = np.angle(theta[np.abs(theta) > 0])
    spread = float(args.max() - args.min()) if args.size else 0.0
    return max(0.0, float(np.cos(spread / 2))) if spread < np.pi else 0.0


def _residual(A, X, B) -> float:
    res = np.linalg.norm(B - A @ X, axis=0)
    nb = np.linalg.norm(B, axis=0)
    return float(np.max(res / np.where(nb > 0, nb, 1.0)))


class DirectSolver:
    """SuperLU factorization of ``A(omega)`` (one per frequency)."""

    method = "direct"

    def __init__(self, blocks: Blocks):
        self.blocks = blocks

    def describe(self) -> str:
        return "SuperLU (scipy.sparse.linalg.splu), complex, one factorization per frequency"

    @single_threaded_blas
    def solve(self, omega: float, B: np.ndarray, x0: np.ndarray | None = None
              ) -> tuple[np.ndarray, SolveStats]:
        """``X = A(omega)^-1 B`` for ``B`` of shape ``(n_free,)`` or ``(n_free, k)``
        (``x0``, an initial guess, is not needed)."""
        t = time.perf_counter()
        A = self.blocks.system(omega)
        # symmetric diagonal equilibration D A D, D = |diag A|^-1/2: a graded mesh puts
        # rows of very different size side by side (0.4 nm Py elements beside 30 nm Cu
        # ones), where SuperLU's threshold pivoting may leave the diagonal and fill in; a
        # cheap safeguard (the 100x slower factorizations once blamed on this were BLAS
        # threads contending with other work, see single_threaded_blas)
        d = 1.0 / np.sqrt(np.abs(A.diagonal()))
        As = A.multiply(d[:, None]).multiply(d[None, :]).tocsc()
        B = np.asarray(B, dtype=complex)
        Y = spla.splu(As).solve(B * (d if B.ndim == 1 else d[:, None]))
        X = Y * (d if Y.ndim == 1 else d[:, None])
        return X, SolveStats("direct", 0, _residual(A, X, B), time.perf_counter() - t)


def amg_hierarchy(X):
    """Smoothed-aggregation AMG hierarchy (pyamg) of the real SPD matrix ``X``.

    Strength of connection by ``evolution`` (Olson, Schroder, Tuminaro 2010) rather than
    the classical symmetric measure: it sees the strong direction of stretched elements
    (the quasi-1D structured bars: GMRES iterations 68 -> 12) and halves the iterations on
    the 3D spin valve (199k unknowns: 35 -> 15 at 1 GHz, 49 -> 29 at 100 GHz) for a
    setup about 3x longer and 15% more memory in the hierarchy.  Every level's matrix is
    made CSR: pyamg leaves coarse levels in BSR with 1x1 blocks, whose Gauss-Seidel
    sweeps are slower (a V-cycle at 128k unknowns: 32 ms BSR, 20 ms CSR)."""
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(X, symmetry="symmetric", strength="evolution",
                                           max_coarse=1000)
    for level in ml.levels:
        level.A = level.A.tocsr()
    return ml


def amg_preconditioner(ml) -> spla.LinearOperator:
    """One V-cycle of the real hierarchy ``ml`` as a complex operator (applied to the real
    and the imaginary part)."""
    P = ml.aspreconditioner(cycle="V")

    def apply(v):
        v = np.asarray(v).ravel()
        if np.isrealobj(v):
            return P.matvec(v)
        return P.matvec(np.ascontiguousarray(v.real)) + 1j * P.matvec(
            np.ascontiguousarray(v.imag))

    return spla.LinearOperator(P.shape, matvec=apply, dtype=complex)


class IterativeSolver:
    """GMRES preconditioned by AMG on ``X(omega)``; see the module docstring.

    Parameters
    ----------
    blocks : Blocks
    rel_tol : float
        Relative residual ``||b - A x|| / ||b||`` every solve must reach.
    max_iterations : int
        GMRES iterations allowed per right-hand side.
    """

    method = "iterative"
    restart = 30

    def __init__(self, blocks: Blocks, rel_tol: float = 1e-8, max_iterations: int = 1000):
        self.blocks = blocks
        self.rel_tol = rel_tol
        self.max_iterations = max_iterations
        self._amg = None
        self._weights = None
        self._last: np.ndarray | None = None
        self._Z: np.ndarray | None = None
        self.amg_builds = 0

    def describe(self) -> str:
        return (f"GMRES(restart {self.restart}) preconditioned by a smoothed-aggregation AMG "
                "V-cycle (pyamg) on X = sum |theta_q| A_q, relative residual <= "
                f"{self.rel_tol:g}, at most {self.max_iterations} iterations")

    def __getstate__(self):  # a hierarchy is rebuilt where it is used, never shipped
        return {**self.__dict__, "_amg": None, "_weights": None, "_last": None}

    def preconditioner(self, theta: np.ndarray) -> spla.LinearOperator:
        """One AMG V-cycle on ``X = sum |theta_q| A_q`` (reused while the weights are
        within :data:`AMG_REUSE_RATIO`), applied to real and imaginary parts."""
        w = np.abs(theta)
        if self._amg is None or np.any(np.abs(np.log(np.maximum(w, 1e-300) / np.maximum(
                self._weights, 1e-300))) > np.log(AMG_REUSE_RATIO)):
            self._amg = amg_hierarchy(self.blocks.matrix(self.blocks.combine(w)))
            self._weights = w
            self.amg_builds += 1
        return amg_preconditioner(self._amg)

    def region_constants(self) -> np.ndarray:
        """``Z``: per region, the indicator of its free nodes (shape ``(n_free, regions)``)."""
        if self._Z is None:
            dm, free = self.blocks.dmesh, self.blocks.free
            where = np.full(dm.mesh.nvertices, -1)
            where[free] = np.arange(free.size)
            cols = []
            for r in dm.region_names:
                z = np.zeros(free.size)
                idx = where[np.unique(dm.mesh.t[:, dm.mesh.subdomains[r]])]
                z[idx[idx >= 0]] = 1.0
                if z.any():
                    cols.append(z / np.sqrt(z.sum()))
            self._Z = np.column_stack(cols)
        return self._Z

    @single_threaded_blas
    def solve(self, omega: float, B: np.ndarray, x0: np.ndarray | None = None
              ) -> tuple[np.ndarray, SolveStats]:
        """``X = A(omega)^-1 B`` to the relative residual ``rel_tol`` per column, from the
        initial guess ``x0`` (shape of ``B``; default: the previous solution)."""
        t = time.perf_counter()
        theta = self.blocks.theta(omega)
        A = self.blocks.matrix(self.blocks.combine(theta))
        M = self.preconditioner(theta)
        defl = _Deflation(A, self.region_constants())
        absA = self.blocks.matrix(self.blocks.combine(np.abs(theta), absolute=True))
        B = np.asarray(B, dtype=complex)
        cols = B.reshape(B.shape[0], -1)
        X = np.zeros_like(cols)
        last = self._last if self._last is not None and self._last.shape == cols.shape else None
        if x0 is not None:
            last = np.asarray(x0, dtype=complex).reshape(cols.shape)
        iterations = 0
        for j in range(cols.shape[1]):
            x, its = self._gmres(A, absA, defl, cols[:, j], M,
                                 None if last is None else last[:, j], omega)
            X[:, j] = x
            iterations = max(iterations, its)
        self._last = X.copy()
        res = _residual(A, X, cols)
        return X.reshape(B.shape), SolveStats("iterative", iterations, res,
                                              time.perf_counter() - t)

    def _gmres(self, A, absA, defl, b, M, x0, omega):
        nb = np.linalg.norm(b)
        if nb == 0:
            return np.zeros_like(b), 0
        if x0 is not None and np.linalg.norm(b - A @ x0) >= nb:
            x0 = None  # a worse guess than zero
        count = [0]

        def tick(_):
            count[0] += 1

        n = b.size
        PA = spla.LinearOperator((n, n), matvec=lambda v: defl.project(A @ v), dtype=complex)
        Pb, base = defl.project(b), defl.coarse(b)
        y = x0
        # GMRES stops a cycle on the preconditioned residual; when that is met but the
        # true one is not (the V-cycle weighs residuals differently), ask the next cycle
        # for more
        inner = 0.1 * self.rel_tol
        stalled = 0
        while True:
            before = count[0]
            left = self.max_iterations - count[0]
            # one restart cycle at a time: the true residual is checked after each
            y, _ = spla.gmres(PA, Pb, x0=y, M=M, rtol=inner, atol=0.0,
                              restart=min(self.restart, max(left, 1)), maxiter=1,
                              callback=tick, callback_type="pr_norm")
            x = base + y - defl.coarse(A @ y)
            res = np.linalg.norm(b - A @ x) / nb
            if not np.isfinite(res):
                break
            floor = 64 * np.finfo(float).eps * np.linalg.norm(absA @ np.abs(x)) / nb
            if res <= max(self.rel_tol, floor):
                return x, count[0]
            if count[0] >= self.max_iterations:
                break
            if count[0] - before < self.restart:  # the cycle met `inner` before its end
                inner = max(inner * 1e-2, 1e-15)
                stalled = stalled + 1 if count[0] == before else 0
                if stalled >= 3:  # nothing moves even at the tightest inner tolerance
                    break
        f = omega / (2 * np.pi)
        raise SolveError(f"the iterative solve at f = {f:.6g} Hz did not converge: relative "
                         f"residual {res:.3g} > rel_tol = {self.rel_tol:g} after {count[0]} "
                         "GMRES iterations (raise [solver] max_iterations or use "
                         "method = 'direct')")


class _Deflation:
    """``Q = Z (Z^T A Z)^-1 Z^T`` (``coarse``) and ``I - A Q`` (``project``) for real ``Z``
    (``A`` symmetric, so the transpose, not the conjugate, gives the Galerkin pair)."""

    def __init__(self, A, Z: np.ndarray):
        import scipy.linalg as sla

        self.Z = Z
        self.AZ = A @ Z
        self.E = sla.lu_factor(Z.T @ self.AZ)

    def _solve(self, v):
        import scipy.linalg as sla

        return sla.lu_solve(self.E, self.Z.T @ v)

    def coarse(self, v):
        return self.Z @ self._solve(v)

    def project(self, v):
        return v - self.AZ @ self._solve(v)


def make_solver(blocks: Blocks, method: str, rel_tol: float = 1e-8,
                max_iterations: int = 1000) -> DirectSolver | IterativeSolver:
    """A per-frequency solver: ``"direct"`` or ``"iterative"`` (``"auto"`` is resolved by
    :func:`auto_method` before, in :meth:`fem.solvers.solve.Problem.linear_solver`)."""
    if method == "iterative":
        return IterativeSolver(blocks, rel_tol, max_iterations)
    return DirectSolver(blocks)
