"""The material library for people: a table of every entry, and one entry in full
(measured numbers, the model parameters they give, every source with how it was
checked, the notes and assumptions), as rich renderables for ``spinfem materials``."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..core import analytic
from ..model.materials import Citation, LibraryEntry, library

#: how each citation status reads in a table
_STATUS = {"seen": "measured", "recalled": "measured (recalled)", "assumed": "NOT measured"}
_STYLE = {"seen": "green", "recalled": "yellow", "assumed": "bold red"}


def _status(c: Citation) -> Text:
    return Text(_STATUS.get(c.status, c.status), style=_STYLE.get(c.status, ""))


def library_table() -> Table:
    """Every library entry: T [K], lambda_sf [nm], rho [nOhm m], D_m [m^2/s], where
    lambda_sf comes from and whether lambda_sf and rho are measurements."""
    t = Table(title="spinfem material library (spinfem materials NAME for the details)")
    for col, just in (("name", "left"), ("composition", "left"), ("T [K]", "right"),
                      ("lambda_sf [nm]", "right"), ("rho [nOhm m]", "right"),
                      ("D_m [m^2/s]", "right"), ("lambda_sf is", "left"), ("rho is", "left"),
                      ("lambda_sf from", "left")):
        t.add_column(Text(col), justify=just)  # Text: "[nm]" is not markup
    for e in library():
        lam, rho = e.sources["lambda_sf"], e.sources["rho"]
        t.add_row(e.name, e.composition, f"{e.T_K:g}", f"{1e9 * e.lambda_sf_m:.3g}",
                  f"{1e9 * e.rho_Ohm_m:.3g}", f"{e.D_m:.3g}", _status(lam), _status(rho),
                  lam.short())
    return t


#: unit and meaning of each model parameter, as printed
_PARAMS = {"chi_M": "", "chi_m": "   Pauli-like, mu0 mu_B^2 N(E_F)",
           "D_m": "m^2/s   Einstein relation", "tau_mM": "s", "tau_ML": "s", "tau_mL": "s"}


def _numbers(e: LibraryEntry) -> Table:
    params = e.model_params()
    mat = e.material()
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column()
    rows = [
        ("lambda_sf", f"{1e9 * e.lambda_sf_m:.4g}", "nm   spin-diffusion length"),
        ("rho", f"{1e9 * e.rho_Ohm_m:.4g}", "nOhm m   resistivity"),
        ("rho lambda_sf", f"{1e15 * e.spin_resistance_area_Ohm_m2:.4g}",
         "fOhm m^2   spin resistance of a unit cross-section"),
        ("gamma", f"{1e3 * e.gamma_J_per_mol_K2:.4g}",
         "mJ/(mol K^2)   Sommerfeld coefficient" +
         (" (assumed: composition-weighted)" if e.gamma_is_assumption else "")),
        ("", "", ""),
    ]
    rows += [(k, f"{v:.6g}", _PARAMS[k]) for k, v in params.items()]
    rows.append(("1/Re q(0)", f"{1e9 * analytic.decay_length(mat.q(0.0)):.6g}",
                 "nm   the model's low-frequency decay length (= lambda_sf)"))
    for r in rows:
        t.add_row(*r)
    return t


def _sources(e: LibraryEntry) -> Table:
    t = Table(show_header=True, box=None, pad_edge=False)
    for col in ("for", "status", "source"):
        t.add_column(col)
    for what, c in e.sources.items():
        text = Text(str(c))
        if c.doi and not c.doi_verified:
            text.append(" (DOI not verified)")
        if c.title:
            text.append(f"\n{c.title}", style="italic")
        if c.note:
            text.append(f"\n{c.note}", style="dim")
        t.add_row(what, _status(c), text)
    return t


def entry_report(e: LibraryEntry) -> Panel:
    """One entry in full: its numbers, the model parameters, the sources, the notes."""
    parts = [_numbers(e), Text(""), _sources(e), Text(""),
             Text("Note: ", style="bold") + Text(e.note),
             Text("Model assumptions: ", style="bold") + Text(e.assumptions)]
    if (caveat := e.caveat()) is not None:
        parts.insert(0, Text(f"Caution: {caveat}\n", style="bold red"))
    return Panel(Group(*parts), title=f"{e.name} ({e.composition}), {e.kind.replace('_', ' ')}, "
                 f"{e.T_K:g} K", title_align="left")
