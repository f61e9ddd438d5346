"""The benchmark: where the time of a sweep goes, as ratios measured in one run.

``spinfem bench`` times, on one device (default: the 3D nonlocal spin valve):

* meshing and assembling once;
* forming ``A(omega)`` from the assembled blocks against re-assembling it from
  scratch (what "assemble once" saves per frequency);
* one sparse solve;
* sampling the axis profile (cached point location);
* a sweep in-process against the embedded Dask cluster.

It writes ``bench_<device>.json`` and ``bench_<device>.md`` with the machine and date.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .assemble import assemble
from .atomic import write_text
from .axis import device_axis
from .device import Device
from .solve import prepare
from .sweep import Sweep, cpu_count


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores_usable": cpu_count(), "cores_total": os.cpu_count(),
            "python": platform.python_version(), "system": platform.platform()}


def run_benchmark(device: Device, out_dir: str | Path, mesh_dir: str | Path = "meshes",
                  n_sweep: int = 16) -> tuple[Path, Path]:
    """Time the pieces of a sweep of ``device``; write JSON and Markdown into ``out_dir``."""
    t = time.perf_counter()
    problem = prepare(device, mesh_dir=mesh_dir)
    t_prepare = time.perf_counter() - t
    blocks = problem.blocks
    f = float(device.f_Hz()[len(device.f_Hz()) // 2])
    omega = 2 * np.pi * f
    materials = blocks.materials
    kinds = {n: c.kind for n, c in device.contacts.items()}

    def reassemble():
        b = assemble(blocks.dmesh, materials,
                     grounded=[n for n, k in kinds.items() if k == "ground"],
                     leads=[n for n, k in kinds.items() if k == "lead"])
        return b.system(omega)

    t_form = _best(lambda: blocks.system(omega))
    t_reassemble = _best(reassemble)
    t_solve = _best(lambda: problem.solve(f))
    axis = device_axis(device)
    res = problem.solve(f)
    def sample_uncached():
        blocks._probes.clear()  # time the point location too, not just the cached product
        res.sample(axis.points_m)

    t_sample = _best(sample_uncached) if axis is not None else float("nan")
    freqs = np.geomspace(device.f_Hz()[0], device.f_Hz()[-1], n_sweep)
    t_serial = _best(lambda: list(Sweep(problem, freqs, parallel=False)), repeat=1)
    t_dask = _best(lambda: list(Sweep(problem, freqs, parallel=True)), repeat=1)
    record = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "device": device.name,
        "nodes": int(blocks.n_nodes), "elements": int(blocks.dmesh.mesh.nelements),
        "seconds": {"mesh_and_assembly": t_prepare, "form_A_from_blocks": t_form,
                    "reassemble_A": t_reassemble, "solve_one_frequency": t_solve,
                    "sample_axis_profile": t_sample,
                    f"sweep_{n_sweep}_in_process": t_serial, f"sweep_{n_sweep}_dask": t_dask},
        "ratios": {"reassemble / form from blocks": t_reassemble / t_form,
                   "solve / form from blocks": t_solve / t_form,
                   "sweep in-process / dask": t_serial / t_dask},
    }
    out_dir = Path(out_dir)
    js = write_text(out_dir / f"bench_{device.name}.json", json.dumps(record, indent=2))
    lines = [f"# Benchmark: {device.name}", "",
             f"{record['date']}, {record['machine']['cpu']}, "
             f"{record['machine']['cores_usable']} usable cores, Python "
             f"{record['machine']['python']}; {record['nodes']} nodes, "
             f"{record['elements']} elements. Best of 3 (sweeps: 1 run).", "",
             "| step | seconds |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v:.4g} |" for k, v in record["seconds"].items()]
    lines += ["", "| ratio (same run) | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3g} |" for k, v in record["ratios"].items()]
    md = write_text(out_dir / f"bench_{device.name}.md", "\n".join(lines) + "\n")
    return js, md
