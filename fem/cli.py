"""The ``spinfem`` command line: the only place that prints or exits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import SpinfemError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Finite elements for longitudinal spin accumulation and spin diffusion.")

EXIT_BAD_INPUT = 2


def _fail(err: Exception) -> None:
    typer.echo(f"spinfem: error: {err}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def check(device_file: Annotated[Path, typer.Argument(help="Device TOML file")]) -> None:
    """Validate a device file (nothing is solved or written)."""
    from .device import load_device

    try:
        dev = load_device(device_file)
    except SpinfemError as err:
        _fail(err)
    typer.echo(f"{device_file}: ok ({dev.name}, {len(dev.layers)} layers, "
               f"{len(dev.f_Hz())} frequencies)")


@app.command()
def run(device_file: Annotated[Path, typer.Argument(help="Device TOML file")],
        out: Annotated[Path | None,
                       typer.Option(help="Output folder [default: results/<name>]")] = None,
        ) -> None:
    """Solve every frequency of a device; write CSV and PNG into results/<name>/."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from .api import run_device
    from .device import load_device

    try:
        dev = load_device(device_file)
    except SpinfemError as err:
        _fail(err)
    out_dir = out if out is not None else Path("results") / dev.name
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("frequencies"), TimeRemainingColumn()]
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"solving {dev.name}", total=len(dev.f_Hz()))
        try:
            output = run_device(dev, out_dir, callback=lambda i, n, r: progress.advance(task))
        except SpinfemError as err:
            _fail(err)
    for f in output.files:
        typer.echo(f"wrote {f}")


@app.command()
def figures(out: Annotated[Path, typer.Option(help="Output folder")] = Path("results/figures")
            ) -> None:
    """Reproduce the paper's Figs. 2-5 from the exact dispersion (fem.analytic)."""
    from .figures import make_figures

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
