"""Reduced-basis frequency sweeps with a certified error bound.

``A(omega) = sum_q theta_q(omega) A_q`` (:mod:`fem.solvers.linear`).  Full solves at a few
frequencies (the primal ``b`` and the adjoints ``l`` of the contact signals) give a real
orthonormal basis ``V`` (real and imaginary parts of every snapshot); the reduced
problem is the Galerkin projection

    (sum_q theta_q(omega) V^T A_q V) a = V^T B,        x_r = V a,

complex symmetric like ``A``, with every ``V^T A_q V`` computed once.

**Error bound.**  With ``X = sum_q |theta_q| A_q`` and ``alpha`` from the sector of the
coefficients (:func:`fem.solvers.linear.sector_alpha`), the error of ``x_r`` obeys
``||x - x_r||_X <= ||r||_{X^-1} / alpha`` for the residual ``r = b - A x_r``; and since
``X >= sum_mat |c_mat| M_mat >= sum_mat |c_mat| D_mat / (d + 2)`` (a P1 mass matrix is
at least its lumped mass ``D`` over ``d + 2``, element by element),

    ||r||^2_{X^-1} <= (d + 2) sum_g ||D_g^{-1/2} r_g||^2 / |c_g(omega)|

with the nodes grouped by the material ``g`` of their largest lumped mass.  ``r`` is a
combination of the fixed vectors ``[B, A_q V]`` with coefficients known at the reduced
size, so ``||D_g^{-1/2} r_g|| = ||R_g c(omega)||`` with ``R_g`` the triangular factor of a
Householder QR factorization of ``D_g^{-1/2} [B, A_q V]`` (streamed over row chunks, so
the tall matrix is never held; redone once per greedy step): every frequency's bound
costs the reduced size only, evaluated to working precision (no Gram-matrix
cancellation), plus a rounding allowance.  A contact signal ``l^T x`` whose adjoint
``A y = l`` is in the basis too obeys
``|l^T (x - x_r)| = |(y - y_r)^T r| <= ||r||_{X^-1} ||r_l||_{X^-1} / alpha``
(``A`` is symmetric, and Galerkin makes ``V^T r = 0``).

:func:`greedy_basis` adds full solves at the frequencies of largest bound until the
relative bounds of the fields (``X``-norm) and of every signal are below ``rel_tol``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import SolveError
from .assemble import Blocks
from .linear import sector_alpha

log = logging.getLogger(__name__)

#: relative size below which a new snapshot direction is dropped as already in the basis
DROP_TOL = 1e-12
#: rounding allowance of an evaluated residual norm, relative to the size of each term
#: that cancels in it (a few hundred unit roundoffs: the columns summed and the QR's
#: backward error)
ROUNDING = 1e-13
#: rows per chunk of the streamed QR factorization of the residual vectors
QR_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class Signal:
    """A linear output ``l^T x`` (e.g. the mean of mu over a contact), ``l = weights``.

    ``column`` is the right-hand side column of its adjoint; ``scale`` is ``beta`` when
    ``l = beta b`` (then the primal is the adjoint: ``column = 0``)."""

    name: str
    weights: np.ndarray  # l, on the free nodes
    column: int
    scale: complex = 1.0


@dataclass
class Evaluation:
    """The reduced solution at one frequency and its certified relative error bounds."""

    a: np.ndarray  # (k, m) coefficients of every right-hand side
    fields: float  # bound on ||x - x_r||_X / ||x||_X
    signals: dict[str, float] = field(default_factory=dict)  # bound on |l^T e| / |l^T x|

    @property
    def worst(self) -> float:
        return max([self.fields, *self.signals.values()])


def _relative(bound: float, value: float) -> float:
    """A bound on ``|e|/|x|`` from a bound on ``|e|`` and ``|x_r|``."""
    return bound / (value - bound) if value > bound else np.inf


class ReducedBasis:
    """A growing reduced basis of a device's ``A(omega) X = B``.

    Parameters
    ----------
    blocks : Blocks
    B : ndarray, complex, shape (n_free, m)
        Right-hand sides: column 0 the load ``b``, then the signals' adjoint loads.
    signals : list of Signal
    """

    def __init__(self, blocks: Blocks, B: np.ndarray, signals: Sequence[Signal]):
        self.blocks = blocks
        self.B = np.asarray(B, dtype=complex).reshape(B.shape[0], -1)
        self.signals = list(signals)
        self.terms = [blocks.matrix(d) for d in blocks.term_data()]
        self.dim = blocks.dmesh.dim
        n, m = self.B.shape
        self.V = np.zeros((n, 0))
        self.Ar = np.zeros((len(self.terms), 0, 0))
        self.lV = np.zeros((len(self.signals), 0))
        self.VB = np.zeros((0, m), dtype=complex)  # V^T B
        # node groups for the lumped-mass dual norm
        names = blocks.term_names()
        mass_q = [q for q, t in enumerate(names) if t.startswith("M:")]
        lumped = np.array([np.asarray(self.terms[q].sum(axis=1)).ravel() for q in mass_q])
        best = np.argmax(lumped, axis=0)
        d = lumped[best, np.arange(n)]
        if np.any(d <= 0):
            raise SolveError("a node has no mass: the reduced basis bound needs every node in "
                             "a region with chi_m > 0")
        self.groups = []  # (term index of the group's mass, node indices, D^-1/2)
        for i, q in enumerate(mass_q):
            idx = np.nonzero(best == i)[0]
            if idx.size:
                self.groups.append((q, idx, 1.0 / np.sqrt(d[idx])))
        self._R: list[np.ndarray] | None = None
        self.snapshots: list[float] = []

    @property
    def size(self) -> int:
        return self.V.shape[1]

    # ------------------------------------------------------------ growing
    def add(self, f_Hz: float, X: np.ndarray) -> int:
        """Add the full solution ``X`` (``(n_free, m)``, complex) at ``f_Hz``; returns the
        number of new basis vectors."""
        X = np.asarray(X).reshape(self.V.shape[0], -1)
        cand = np.hstack([X.real, X.imag])
        new = []
        for c in cand.T:
            size = np.linalg.norm(c)
            if size == 0:
                continue
            W = np.column_stack([self.V, *new]) if new else self.V
            for _ in range(2):  # Gram-Schmidt twice: orthogonal to working precision
                c = c - W @ (W.T @ c)
            if np.linalg.norm(c) > DROP_TOL * size:
                new.append(c / np.linalg.norm(c))
        self.snapshots.append(float(f_Hz))
        if not new:
            return 0
        W = np.column_stack(new)
        k, p = self.size, W.shape[1]
        Ar = np.zeros((len(self.terms), k + p, k + p))
        for q, A in enumerate(self.terms):
            AW = A @ W
            cross = self.V.T @ AW
            Ar[q, :k, :k] = self.Ar[q]
            Ar[q, :k, k:] = cross
            Ar[q, k:, :k] = cross.T
            Ar[q, k:, k:] = W.T @ AW
        self.Ar = Ar
        self.V = np.hstack([self.V, W])
        self.VB = np.vstack([self.VB, W.T @ self.B])
        self.lV = np.hstack([self.lV, np.array([s.weights @ W for s in self.signals]).reshape(
            len(self.signals), p)])
        self._R = None
        return p

    def _residual_factors(self) -> list[np.ndarray]:
        """Per node group, ``R_g`` of ``QR(D_g^{-1/2} [Re B, Im B, A_0 V, A_1 V, ...])``."""
        if self._R is None:
            self._R = []
            for _, idx, w in self.groups:
                R = np.zeros((0, 2 * self.B.shape[1] + len(self.terms) * self.size))
                for start in range(0, idx.size, QR_CHUNK_ROWS):
                    rows = idx[start:start + QR_CHUNK_ROWS]
                    Bc = self.B[rows]
                    C = np.hstack([Bc.real, Bc.imag, *(A[rows] @ self.V for A in self.terms)])
                    R = np.linalg.qr(np.vstack([R, C * w[start:start + rows.size, None]]),
                                     mode="r")
                self._R.append(R)
        return self._R

    # ---------------------------------------------------------- evaluating
    def solve(self, theta: np.ndarray) -> np.ndarray:
        """Reduced coefficients ``a`` (``(k, m)``) at the coefficients ``theta``."""
        A = np.tensordot(theta, self.Ar, axes=1)
        return np.linalg.solve(A, self.VB)

    def residual_norms(self, theta: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Bounds on ``||B_j - A V a_j||_{X^-1}`` for every column ``j`` (shape ``(m,)``)."""
        m = self.B.shape[1]
        # coefficients of the columns [Re B, Im B, A_0 V, A_1 V, ...] in each residual
        C = np.vstack([np.eye(m), 1j * np.eye(m), *(-t * a for t in theta)])
        total = np.zeros(m)
        k = self.size
        edges = [0, 2 * m, *(2 * m + k * (q + 1) for q in range(len(self.terms)))]
        for (q, _, _), R in zip(self.groups, self._residual_factors()):
            exact = np.linalg.norm(R @ C, axis=0)
            # rounding: a fraction of the size of every term that cancels in the residual
            slack = ROUNDING * sum(np.linalg.norm(R[:, i:j] @ C[i:j], axis=0)
                                   for i, j in zip(edges[:-1], edges[1:]))
            total += (exact + slack) ** 2 / abs(theta[q])
        return np.sqrt((self.dim + 2) * total)

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """The reduced solution at ``theta`` with its relative error bounds."""
        a = self.solve(theta)
        alpha = sector_alpha(theta)
        rho = self.residual_norms(theta, a)
        if alpha <= 0:
            return Evaluation(a, np.inf, {s.name: np.inf for s in self.signals})
        a0 = a[:, 0]
        energy = sum(abs(t) * np.real(np.conj(a0) @ (Aq @ a0)) for t, Aq in zip(theta, self.Ar))
        err = rho[0] / alpha
        out = Evaluation(a, _relative(err, np.sqrt(max(energy, 0.0))))
        for s, lv in zip(self.signals, self.lV):
            adj = abs(s.scale) * rho[0] if s.column == 0 else rho[s.column]
            out.signals[s.name] = _relative(rho[0] * adj / alpha, abs(lv @ a0))
        return out

    def field(self, a: np.ndarray) -> np.ndarray:
        """The reduced primal solution ``V a[:, 0]`` on the free nodes."""
        return self.V @ a[:, 0]


def _next_frequencies(est: np.ndarray, done: set[int], rel_tol: float, batch: int) -> list[int]:
    """Up to ``batch`` frequencies of largest bound above ``rel_tol``: the local maxima
    first (largest first), so one step's solves spread over the sweep."""
    n = est.size
    padded = np.r_[-np.inf, est, -np.inf]
    peaks = [i for i in range(n) if padded[i + 1] >= padded[i] and padded[i + 1] >= padded[i + 2]]
    order = sorted(peaks, key=lambda i: -est[i]) + [int(i) for i in np.argsort(-est)]
    out: list[int] = []
    for i in order:
        if est[i] > rel_tol and i not in done and i not in out:
            out.append(i)
        if len(out) == batch:
            break
    return out


@dataclass
class GreedyReport:
    """What the greedy construction did."""

    full_solves: int
    snapshot_f_Hz: list[float]
    basis_size: int
    steps: list[dict]
    seconds: float


def greedy_basis(basis: ReducedBasis, f_Hz: np.ndarray, rel_tol: float,
                 solve_at: Callable[[list[float]], list[np.ndarray]], *, batch: int = 2,
                 max_full_solves: int = 64,
                 progress: Callable[[int, float], None] | None = None,
                 ) -> tuple[list[Evaluation], GreedyReport]:
    """Grow ``basis`` by full solves until every frequency's bound is below ``rel_tol``.

    Parameters
    ----------
    f_Hz : ndarray
        The sweep's frequencies [Hz].
    solve_at : callable
        ``solve_at(list of f_Hz, list of initial guesses or None) -> list of ((n_free, m)
        solution, SolveStats)`` (full solves, e.g. on Dask workers; the guesses are the
        reduced solutions there, which an iterative solver starts from).
    batch : int
        Full solves per greedy step (the workers that can run them at once).

    Raises
    ------
    SolveError
        The bound is still above ``rel_tol`` after ``max_full_solves`` full solves.
    """
    t0 = time.perf_counter()
    thetas = [basis.blocks.theta(2 * np.pi * f) for f in f_Hz]
    n = len(f_Hz)
    first = max(2, min(batch, n))
    todo = sorted(set(np.round(np.linspace(0, n - 1, first)).astype(int).tolist()))
    done: set[int] = set()
    steps = []
    guesses = [None] * len(todo)
    while True:
        solved = []
        for i, (X, stats) in zip(todo, solve_at([float(f_Hz[i]) for i in todo], guesses)):
            basis.add(f_Hz[i], X)
            done.add(i)
            solved.append({"f_Hz": float(f_Hz[i]), "method": stats.method,
                           "iterations": stats.iterations, "rel_residual": stats.rel_residual,
                           "seconds": stats.seconds})
        evals = [basis.evaluate(th) for th in thetas]
        est = np.array([e.worst for e in evals])
        worst = int(np.argmax(est))
        steps.append({"full_solves": len(done), "basis_size": basis.size, "solved": solved,
                      # None: no bound yet (JSON has no infinity)
                      "max_bound": float(est[worst]) if np.isfinite(est[worst]) else None,
                      "at_f_Hz": float(f_Hz[worst])})
        log.info("reduced basis: %d full solves, %d vectors, largest bound %.3g at %.4g Hz",
                 len(done), basis.size, est[worst], f_Hz[worst])
        if progress is not None:
            progress(len(done), float(est[worst]))
        if est[worst] <= rel_tol:
            break
        if worst in done:  # a full solve is there already: the bound is at its floor
            raise SolveError(
                f"the reduced basis cannot certify rel_tol = {rel_tol:g}: at f = "
                f"{f_Hz[worst]:.6g} Hz, where a full solve is in the basis, the error bound "
                f"is still {est[worst]:.3g} (rounding in evaluating the residual of this "
                f"device's system); use rel_tol >= {2 * est[worst]:.1g} or method = "
                "'iterative'")
        todo = _next_frequencies(est, done, rel_tol, batch)
        todo = todo[: max(0, max_full_solves - len(done))]
        guesses = [basis.V @ evals[i].a for i in todo]
        if not todo:
            raise SolveError(
                f"the reduced basis did not reach rel_tol = {rel_tol:g} after {len(done)} full "
                f"solves: the error bound is {est[worst]:.3g} at f = {f_Hz[worst]:.6g} Hz "
                "(raise [solver] max_full_solves or rel_tol, or use method = 'iterative')")
    report = GreedyReport(full_solves=len(done), snapshot_f_Hz=[float(f_Hz[i]) for i in
                                                                sorted(done)],
                          basis_size=basis.size, steps=steps, seconds=time.perf_counter() - t0)
    return evals, report
