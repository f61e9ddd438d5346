"""The ``spinfem`` command line: the only place that prints or exits."""

from __future__ import annotations

import functools
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer

from .core.errors import SpinfemError, SpinfemWarning

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Finite elements for longitudinal spin accumulation and spin diffusion.")

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
_DEBUG = {"on": False}


def _fail(err: Exception) -> None:
    typer.echo(f"spinfem: error: {err}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """spinfem's own warnings as one line each; any other in Python's format."""
    if issubclass(category, SpinfemWarning):
        typer.echo(f"spinfem: warning: {message}", err=True)
    else:
        typer.echo(warnings.formatwarning(message, category, filename, lineno, line)
                   .rstrip(), err=True)


def _guarded(command):
    """Every command: a known bad input is one line and exit 2; anything else is a bug,
    one line and exit 1 (the traceback only with ``--debug``); warnings one line each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except SpinfemError as err:
            _fail(err)
        except MemoryError:
            _fail(SpinfemError("out of memory: the device is too large for this machine "
                               "(a coarser mesh_size_nm or fewer frequencies)"))
        except Exception as err:
            if _DEBUG["on"]:
                traceback.print_exc()
            where = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            typer.echo(f"spinfem: internal error: {where} (run with --debug for the "
                       "traceback, and please report it)", err=True)
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        help="Show the traceback of an internal error")] = False) -> None:
    _DEBUG["on"] = debug


@app.command()
@_guarded
def check(device_file: Annotated[Path, typer.Argument(help="Device TOML file")],
          allow_large: Annotated[bool, typer.Option(
              help="Accept a device estimated to need more memory than this machine has, "
                   "or very many frequencies")] = False) -> None:
    """Validate a device file: everything a run checks before solving (the schema, the
    rules, the resources it needs, a user mesh); nothing is solved or written."""
    from .discretize.preflight import preflight
    from .model.device import load_device

    try:
        dev = load_device(device_file)
        est = preflight(dev, allow_large)
    except SpinfemError as err:
        _fail(err)
    size = f", about {est.nodes:.2g} nodes, {est.memory_GB:.2g} GB" if est else ""
    typer.echo(f"{device_file}: ok ({dev.name}, {dev.geometry}, {dev.dimension}D, "
               f"{len(dev.region_materials())} regions, {len(dev.f_Hz())} frequencies{size})")


@app.command()
@_guarded
def run(device_file: Annotated[Path, typer.Argument(help="Device TOML file")],
        out: Annotated[Path | None,
                       typer.Option(help="Output folder [default: results/<name>]")] = None,
        scheduler: Annotated[str | None, typer.Option(
            help="Address of an existing Dask scheduler (tcp://host:port); default: an "
                 "embedded local cluster sized to this machine")] = None,
        serial: Annotated[bool, typer.Option(help="Solve in this process, without Dask")] = False,
        mesh_dir: Annotated[Path, typer.Option(help="Where gmsh meshes go")] = Path("meshes"),
        method: Annotated[str | None, typer.Option(
            help="Solver: auto, direct, iterative or reduced [default: the device file's "
                 "[solver] method, else auto]")] = None,
        rel_tol: Annotated[float | None, typer.Option(
            help="Relative tolerance: residual (iterative) or error bound (reduced) "
                 "[default: the device file's, else 1e-6]")] = None,
        allow_large: Annotated[bool, typer.Option(
            help="Go on with a device estimated to need more memory than this machine "
                 "has, or very many frequencies")] = False,
        resume: Annotated[bool, typer.Option(
            help="Finish a stopped run in --out: solve only the frequencies it has not "
                 "written (refused if the device file changed)")] = False,
        ) -> None:
    """Sweep every frequency of a device: VTU/PVD, CSV, summary and pictures."""
    import time

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .api import prepare_device, run_device
    from .core.atomic import remove_empty, writable_folder
    from .model.device import load_device

    _terminate_cleanly()
    console = Console(stderr=True)
    out_dir, created = None, []
    try:
        dev = load_device(device_file)
        out_dir = out if out is not None else Path("results") / dev.name
        created = writable_folder(out_dir)
        if resume:
            from .api import resume_point

            done = resume_point(dev, out_dir)
            console.print(f"resuming {out_dir}: {done} of {len(dev.f_Hz())} frequencies done")
        t0 = time.perf_counter()
        doing = "meshing and assembling" if dev.adapt is None else \
            f"adapting the mesh for Z({dev.adapt.contact}) to {dev.adapt.rel_error:g}"
        with console.status(f"{doing} {dev.name} ...", spinner="dots"):
            problem = prepare_device(dev, mesh_dir=mesh_dir, method=method, rel_tol=rel_tol,
                                     allow_large=allow_large)
        n = problem.dmesh.mesh_nodes
        console.print(f"{dev.name}: {n} nodes, {problem.dmesh.mesh.nelements} elements "
                      f"({time.perf_counter() - t0:.1f} s); solver: "
                      f"{problem.method(len(dev.f_Hz()))}")
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("frequencies"), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn()]
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"sweeping {dev.name}", total=len(dev.f_Hz()),
                                     completed=done if resume else 0)
            output = run_device(
                dev, out_dir, callback=lambda i, k, r: progress.advance(task), problem=problem,
                scheduler=scheduler, parallel=False if serial else "auto", plots=False,
                status=lambda text: progress.update(task, description=text), resume=resume)
        with console.status("rendering pictures ...", spinner="dots"):
            from .output.plot import make_all

            output.files += make_all(out_dir)
    except SpinfemError as err:
        remove_empty(created)  # refused before writing: leave nothing behind
        _fail(err)
    except OSError as err:  # an output folder that cannot be written, a full disk
        remove_empty(created)
        _fail(SpinfemError(f"{err.filename or out_dir}: {err.strerror or err}"))
    except KeyboardInterrupt:
        from .output.export import remove_partial

        if out_dir is not None and out_dir.exists():
            remove_partial(out_dir)  # finished files stay; half-written ones go
        typer.echo("spinfem: stopped; the files written so far are complete (finish with "
                   "--resume)", err=True)
        raise typer.Exit(130) from None
    for f in output.files:
        typer.echo(f"wrote {f}")


@app.command()
@_guarded
def plot(run_dir: Annotated[Path, typer.Argument(help="A run's output folder, e.g. "
                                                 "results/<device>")]) -> None:
    """Remake a run's pictures from its saved files, without solving."""
    from .output.plot import make_all

    if not (run_dir / "device.json").exists():
        _fail(SpinfemError(f"{run_dir}: no device.json: not the output folder of a run"))
    try:
        files = make_all(run_dir)
    except SpinfemError as err:
        _fail(err)
    for f in files:
        typer.echo(f"wrote {f}")


def _terminate_cleanly() -> None:
    """SIGTERM stops like Ctrl-C, so temporary files are removed on the way out."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@app.command()
@_guarded
def bench(device_file: Annotated[Path, typer.Argument(help="Device TOML file")] = Path(
              "devices/nlsv_py_cu.toml"),
          out: Annotated[Path, typer.Option(help="Output folder")] = Path("results/benchmarks"),
          sizes: Annotated[str | None, typer.Option(
              help="Scaling benchmark instead: comma-separated mesh sizes [nm] of the 3D "
                   "nonlocal spin valve, e.g. 6.6,3.9,2.25 (about 50k, 200k, 1M nodes)")] = None,
          frequencies: Annotated[int, typer.Option(
              help="Frequencies of the scaling benchmark's sweep")] = 200,
          ) -> None:
    """Time meshing, forming A(omega), solving, sampling and sweeping (ratios in one run);
    with --sizes, SuperLU, AMG-GMRES and the reduced sweep at several mesh sizes."""
    from .model.device import load_device
    from .studies.bench import run_benchmark, run_scaling

    try:
        if sizes is not None:
            try:
                sizes_nm = [float(v) for v in sizes.split(",")]
            except ValueError:
                _fail(SpinfemError(f"--sizes: comma-separated numbers [nm], got {sizes!r}"))
            files = run_scaling(sizes_nm, out, frequencies)
        else:
            files = run_benchmark(load_device(device_file), out)
    except SpinfemError as err:
        _fail(err)
    for f in files:
        typer.echo(f"wrote {f}")
    typer.echo(files[1].read_text())


@app.command()
@_guarded
def accuracy(device_file: Annotated[Path, typer.Argument(help="Device TOML file (gmsh "
                                                         "geometry)")],
             contact: Annotated[str, typer.Option(help="The contact whose Z is measured")] =
             "detector",
             f_hz: Annotated[float, typer.Option("--f-Hz", help="Frequency [Hz]")] = 1e9,
             rel_error: Annotated[float, typer.Option(help="Goal of the adaptive loop")] = 1e-3,
             uniform_nm: Annotated[str, typer.Option(
                 help="Comma-separated uniform element sizes [nm]")] = "16,8,4,2",
             out: Annotated[Path, typer.Option(help="Output folder")] = Path(
                 "results/accuracy")) -> None:
    """Error of Z against nodes on uniform, graded and adaptive meshes (with the adaptive
    loop's own estimate), against a Richardson-extrapolated reference."""
    from .model.device import load_device
    from .studies.accuracy import accuracy_study, write_study

    try:
        dev = load_device(device_file)
        if contact not in dev.contacts:
            raise SpinfemError(f"--contact: no contact {contact!r} in {device_file}; "
                               f"contacts: {sorted(dev.contacts)}")
        try:
            sizes = tuple(float(v) for v in uniform_nm.split(","))
        except ValueError:
            raise SpinfemError(f"--uniform-nm: comma-separated numbers [nm], got "
                               f"{uniform_nm!r}") from None
        study = accuracy_study(dev, contact, f_hz, uniform_nm=sizes, rel_error=rel_error)
        files = write_study(study, out)
    except SpinfemError as err:
        _fail(err)
    for f in files:
        typer.echo(f"wrote {f}")
    goal, uniform = study.rel_error_goal, study.series["uniform"]
    n_uni = uniform.nodes_to_reach(goal)
    for name, s in study.series.items():
        if name == "uniform":
            continue
        n = s.nodes_to_reach(goal)
        if not s.nodes:
            text = "no mesh within max_nodes"
        elif n is None:
            text = f"not reached (up to {max(s.nodes):,} nodes)"
        elif n_uni is None:
            text = f"{n:,} nodes; uniform meshes did not reach it (up to {max(uniform.nodes):,})"
        else:
            text = f"{n:,} nodes, {n_uni / n:.1f}x fewer than uniform"
        typer.echo(f"{name}: {text} at {goal:g}")


def _param_option(text: str) -> tuple[str, tuple[float, float] | None]:
    """``path`` or ``path=lower:upper``."""
    from .core.errors import DeviceError

    path, sep, rng = text.partition("=")
    if not sep:
        return path.strip(), None
    try:
        lo, hi = (float(v) for v in rng.split(":"))
    except ValueError:
        raise DeviceError(f"--param {text}", "bounds are written path=lower:upper, e.g. "
                          "materials.Cu.tau_mL_s=1e-12:1e-10") from None
    return path.strip(), (lo, hi)


@app.command()
@_guarded
def fit(device_file: Annotated[Path, typer.Argument(help="Device TOML file (starting values)")],
        data_file: Annotated[Path, typer.Argument(
            help="Measured data CSV: f_Hz, Z_re, Z_im [Z_re_err, Z_im_err] (or Z_abs "
                 "[Z_abs_err]; or the same as R_* in ohms, with P_F on the ferromagnets; "
                 "or a geometry key column, one device per row)")],
        param: Annotated[list[str], typer.Option(
            help="A device key to fit, e.g. materials.Cu.tau_mL_s or "
                 "interfaces.0.G_s_m_per_s, optionally with bounds: "
                 "materials.Cu.tau_mL_s=1e-12:1e-10 (repeat for several)")],
        contact: Annotated[str | None, typer.Option(
            help="The contact the data measured [default: the detector]")] = None,
        out: Annotated[Path | None, typer.Option(
            help="Output folder [default: results/<name>/fit]")] = None,
        mesh_dir: Annotated[Path, typer.Option(help="Where gmsh meshes go")] = Path("meshes"),
        max_evaluations: Annotated[int, typer.Option(
            help="Model evaluations the optimizer may use")] = 60,
        model_error: Annotated[float, typer.Option(
            help="Relative uncertainty of the model's Z (its discretization error, e.g. "
                 "from spinfem accuracy), added in quadrature to the data's errors")] = 0.0,
        mesh_correction: Annotated[bool, typer.Option(
            "--mesh-correction",
            help="Correct the model for the mesh's estimated error (dual-weighted "
                 "residual: one more solve per frequency on the once refined mesh)")] = False,
        ) -> None:
    """Fit device parameters to a measured transfer function Z (least squares in log
    space, adjoint gradients): values, standard errors, correlations, chi^2/dof and a
    picture of data against fit."""
    import warnings

    from rich.console import Console
    from rich.table import Table

    from .core.atomic import remove_empty, writable_folder
    from .model.device import load_device
    from .model.fit_data import read_fit_data
    from .output.fit_output import write_fit
    from .studies.fitting import IdentifiabilityWarning
    from .studies.fitting import fit as run_fit

    console = Console(stderr=True)
    created = []
    try:
        dev = load_device(device_file)
        data = read_fit_data(data_file)
        parsed = [_param_option(p) for p in param]
        bounds = {p: b for p, b in parsed if b is not None}
        out_dir = out if out is not None else Path("results") / dev.name / "fit"
        created = writable_folder(out_dir)
        with console.status(f"fitting {dev.name} ...", spinner="dots") as status, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", IdentifiabilityWarning)  # printed below
            result = run_fit(
                dev, data, [p for p, _ in parsed], bounds=bounds, contact=contact,
                mesh_dir=mesh_dir, max_evaluations=max_evaluations, model_error=model_error,
                mesh_correction=mesh_correction, callback=lambda i, v, c: status.update(
                    f"fitting {dev.name}: evaluation {i}, chi^2/2 = {c:.6g}"))
            files = write_fit(result, out_dir)
    except SpinfemError as err:
        remove_empty(created)
        _fail(err)
    table = Table(title=f"{dev.name}: fit of {'|Z|' if data.magnitude else 'Z'}"
                        f"({result.contact}) to {data_file} ({data.n_points} points)")
    for col in ("parameter", "start", "fitted", "std. error", "rel."):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for p, v, se in result.table():
        rel = f"{100 * se / v:.2g}%" if se != float("inf") else "undetermined"
        table.add_row(p, f"{result.initial[p]:.4g}", f"{v:.6g}", f"{se:.2g}", rel)
    Console().print(table)
    chi = result.chi2_per_dof
    typer.echo(f"chi^2/dof = {chi:.3f}" if chi == chi else
               "chi^2/dof: n/a (the data carry no errors; errors estimated from the scatter)")
    if result.mesh_correction is not None:
        worst = 100 * max(abs(d) for d in result.mesh_correction)
        typer.echo(f"model corrected for the mesh's estimated error (up to {worst:.2g}% of Z)")
    typer.echo(f"{result.evaluations} model evaluations; {result.message}")
    for note in result.warnings:
        typer.echo(f"warning: {note}")
    for f in files:
        typer.echo(f"wrote {f}")


@app.command()
@_guarded
def materials(name: Annotated[str | None, typer.Argument(
                  help="A library material (e.g. Py, Cu); without it, the whole table")] = None,
              t_k: Annotated[float | None, typer.Option(
                  "--T-K", help="Only the entry at this temperature [K]")] = None,
              markdown: Annotated[bool, typer.Option(
                  "--markdown", help="The whole table as Markdown (as in the README)")] = False,
              ) -> None:
    """The material library: measured spin-diffusion lengths and resistivities with their
    sources; with a NAME, its entries in full (the model parameters, every citation, the
    notes and assumptions)."""
    from rich.console import Console

    from .output.materials_report import entry_report, library_table

    # piped or redirected: wide enough for the table rather than rich's 80 columns
    console = Console(width=None if sys.stdout.isatty() else 160)
    if name is None:
        if t_k is not None:
            _fail(SpinfemError("--T-K: give a material name too, e.g. spinfem materials Cu "
                               "--T-K 4.2"))
        if markdown:
            from .model.materials import materials_markdown

            typer.echo(materials_markdown())
        else:
            console.print(library_table())
        return
    if markdown:
        _fail(SpinfemError("--markdown: the whole table only, without a material name"))
    from .core.errors import DeviceError
    from .model.materials import library, library_entry

    try:
        entries = [library_entry(name, t_k)] if t_k is not None else \
            [e for e in library() if e.name == name] or [library_entry(name)]
    except DeviceError as err:
        _fail(SpinfemError(f"{'--T-K' if err.loc == 'T_K' else name}: {err.rule}"))
    for e in entries:
        console.print(entry_report(e))


@app.command()
@_guarded
def figures(out: Annotated[Path, typer.Option(help="Output folder")] = Path("results/figures")
            ) -> None:
    """Reproduce the paper's Figs. 2-5 from the exact dispersion (fem.core.analytic)."""
    from .output.figures import make_figures

    for f in make_figures(out):
        typer.echo(f"wrote {f}")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
