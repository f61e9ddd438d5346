"""Frequency sweeps: assemble once, solve many frequencies, stream the results.

A sweep runs on a Dask scheduler: an embedded local cluster sized to the
machine's cores by default, or any existing cluster (``client=`` or
``scheduler="tcp://host:port"``).  The assembled problem is scattered to the
workers once.  Solved frequency by frequency (``direct`` or ``iterative``), the
frequencies go out in chunks, a bounded number at a time, and the results come back
and are yielded in frequency order, one at a time, so a long sweep of a large device
never holds all its fields.  With a reduced basis (``reduced``, :mod:`fem.solvers.reduced`),
the workers run the full solves of each greedy step and every frequency then comes
from the certified reduced model.  With one core, a tiny mesh or a handful of
frequencies the sweep runs in-process: the same code, the same numbers.  A worker
lost mid-sweep (killed, its machine gone) costs only time: Dask runs its tasks again on
the others (up to ``distributed.scheduler.allowed-failures`` times), and the results
are the same.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from ..core.errors import SolveError
from ..core.units import spin_signal_ohm
from ..model.device import Device
from .reduced import GreedyReport, greedy_basis
from .result import Result, signal_unit
from .solve import Problem, prepare

log = logging.getLogger(__name__)

#: below this many nodes (or with fewer frequencies than workers) a sweep runs in-process
TINY_NODES = 5000
#: above this many unknowns the embedded cluster's workers are threads sharing one copy
#: of the problem (memory), below it processes
THREADED_ABOVE_UNKNOWNS = 200_000
#: times the problem is scattered again after the cluster lost it before a sweep stops
MAX_RESCATTERS = 3


def solve_info(res: Result) -> dict:
    """How a frequency was solved, for ``sweep.csv``."""
    s = res.stats
    return {"method": s.method, "iterations": s.iterations, "rel_residual": s.rel_residual}


@contextlib.contextmanager
def _quiet_shutdown():
    """Closing an embedded cluster, Dask logs each comm it finds closed, at INFO with a
    traceback (``distributed.batched``, "Batched Comm Closed"; about one close in four
    with thread workers): shutdown noise, not an error of the sweep.  Only warnings and
    errors of that logger pass while it closes."""
    logger = logging.getLogger("distributed.batched")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def solve_chunk(problem: Problem, f_Hz: list[float]) -> list[tuple[np.ndarray, dict]]:
    """Nodal ``mu`` [A/m] and solve information at each frequency of a chunk (runs on a
    Dask worker)."""
    out = []
    for f in f_Hz:
        res = problem.solve(f)
        out.append((res.mu, solve_info(res)))
    return out


def snapshot(problem: Problem, f_Hz: float, x0: np.ndarray | None = None):
    """A reduced basis' full solve (runs on a Dask worker)."""
    return problem.snapshot(f_Hz, x0)


def _is_main_test(test) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(a, ast.Name) and a.id == "__name__" for a in sides) and any(
        isinstance(a, ast.Constant) and a.value == "__main__" for a in sides)


def started_unguarded() -> bool:
    """Whether this call comes from the top level of a script run as ``__main__``
    outside ``if __name__ == "__main__":``: worker processes started by ``spawn``
    re-import that script and would run it again (multiprocessing then fails with
    "Nanny failed to start")."""
    import ast
    import sys

    import __main__

    path = getattr(__main__, "__file__", None)
    frame = sys._getframe()
    while frame is not None and not (frame.f_code.co_name == "<module>"
                                     and frame.f_globals.get("__name__") == "__main__"):
        frame = frame.f_back
    if path is None or frame is None:
        return False  # an interactive session or `python -c`: nothing is re-imported
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    line = frame.f_lineno
    return not any(isinstance(n, ast.If) and _is_main_test(n.test)
                   and n.lineno <= line <= (n.end_lineno or n.lineno) for n in ast.walk(tree))


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Sweep:
    """An iterable frequency sweep; each item is a :class:`~fem.solvers.result.Result`.

    Parameters
    ----------
    problem : Problem
        The assembled device.
    f_Hz : array_like
        Frequencies [Hz].
    client : dask.distributed.Client, optional
        Run on this Dask cluster.
    scheduler : str, optional
        Address of an existing Dask scheduler (``"tcp://host:port"``).
    parallel : {"auto", True, False}
        ``"auto"``: an embedded local cluster unless one core, a tiny mesh or few
        frequencies make in-process faster; ``False``: in-process.
    callback : callable, optional
        ``callback(i, n, result)`` after each frequency, in order.
    status : callable, optional
        ``status(text)`` while a reduced basis is built (full solves, largest bound).

    Attributes
    ----------
    method : str
        The solver method (``problem.method(n_frequencies)``).
    signals : list of dict
        Per frequency done, the contact signals (:func:`contact_signals`).
    info : list of dict
        Per frequency done: ``method``, ``iterations``, ``rel_residual`` and, for a
        reduced basis, the bounds ``est_rel_error_fields`` and ``est_rel_error_<signal>``.
    report : GreedyReport or None
        What building the reduced basis took.
    """

    def __init__(self, problem: Problem, f_Hz: Iterable[float], *, client=None,
                 scheduler: str | None = None, parallel: bool | str = "auto",
                 chunk_size: int | None = None,
                 callback: Callable[[int, int, Result], None] | None = None,
                 status: Callable[[str], None] | None = None):
        self.problem = problem
        self.f_Hz = np.asarray(list(f_Hz), dtype=float)
        self.client = client
        self.scheduler = scheduler
        self.parallel = parallel
        self.chunk_size = chunk_size
        self.callback = callback
        self.status = status
        self.method = problem.method(len(self.f_Hz))
        self.signals: list[dict] = []
        self.info: list[dict] = []
        self.report: GreedyReport | None = None

    # ---------------------------------------------------------- planning
    def workers(self) -> int:
        """How many workers an embedded cluster would get."""
        return max(1, min(cpu_count(), len(self.f_Hz)))

    def in_process(self) -> bool:
        """Whether this sweep runs without Dask."""
        if self.client is not None or self.scheduler is not None:
            return False
        if self.parallel is False:
            return True
        if self.parallel is True:
            return False
        n = self.workers()
        return n == 1 or self.problem.blocks.n_nodes < TINY_NODES or len(self.f_Hz) < 2 * n

    def chunks(self, workers: int) -> list[list[float]]:
        """Frequencies in chunks: about four per worker, so that no task is too
        small for its overhead and the load stays balanced."""
        n = len(self.f_Hz)
        size = self.chunk_size or max(1, math.ceil(n / (4 * workers)))
        return [list(map(float, self.f_Hz[i:i + size])) for i in range(0, n, size)]

    # --------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[Result]:
        self.signals, self.info = [], []
        #: at the first and last frequency: where the injected spin current goes
        self.where_current_goes: dict[float, dict[str, complex]] = {}
        if self.method == "reduced":
            stream = self._reduced()
        else:
            stream = self._serial() if self.in_process() else self._dask()
        n = len(self.f_Hz)
        for i, (f, mu, info) in enumerate(stream):
            res = self.problem.result(f, mu)
            self.signals.append(contact_signals(self.problem, res))
            balance, parts = self.problem.balance(f, mu)
            self.info.append({**info, "rel_balance": balance})
            if i in (0, len(self.f_Hz) - 1):
                self.where_current_goes[float(f)] = parts
            if self.callback is not None:
                self.callback(i, n, res)
            yield res

    def _serial(self):
        for f in self.f_Hz:
            res = self.problem.solve(float(f))
            yield float(f), res.mu, solve_info(res)

    @contextlib.contextmanager
    def _cluster(self):
        """``(client, workers, scattered problem)`` on the user's or an embedded cluster;
        whatever was submitted (``self._futures``) is cancelled on the way out."""
        from dask.distributed import Client, LocalCluster

        own_cluster = own_client = problem = None
        client = self.client
        self._futures = []
        try:
            if client is None and self.scheduler is not None:
                client = own_client = Client(self.scheduler)
            elif client is None:
                threads = self.problem.n_unknowns > THREADED_ABOVE_UNKNOWNS
                if not threads and started_unguarded():
                    # worker processes would re-run the script: threads need no guard
                    log.info("sweep started outside `if __name__ == '__main__':`; the "
                             "embedded Dask workers are threads")
                    threads = True
                own_cluster = LocalCluster(n_workers=self.workers(), threads_per_worker=1,
                                           processes=not threads, dashboard_address=":0")
                client = own_client = Client(own_cluster)
            workers = max(1, len(client.scheduler_info().get("workers", {})) or 1)
            [problem] = client.scatter([self.problem], broadcast=True)
            yield client, workers, problem
        finally:  # a stopped sweep leaves nothing behind on a user's cluster
            if client is not None and own_client is None:
                with contextlib.suppress(Exception):
                    client.cancel([f for f in self._futures if not f.done()])
                    if problem is not None:
                        client.cancel(problem)
            with _quiet_shutdown():
                if own_client is not None:
                    own_client.close()
                if own_cluster is not None:
                    own_cluster.close()

    def _rescatter(self, client, lost: int):
        """The problem scattered again after the cluster lost it (the scheduler may keep
        a scattered key on one worker only, and that worker died): the tasks that need
        it are cancelled by Dask and must be submitted again."""
        if lost > MAX_RESCATTERS:
            raise SolveError(f"the Dask cluster lost the problem's data {lost} times (workers "
                             "dying); the sweep stopped")
        log.warning("a Dask worker holding the problem was lost: scattering it again")
        [problem] = client.scatter([self.problem], broadcast=True)
        self._futures.append(problem)
        return problem

    def _dask(self):
        from concurrent.futures import CancelledError

        from dask.distributed import as_completed

        with self._cluster() as (client, workers, problem):
            chunks = self.chunks(workers)
            log.info("sweep of %d frequencies in %d chunks on %d Dask workers",
                     len(self.f_Hz), len(chunks), workers)
            window = 2 * workers
            pending = as_completed()
            inflight: dict[int, object] = {}  # chunk -> its future
            submitted, done, buffer, lost = 0, 0, {}, 0

            def submit(i):
                fut = client.submit(solve_chunk, problem, chunks[i], pure=False)
                self._futures.append(fut)
                inflight[i] = fut
                pending.add(fut)

            while done < len(chunks):
                while submitted < len(chunks) and submitted - done < window:
                    submit(submitted)
                    submitted += 1
                fut = next(pending)
                i = next((k for k, f in inflight.items() if f is fut), None)
                if i is None:  # replaced after a loss
                    continue
                try:
                    result = fut.result()
                except CancelledError:
                    lost += 1
                    problem = self._rescatter(client, lost)
                    for k in list(inflight):
                        submit(k)
                    continue
                del inflight[i]
                buffer[i] = result
                fut.release()
                while done in buffer:  # yield in frequency order
                    for f, (mu, info) in zip(chunks[done], buffer.pop(done)):
                        yield f, mu, info
                    done += 1

    def _reduced(self):
        problem = self.problem
        basis = problem.reduced_basis()
        settings = problem.solver

        def progress(full_solves, bound):
            if self.status is not None:
                self.status(f"reduced basis: {full_solves} solves, bound {bound:.1e}")

        def build(solve_at, batch):
            return greedy_basis(basis, self.f_Hz, settings.rel_tol, solve_at, batch=batch,
                                max_full_solves=settings.max_full_solves, progress=progress)

        if self.in_process():
            evals, self.report = build(
                lambda fs, x0s: [problem.snapshot(f, x0) for f, x0 in zip(fs, x0s)], 1)
        else:
            with self._cluster() as (client, workers, scattered):
                held = [scattered]

                def solve_at(fs, x0s):
                    from concurrent.futures import CancelledError

                    for lost in range(MAX_RESCATTERS + 2):
                        futs = [client.submit(snapshot, held[0], f, x0, pure=False)
                                for f, x0 in zip(fs, x0s)]
                        self._futures += futs
                        try:
                            return client.gather(futs)
                        except CancelledError:  # the problem went with a lost worker
                            held[0] = self._rescatter(client, lost + 1)

                evals, self.report = build(solve_at, workers)
        for f, ev in zip(self.f_Hz, evals):
            info = {"method": "reduced", "iterations": 0, "rel_residual": float("nan"),
                    "est_rel_error_fields": ev.fields}
            info.update({f"est_rel_error_{k}": v for k, v in ev.signals.items()})
            yield float(f), problem.full(basis.field(ev.a)), info

    def max_error_bound(self) -> float | None:
        """The largest certified relative error bound of a reduced sweep so far (fields
        and contact signals, every frequency done); None without bounds."""
        bounds = [v for i in self.info for k, v in i.items() if k.startswith("est_")]
        return max(bounds, default=None)

    def to_xarray(self):
        """The contact signals of the whole sweep as an ``xarray.Dataset``.

        Variables ``<contact>_mu``, ``_dm``, ``_dM`` [A/m] (complex) for every injection
        and detector contact, ``<detector>_Z`` [s/m^3] and, where the ferromagnets carry
        ``P_F``, ``<detector>_R`` [Ohm] (2D: per unit depth); dimension ``f_Hz``.  Runs
        the sweep first if it has not run.
        """
        import xarray as xr

        if len(self.signals) != len(self.f_Hz):
            for _ in self:
                pass
        names = list(self.signals[0]) if self.signals else []
        data = {}
        for name in names:
            unit = signal_unit(name, self.problem.dmesh.dim)[0]
            data[name] = ("f_Hz", np.array([s[name] for s in self.signals]),
                          {"units": unit, "long_name": _long_name(name)})
        return xr.Dataset(data, coords={"f_Hz": ("f_Hz", self.f_Hz, {"units": "Hz"})},
                          attrs={"device": self.problem.device.name,
                                 "convention": "complex amplitudes of exp(-i omega t)"})

    def to_netcdf(self, path) -> Path:
        """:meth:`to_xarray` saved as netCDF (see :func:`to_netcdf`; read it back with
        ``fem.open_netcdf``)."""
        return to_netcdf(self.to_xarray(), path)


def to_netcdf(ds, path) -> Path:
    """Save a sweep's Dataset (:meth:`Sweep.to_xarray`) as netCDF, written atomically.

    netCDF has no complex type: every complex variable ``v`` is stored as ``v_re`` and
    ``v_im`` (attribute ``complex_part``), which :func:`open_netcdf` joins again.  Uses
    scipy's netCDF3 writer (no extra library)."""
    from ..core.atomic import atomic_path

    out = ds.copy()
    for name in [n for n in ds.data_vars if np.iscomplexobj(ds[n])]:
        var = ds[name]
        for part, values in (("re", var.real), ("im", var.imag)):
            out[f"{name}_{part}"] = values.assign_attrs({**var.attrs, "complex_part": part})
        out = out.drop_vars(name)
    with atomic_path(path, suffix=".nc") as tmp:
        out.to_netcdf(tmp, engine="scipy")
    return Path(path)


def open_netcdf(path):
    """A sweep's Dataset saved by :func:`to_netcdf`, complex variables joined again."""
    import xarray as xr

    with xr.open_dataset(path, engine="scipy") as stored:
        ds = stored.load()
    for name in [n for n in ds.data_vars if ds[n].attrs.get("complex_part") == "re"]:
        base = name[:-3]
        attrs = {k: v for k, v in ds[name].attrs.items() if k != "complex_part"}
        ds[base] = (ds[name] + 1j * ds[f"{base}_im"]).assign_attrs(attrs)
        ds = ds.drop_vars([name, f"{base}_im"])
    return ds


def _long_name(name: str) -> str:
    contact, _, what = name.rpartition("_")
    return {"mu": f"mean spin potential at {contact}",
            "dm": f"mean spin accumulation at {contact}",
            "dM": f"mean magnetization deviation at {contact}",
            "Z": f"transfer function <mu>_{contact} / I_in",
            "R": f"electrical signal V_{contact} / I_c = P_inj P_det (mu0 mu_B^2/e^2) Z"}[what]


def contact_signals(problem: Problem, res: Result) -> dict[str, complex]:
    """The contact means of every injection and detector contact, detectors' Z, and
    their electrical signal R where the ferromagnets carry ``P_F``
    (:meth:`fem.model.device.Device.signal_polarizations`)."""
    out = {}
    device = problem.device
    for name, c in device.contacts.items():
        if c.kind in ("injection", "detector"):
            for fld in ("mu", "dm", "dM"):
                out[f"{name}_{fld}"] = res.contact_mean(name, fld)
            if c.kind == "detector":
                out[f"{name}_Z"] = res.transfer(name)
                pols = device.signal_polarizations(name)
                if pols is not None:
                    out[f"{name}_R"] = spin_signal_ohm(out[f"{name}_Z"], *pols)
    return out


def sweep(device: Device | Problem, f_Hz: Iterable[float] | None = None,
          callback: Callable[[int, int, Result], None] | None = None, *, client=None,
          scheduler: str | None = None, parallel: bool | str = "auto",
          method: str | None = None, rel_tol: float | None = None) -> Sweep:
    """A frequency sweep of a device (default frequencies: the device's list).

    Iterate it for one :class:`~fem.solvers.result.Result` per frequency, in order, or call
    ``.to_xarray()`` for the contact signals.  ``method`` and ``rel_tol`` override the
    device file's ``[solver]``.  See :class:`Sweep` for the other options.
    """
    if isinstance(device, Problem):
        problem = device
        freqs = problem.device.f_Hz() if f_Hz is None else list(f_Hz)
        if method is not None or rel_tol is not None:
            from dataclasses import replace

            from .solve import solver_settings

            problem = replace(problem, solver=solver_settings(problem.device, method, rel_tol))
    else:
        freqs = device.f_Hz() if f_Hz is None else list(f_Hz)
        problem = prepare(device, freqs, method=method, rel_tol=rel_tol)
    return Sweep(problem, freqs, client=client, scheduler=scheduler, parallel=parallel,
                 callback=callback)
