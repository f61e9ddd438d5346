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

from ..core.atomic import write_text
from ..discretize.axis import device_axis
from ..model.device import Device
from ..solvers.assemble import assemble
from ..solvers.solve import prepare
from ..solvers.sweep import Sweep, cpu_count


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
    b = problem.rhs()
    # from a zero guess: an iterative solver would otherwise start from the last repeat's
    # answer and time nothing
    t_solve = _best(lambda: problem.solve_rhs(f, b, x0=np.zeros_like(b)))
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


# ------------------------------------------------------------- the scaling benchmark
#: frequencies of the scaling benchmark's sweep
SCALING_F_HZ = (1e6, 1e11)
#: full solves timed per method and size (then extrapolated to the whole sweep)
TIMED_SOLVES = 4


def scaling_device(mesh_size_nm: float, n_frequencies: int) -> Device:
    """The README's 3D nonlocal spin valve meshed uniformly at ``mesh_size_nm``."""
    from ..model.device import load_device

    dev = load_device(Path(__file__).parents[2] / "devices" / "nlsv_py_cu.toml")
    return dev.with_params(**{
        "device.name": f"nlsv_bench_{mesh_size_nm:g}nm".replace(".", "p"),
        "device.mesh_size_nm": mesh_size_nm, "device.mesh_refine": 1.0,
        "frequencies.f_Hz": {"start": SCALING_F_HZ[0], "stop": SCALING_F_HZ[1],
                             "num": n_frequencies, "spacing": "log"},
        "output.fields": "none"})


def _ngsolve_space(mesh):
    """NGSolve's P1 space on the same nodes and elements, or None without NGSolve."""
    try:
        import ngsolve as ngs
        from netgen.meshing import Mesh as NGMesh
    except ImportError:
        return None
    ng = NGMesh(dim=mesh.dim())
    ng.AddPoints(np.ascontiguousarray(mesh.p.T))
    region = ng.AddRegion("all", dim=mesh.dim())
    ng.AddElements(dim=mesh.dim(), index=region, data=np.ascontiguousarray(
        mesh.t.T.astype(np.int32)), base=0)
    return ngs.H1(ngs.Mesh(ng), order=1, complex=True)


def assembly_vs_ngsolve(mesh) -> dict | None:
    """Seconds to assemble the P1 stiffness and mass on ``mesh``: spinfem's chunked
    closed form against NGSolve (one thread and its TaskManager), best of two each;
    None where NGSolve (the ``bench`` extra) is not installed."""
    fes = _ngsolve_space(mesh)
    if fes is None:
        return None
    import ngsolve as ngs

    from ..solvers.assemble import p1_volume_blocks

    u, v = fes.TnT()

    def ngsolve_km():
        a = ngs.BilinearForm(fes, symmetric=True)
        a += ngs.grad(u) * ngs.grad(v) * ngs.dx
        a.Assemble()
        m = ngs.BilinearForm(fes, symmetric=True)
        m += u * v * ngs.dx
        m.Assemble()

    def ngsolve_threads():
        with ngs.TaskManager():
            ngsolve_km()

    return {"spinfem_K_M": _best(lambda: p1_volume_blocks(mesh, np.arange(mesh.nelements)), 2),
            "ngsolve_K_M_1_thread": _best(ngsolve_km, 2),
            "ngsolve_K_M_taskmanager": _best(ngsolve_threads, 2),
            "ngsolve_version": ngs.__version__}


#: NGSolve's direct solver is timed up to this many nodes (fill-in above)
NGSOLVE_DIRECT_MAX = 250_000


def solve_vs_ngsolve(mesh, rel_tol: float = 1e-8) -> dict | None:
    """One solve of the model problem ``(K + theta M) u = M 1`` on ``mesh`` with
    ``theta = (1 - 3i) / L^2`` (``L``: a tenth of the mesh's extent; damped and
    oscillating like the spin accumulation at GHz), assembly included: spinfem's
    AMG-GMRES (the hierarchy and the V-cycle of the ``iterative`` solver) against NGSolve's
    GMRes with its ``h1amg`` preconditioner (one thread and TaskManager) and, up to
    :data:`NGSOLVE_DIRECT_MAX` nodes, its sparse Cholesky; all to the relative residual
    ``rel_tol``. None without NGSolve."""
    fes = _ngsolve_space(mesh)
    if fes is None:
        return None
    import ngsolve as ngs
    import scipy.sparse.linalg as spla
    from ngsolve.krylovspace import GMResSolver

    from ..solvers.assemble import p1_volume_blocks
    from ..solvers.linear import amg_hierarchy, amg_preconditioner

    extent = float(np.max(mesh.p.max(axis=1) - mesh.p.min(axis=1)))
    theta = (1 - 3j) / (extent / 10) ** 2
    out = {"theta": f"(1-3i)/({extent / 10:.4g})^2 (mesh units)", "nodes": int(mesh.nvertices)}

    def ours():
        t = time.perf_counter()
        K, M = p1_volume_blocks(mesh, np.arange(mesh.nelements))
        A = (K + theta * M).tocsr()
        b = M @ np.ones(mesh.nvertices)
        P = amg_preconditioner(amg_hierarchy((K + abs(theta) * M).tocsr()))
        its = [0]
        x, _ = spla.gmres(A, b.astype(complex), M=P, rtol=rel_tol, atol=0.0, restart=30,
                          maxiter=20, callback=lambda _: its.__setitem__(0, its[0] + 1),
                          callback_type="pr_norm")
        res = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
        return time.perf_counter() - t, its[0], float(res)

    sec, its, res = ours()
    out["spinfem_amg_gmres"] = {"seconds": sec, "iterations": its, "rel_residual": res}
    u, v = fes.TnT()

    def theirs(inverse=None):
        t = time.perf_counter()
        a = ngs.BilinearForm(fes, symmetric=True)
        a += ngs.grad(u) * ngs.grad(v) * ngs.dx + theta * u * v * ngs.dx
        pre = None if inverse else ngs.Preconditioner(a, "h1amg")
        a.Assemble()
        f = ngs.LinearForm(fes)
        f += v * ngs.dx
        f.Assemble()
        setup = time.perf_counter() - t
        gfu, r = ngs.GridFunction(fes), f.vec.CreateVector()
        # NGSolve's GMRes stops on its own residual measure: tightened by 10x steps until
        # the true relative residual is rel_tol; the time is that of the run that got there
        for tol in rel_tol * 10.0 ** -np.arange(6):
            t = time.perf_counter()
            if inverse:
                gfu.vec.data = a.mat.Inverse(fes.FreeDofs(), inverse=inverse) * f.vec
                its = 0
            else:
                solver = GMResSolver(a.mat, pre.mat, tol=float(tol), maxiter=600)
                gfu.vec.data = solver * f.vec
                its = solver.iterations
            sec = setup + time.perf_counter() - t
            r.data = f.vec - a.mat * gfu.vec
            res = float(ngs.Norm(r) / ngs.Norm(f.vec))
            if res <= rel_tol or inverse:
                break
        return sec, int(its), res

    sec, its, res = theirs()
    out["ngsolve_h1amg_gmres_1_thread"] = {"seconds": sec, "iterations": its,
                                           "rel_residual": res}
    with ngs.TaskManager():
        sec, its, res = theirs()
    out["ngsolve_h1amg_gmres_taskmanager"] = {"seconds": sec, "iterations": its,
                                              "rel_residual": res}
    if mesh.nvertices <= NGSOLVE_DIRECT_MAX:
        with ngs.TaskManager():
            sec, _, res = theirs("sparsecholesky")
        out["ngsolve_sparsecholesky_taskmanager"] = {"seconds": sec, "rel_residual": res}
    return out


#: SuperLU gets this long for its first frequency, and this much memory above the
#: benchmark's own, before it is recorded as too slow / too big
SUPERLU_LIMIT_S = 900
SUPERLU_LIMIT_GB = 14


def _superlu_in_child(problem, freqs) -> dict:
    """SuperLU on ``freqs`` in a forked process limited to :data:`SUPERLU_LIMIT_GB` more
    memory and :data:`SUPERLU_LIMIT_S` per frequency (a second frequency only when the
    first took under a third of that); seconds per frequency, or why it stopped."""
    import multiprocessing as mp
    import resource
    from dataclasses import replace

    from ..solvers.solve import solver_settings

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()

    def work():
        with open("/proc/self/statm") as fh:
            vm = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = vm + SUPERLU_LIMIT_GB * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        p = replace(problem, solver=solver_settings(problem.device, "direct"))
        for f in freqs:
            t = time.perf_counter()
            try:
                p.solve(float(f))
            except MemoryError:
                child.send(("memory", None))
                return
            except Exception as exc:  # SuperLU's own out-of-memory, among others
                child.send(("error", f"{type(exc).__name__}: {exc}"))
                return
            child.send(("ok", time.perf_counter() - t))

    proc = ctx.Process(target=work)
    started = time.perf_counter()
    proc.start()
    times, why = [], None
    for _ in freqs:
        limit = SUPERLU_LIMIT_S if not times else 3 * SUPERLU_LIMIT_S
        if not parent.poll(limit):
            why = (f"no result after {limit} s" if proc.is_alive() else
                   f"killed (exit {proc.exitcode}), likely out of memory")
            break
        kind, sec = parent.recv()
        if kind == "memory":
            why = f"out of memory: more than {SUPERLU_LIMIT_GB} GB for the factorization"
            break
        if kind == "error":
            why = f"failed after {time.perf_counter() - started:.0f} s: {sec}"
            break
        times.append(sec)
        if sec > SUPERLU_LIMIT_S / 3:
            break
    if proc.is_alive():
        proc.kill()
    proc.join()
    out = {"frequencies_timed": len(times)}
    if times:
        out["per_frequency"] = float(np.mean(times))
    if why:
        out["stopped"] = why
    return out


def _peak_rss_gb() -> float:
    import resource

    kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
             resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kb / 2**20


def measure_size(mesh_size_nm: float, n_frequencies: int = 200, mesh_dir: str | Path = "meshes",
                 rel_tol: float = 1e-6) -> dict:
    """One size of the scaling benchmark, in this process (run it in a fresh one for a
    clean peak memory): prepare (and where its time goes), (b) AMG-GMRES on
    ``TIMED_SOLVES`` frequencies spread over the sweep (extrapolated to all), (c) the
    reduced sweep of every frequency with fields at ten, the reduced sweep's errors against
    full solves at relative residual 1e-11 at the timed frequencies, the peak memory of
    all that, then (a) SuperLU in a limited child process (:func:`_superlu_in_child`) and
    (d) NGSolve (:func:`assembly_vs_ngsolve`, :func:`solve_vs_ngsolve`)."""
    from dataclasses import replace

    from ..solvers.solve import solver_settings
    from ..solvers.sweep import Sweep

    dev = scaling_device(mesh_size_nm, n_frequencies)
    freqs = dev.f_Hz()
    t = time.perf_counter()
    problem = prepare(dev, mesh_dir=mesh_dir)
    rec = {"mesh_size_nm": mesh_size_nm, "nodes": int(problem.blocks.n_nodes),
           "unknowns": problem.n_unknowns, "elements": int(problem.dmesh.mesh.nelements),
           "frequencies": len(freqs), "seconds": {"prepare": time.perf_counter() - t}}
    sel = np.unique(np.round(np.linspace(0, len(freqs) - 1, TIMED_SOLVES)).astype(int))
    timed = freqs[sel]

    def per_method(method, tol):
        p = replace(problem, solver=solver_settings(dev, method, tol))
        out, times, iters = [], [], []
        for f in timed:
            t = time.perf_counter()
            res = p.solve(float(f))
            times.append(time.perf_counter() - t)
            iters.append(res.stats.iterations)
            out.append(res)
        return out, times, iters

    s = rec["seconds"]
    rec["prepare_parts_s"] = problem.prepare_parts_s
    _, times, iters = per_method("iterative", 1e-8)
    s["amg_gmres_per_frequency"] = float(np.mean(times))
    s["amg_gmres_sweep_extrapolated"] = float(np.mean(times)) * len(freqs)
    rec["amg_gmres_iterations"] = iters
    refs, _, _ = per_method("iterative", 1e-11)
    fields_at = set(np.round(np.linspace(0, len(freqs) - 1, 10)).astype(int).tolist())
    t = time.perf_counter()
    sweep = Sweep(replace(problem, solver=solver_settings(dev, "reduced", rel_tol)), freqs,
                  parallel=False)
    Z, kept = [], {}
    for i, res in enumerate(sweep):
        Z.append(sweep.signals[-1]["detector_Z"])
        if i in fields_at or i in sel:
            kept[i] = res.mu  # what a run writes to VTU (fields at ten frequencies)
    s["reduced_sweep"] = time.perf_counter() - t
    r = sweep.report
    rec["reduced"] = {"full_solves": r.full_solves, "basis_size": r.basis_size,
                      "rhs_per_full_solve": int(problem.signal_functionals()[0].shape[1]),
                      "greedy_seconds": r.seconds,
                      "max_est_rel_error": sweep.max_error_bound()}
    rec["reduced"]["max_rel_error_Z"] = max(
        abs(Z[i] - ref.transfer("detector")) / abs(ref.transfer("detector"))
        for i, ref in zip(sel, refs))
    rec["reduced"]["max_rel_error_fields"] = max(
        np.linalg.norm(kept[i] - ref.mu) / np.linalg.norm(ref.mu) for i, ref in zip(sel, refs))
    s["prepare_plus_reduced_sweep"] = s["prepare"] + s["reduced_sweep"]
    rec["peak_memory_GB"] = _peak_rss_gb()  # the run's; SuperLU and NGSolve come after
    rec["superlu"] = _superlu_in_child(problem, timed)
    if "per_frequency" in rec["superlu"]:
        s["superlu_per_frequency"] = rec["superlu"]["per_frequency"]
        s["superlu_sweep_extrapolated"] = s["superlu_per_frequency"] * len(freqs)
    rec["ratios"] = {"amg_gmres_sweep / reduced_sweep":
                     s["amg_gmres_sweep_extrapolated"] / s["reduced_sweep"]}
    if "superlu_sweep_extrapolated" in s:
        rec["ratios"]["superlu_sweep / reduced_sweep"] = \
            s["superlu_sweep_extrapolated"] / s["reduced_sweep"]
        rec["ratios"]["superlu / amg_gmres per frequency"] = \
            s["superlu_per_frequency"] / s["amg_gmres_per_frequency"]
    rec["assembly"] = assembly_vs_ngsolve(problem.dmesh.mesh)
    rec["model_solve"] = solve_vs_ngsolve(problem.dmesh.mesh)
    return rec


def run_scaling(sizes_nm, out_dir: str | Path, n_frequencies: int = 200,
                mesh_dir: str | Path = "meshes", name: str = "scaling",
                progress=None) -> tuple[Path, Path]:
    """Every size in a fresh process (``python -m fem.studies.bench``); JSON and Markdown with the
    machine and date into ``out_dir``."""
    import subprocess
    import sys

    rows = []
    for h in sizes_nm:
        if progress is not None:
            progress(f"size {h:g} nm")
        proc = subprocess.run([sys.executable, "-m", "fem.studies.bench", str(h),
                               str(n_frequencies), str(mesh_dir)], capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append({"mesh_size_nm": h, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    record = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": machine(), "device": "nlsv_py_cu (3D), uniform mesh_size_nm",
              "frequencies_Hz": list(SCALING_F_HZ), "sizes": rows,
              "ngsolve": "P1 stiffness + mass assembly on the same (split) mesh, best of 2"}
    out_dir = Path(out_dir)
    js = write_text(out_dir / f"bench_{name}.json", json.dumps(record, indent=2))
    md = write_text(out_dir / f"bench_{name}.md", scaling_markdown(record))
    return js, md


def scaling_markdown(record: dict) -> str:
    m = record["machine"]
    lines = [f"# Scaling benchmark: {record['device']}", "",
             f"{record['date']}, {m['cpu']}, {m['cores_usable']} usable cores, Python "
             f"{m['python']}. Frequencies: {record['sizes'][0].get('frequencies', '?')} "
             f"log-spaced over {record['frequencies_Hz'][0]:g}-{record['frequencies_Hz'][1]:g} "
             f"Hz. SuperLU and AMG-GMRES timed on {TIMED_SOLVES} frequencies (SuperLU on fewer "
             f"where one takes over {SUPERLU_LIMIT_S // 3} s) and extrapolated (AMG-GMRES in "
             "frequency order, reusing a hierarchy where the weights allow, as a sweep does, "
             "but without a nearby frequency's solution to start from); the reduced "
             "sweep is the whole sweep (Z at every frequency, fields at ten). Peak memory: the "
             "benchmark process through the reduced sweep (SuperLU runs after it in a child "
             f"limited to {SUPERLU_LIMIT_GB} GB more).", "",
             "| nodes | prepare [s] | SuperLU / freq [s] | AMG-GMRES / freq [s] (its) | "
             "reduced sweep [s] | full solves | sweep ratio AMG / reduced | "
             "SuperLU / reduced | max rel err Z | max rel err fields | peak memory [GB] |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in record["sizes"]:
        if "error" in r:
            lines.append(f"| ({r['mesh_size_nm']:g} nm) | failed: {r['error']} |")
            continue
        s, red, rat = r["seconds"], r["reduced"], r["ratios"]
        lu_rec = r.get("superlu", {})
        lu = f"{s['superlu_per_frequency']:.3g}" if "superlu_per_frequency" in s else \
            lu_rec.get("stopped", "not run")
        if lu_rec.get("frequencies_timed", TIMED_SOLVES) < TIMED_SOLVES and \
                "superlu_per_frequency" in s:
            lu += f" ({lu_rec['frequencies_timed']} timed)"
        lu_ratio = f"{rat['superlu_sweep / reduced_sweep']:.3g}" \
            if "superlu_sweep / reduced_sweep" in rat else "-"
        lines.append(
            f"| {r['nodes']} | {s['prepare']:.3g} | {lu} | {s['amg_gmres_per_frequency']:.3g} "
            f"({max(r['amg_gmres_iterations'])}) | {s['reduced_sweep']:.3g} | "
            f"{red['full_solves']} | {rat['amg_gmres_sweep / reduced_sweep']:.3g} | {lu_ratio} | "
            f"{red['max_rel_error_Z']:.2g} | {red['max_rel_error_fields']:.2g} | "
            f"{r['peak_memory_GB']:.2f} |")
    lines += targets(record)
    lines += ["", "Where the time of prepare goes [s]:", "",
              "| nodes | mesh (gmsh, read) | split interfaces | assembly |", "|---|---|---|---|"]
    for r in record["sizes"]:
        p = r.get("prepare_parts_s")
        if p:
            lines.append(f"| {r['nodes']} | {p['mesh']:.3g} | {p['interfaces']:.3g} | "
                         f"{p['assembly']:.3g} |")
    lines += model_solve_markdown(record)
    lines += ["", f"Assembly against NGSolve ({record['ngsolve']}):", "",
              "| nodes | spinfem K+M [s] | NGSolve K+M, 1 thread [s] | NGSolve K+M, TaskManager "
              "[s] | NGSolve / spinfem (1 thread) |", "|---|---|---|---|---|"]
    for r in record["sizes"]:
        a = r.get("assembly")
        if a:
            lines.append(f"| {r['nodes']} | {a['spinfem_K_M']:.3g} | "
                         f"{a['ngsolve_K_M_1_thread']:.3g} | {a['ngsolve_K_M_taskmanager']:.3g} "
                         f"| {a['ngsolve_K_M_1_thread'] / a['spinfem_K_M']:.3g} |")
        elif "error" not in r:
            lines.append(f"| {r['nodes']} | not measured: NGSolve (pip install "
                         "'spinfem[bench]') is not installed | | | |")
    return "\n".join(lines) + "\n"


def model_solve_markdown(record: dict) -> list[str]:
    rows = [r for r in record["sizes"] if r.get("model_solve")]
    if not rows:
        return []
    out = ["", "One solve of the model problem (K + theta M) u = M 1 on the same mesh, assembly "
           f"included, relative residual 1e-8 ({rows[0]['model_solve']['theta']}) [s] "
           "(iterations):", "",
           "| nodes | spinfem AMG-GMRES | NGSolve h1amg-GMRes, 1 thread | NGSolve h1amg-GMRes, "
           "TaskManager | NGSolve sparse Cholesky, TaskManager |", "|---|---|---|---|---|"]
    for r in rows:
        m = r["model_solve"]

        def cell(key, m=m):
            c = m.get(key)
            if c is None:
                return "not run"
            its = f" ({c['iterations']})" if "iterations" in c else ""
            return f"{c['seconds']:.3g}{its}"
        out.append(f"| {r['nodes']} | {cell('spinfem_amg_gmres')} | "
                   f"{cell('ngsolve_h1amg_gmres_1_thread')} | "
                   f"{cell('ngsolve_h1amg_gmres_taskmanager')} | "
                   f"{cell('ngsolve_sparsecholesky_taskmanager')} |")
    return out


def targets(record: dict) -> list[str]:
    """The issue's targets at the largest size measured: met or missed, and by how much."""
    done = [r for r in record["sizes"] if "error" not in r]
    if not done:
        return []
    r = max(done, key=lambda r: r["nodes"])
    s, red = r["seconds"], r["reduced"]
    total = s["prepare"] + s["reduced_sweep"]
    ratio = r["ratios"]["amg_gmres_sweep / reduced_sweep"]
    solves = s["amg_gmres_per_frequency"]
    # a full solve adds the real and imaginary parts of each right-hand side's solution
    rhs = red.get("rhs_per_full_solve", red["basis_size"] // (2 * red["full_solves"]))
    rows = [
        ("prepare + reduced sweep < 300 s", f"{total:.0f} s", total < 300,
         f"{total / 300:.1f}x over: prepare {s['prepare']:.0f} s, reduced sweep "
         f"{s['reduced_sweep']:.0f} s of which {red['greedy_seconds']:.0f} s build the basis "
         f"({red['full_solves']} full solves, each {rhs} Krylov solves (the load and "
         f"{rhs - 1} contact adjoints) to relative residual 1e-10, "
         f"~{red['greedy_seconds'] / red['full_solves'] / solves:.1f} AMG-GMRES solves' time)"),
        ("peak memory < 4 GB", f"{r['peak_memory_GB']:.2f} GB", r["peak_memory_GB"] < 4,
         f"{r['peak_memory_GB'] / 4:.2f}x" + (
             "; peak resident memory by phase (RSS sampled every 20 ms in a separate run): "
             + ", ".join(f"{k} {v:.2f} GB" for k, v in r["memory_by_phase_GB"].items())
             if "memory_by_phase_GB" in r else " (memory not profiled by part)")),
        ("reduced sweep >= 30x faster than 200 AMG-GMRES", f"{ratio:.1f}x", ratio >= 30,
         f"{30 / ratio:.1f}x short: 200 frequencies cost {rhs * red['full_solves']} Krylov "
         "solves"),
        ("max rel error of Z <= 1e-6", f"{red['max_rel_error_Z']:.1e}",
         red["max_rel_error_Z"] <= 1e-6, ""),
    ]
    a = r.get("assembly")
    if a:
        rows.append(("assembly at least as fast as NGSolve", f"{a['spinfem_K_M']:.1f} s vs "
                     f"{a['ngsolve_K_M_1_thread']:.1f} s (1 thread), "
                     f"{a['ngsolve_K_M_taskmanager']:.1f} s (TaskManager)",
                     a["spinfem_K_M"] <= a["ngsolve_K_M_taskmanager"], ""))
    out = ["", f"Targets at {r['nodes']} nodes:", "", "| target | measured | met | where the "
           "time goes when missed |", "|---|---|---|---|"]
    out += [f"| {t} | {m} | {'yes' if ok else 'no'} | {'' if ok else why} |"
            for t, m, ok, why in rows]
    return out


if __name__ == "__main__":  # one size of the scaling benchmark: python -m fem.studies.bench H N DIR
    import sys

    print(json.dumps(measure_size(float(sys.argv[1]), int(sys.argv[2]), sys.argv[3])))
