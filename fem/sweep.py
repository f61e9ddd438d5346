"""Frequency sweeps: assemble once, solve many frequencies, stream the results.

A sweep runs on a Dask scheduler: an embedded local cluster sized to the
machine's cores by default, or any existing cluster (``client=`` or
``scheduler="tcp://host:port"``).  The assembled problem is scattered to the
workers once; frequencies go out in chunks, a bounded number at a time, and the
results come back and are yielded in frequency order, one at a time, so a long
sweep of a large device never holds all its fields.  With one core, a tiny mesh
or a handful of frequencies the sweep runs in-process: the same code, the same
numbers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .device import Device
from .result import Result, transfer_unit
from .solve import Problem, prepare

log = logging.getLogger(__name__)

#: below this many nodes (or with fewer frequencies than workers) a sweep runs in-process
TINY_NODES = 5000


def solve_chunk(problem: Problem, f_Hz: list[float]) -> list[np.ndarray]:
    """Nodal ``mu`` [A/m] at each frequency of a chunk (runs on a Dask worker)."""
    return [problem.solve(f).mu for f in f_Hz]


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Sweep:
    """An iterable frequency sweep; each item is a :class:`~fem.result.Result`.

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
    """

    def __init__(self, problem: Problem, f_Hz: Iterable[float], *, client=None,
                 scheduler: str | None = None, parallel: bool | str = "auto",
                 chunk_size: int | None = None,
                 callback: Callable[[int, int, Result], None] | None = None):
        self.problem = problem
        self.f_Hz = np.asarray(list(f_Hz), dtype=float)
        self.client = client
        self.scheduler = scheduler
        self.parallel = parallel
        self.chunk_size = chunk_size
        self.callback = callback
        self.signals: list[dict] = []

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
        self.signals = []
        stream = self._serial() if self.in_process() else self._dask()
        n = len(self.f_Hz)
        for i, (f, mu) in enumerate(stream):
            res = self.problem.result(f, mu)
            self.signals.append(contact_signals(self.problem, res))
            if self.callback is not None:
                self.callback(i, n, res)
            yield res

    def _serial(self):
        for f in self.f_Hz:
            yield float(f), self.problem.solve(float(f)).mu

    def _dask(self):
        from dask.distributed import Client, LocalCluster, as_completed

        own_cluster = own_client = problem = None
        client = self.client
        futures: list = []
        try:
            if client is None and self.scheduler is not None:
                client = own_client = Client(self.scheduler)
            elif client is None:
                own_cluster = LocalCluster(n_workers=self.workers(), threads_per_worker=1,
                                           processes=True, dashboard_address=":0")
                client = own_client = Client(own_cluster)
            workers = max(1, len(client.scheduler_info().get("workers", {})) or 1)
            chunks = self.chunks(workers)
            log.info("sweep of %d frequencies in %d chunks on %d Dask workers",
                     len(self.f_Hz), len(chunks), workers)
            [problem] = client.scatter([self.problem], broadcast=True)
            window = 2 * workers
            pending = as_completed()
            submitted, done, buffer, index = 0, 0, {}, {}
            while done < len(chunks):
                while submitted < len(chunks) and submitted - done < window:
                    fut = client.submit(solve_chunk, problem, chunks[submitted], pure=False)
                    futures.append(fut)
                    index[fut.key] = submitted
                    pending.add(fut)
                    submitted += 1
                fut = next(pending)
                buffer[index.pop(fut.key)] = fut.result()
                fut.release()
                while done in buffer:  # yield in frequency order
                    yield from zip(chunks[done], buffer.pop(done))
                    done += 1
        finally:  # a stopped sweep leaves nothing behind on a user's cluster
            if client is not None and own_client is None:
                with contextlib.suppress(Exception):
                    client.cancel([f for f in futures if not f.done()])
                    if problem is not None:
                        client.cancel(problem)
            if own_client is not None:
                own_client.close()
            if own_cluster is not None:
                own_cluster.close()

    def to_xarray(self):
        """The contact signals of the whole sweep as an ``xarray.Dataset``.

        Variables ``<contact>_mu``, ``_dm``, ``_dM`` [A/m] (complex) for every injection
        and detector contact and ``<detector>_Z`` [s/m^3]; dimension ``f_Hz``.  Runs
        the sweep first if it has not run.
        """
        import xarray as xr

        if len(self.signals) != len(self.f_Hz):
            for _ in self:
                pass
        names = list(self.signals[0]) if self.signals else []
        data = {}
        for name in names:
            unit = transfer_unit(self.problem.dmesh.dim)[0] if name.endswith("_Z") else "A/m"
            data[name] = ("f_Hz", np.array([s[name] for s in self.signals]),
                          {"units": unit, "long_name": _long_name(name)})
        return xr.Dataset(data, coords={"f_Hz": ("f_Hz", self.f_Hz, {"units": "Hz"})},
                          attrs={"device": self.problem.device.name,
                                 "convention": "complex amplitudes of exp(-i omega t)"})


def _long_name(name: str) -> str:
    contact, _, what = name.rpartition("_")
    return {"mu": f"mean spin potential at {contact}",
            "dm": f"mean spin accumulation at {contact}",
            "dM": f"mean magnetization deviation at {contact}",
            "Z": f"transfer function <mu>_{contact} / I_in"}[what]


def contact_signals(problem: Problem, res: Result) -> dict[str, complex]:
    """The contact means of every injection and detector contact, and detectors' Z."""
    out = {}
    for name, c in problem.device.contacts.items():
        if c.kind in ("injection", "detector"):
            for fld in ("mu", "dm", "dM"):
                out[f"{name}_{fld}"] = res.contact_mean(name, fld)
            if c.kind == "detector":
                out[f"{name}_Z"] = res.transfer(name)
    return out


def sweep(device: Device | Problem, f_Hz: Iterable[float] | None = None,
          callback: Callable[[int, int, Result], None] | None = None, *, client=None,
          scheduler: str | None = None, parallel: bool | str = "auto") -> Sweep:
    """A frequency sweep of a device (default frequencies: the device's list).

    Iterate it for one :class:`~fem.result.Result` per frequency, in order, or call
    ``.to_xarray()`` for the contact signals.  See :class:`Sweep` for the options.
    """
    if isinstance(device, Problem):
        problem = device
        freqs = problem.device.f_Hz() if f_Hz is None else list(f_Hz)
    else:
        freqs = device.f_Hz() if f_Hz is None else list(f_Hz)
        problem = prepare(device, freqs)
    return Sweep(problem, freqs, client=client, scheduler=scheduler, parallel=parallel,
                 callback=callback)
