"""Architecture: every module imports only from its own or lower layers,
and ``import fem`` stays light (no gmsh, pyvista or matplotlib)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import fem

#: the subpackages of fem/ in import order, each module's layer (errors/units/
#: analytic -> materials/device -> geometry/mesh -> assemble/solve -> sweep/result ->
#: output -> api/cli); a module imports only from its own or lower layers
LAYERS = {
    "core.errors": 0, "core.units": 0, "core.analytic": 0, "core.version": 0,
    "core.atomic": 0,
    "model.materials": 1, "model.specs": 1, "model.device": 1, "model.fit_data": 1,
    "discretize.geometry": 2, "discretize.mesh": 2, "discretize.meshing": 2,
    "discretize.interfaces": 2, "discretize.axis": 2, "discretize.resources": 2,
    "discretize.preflight": 2,
    "solvers.forms": 3, "solvers.assemble": 3, "solvers.transient": 3, "solvers.linear": 3,
    "solvers.reduced": 3,
    "solvers.solve": 4, "solvers.result": 4, "solvers.fields": 4, "solvers.verify": 4,
    "solvers.sweep": 4, "solvers.sensitivity": 4,
    "studies.adapt": 5, "studies.accuracy": 5, "studies.fitting": 5, "studies.bench": 5,
    "output.export": 5, "output.plot": 5, "output.figures": 5, "output.vtu": 5,
    "output.render": 5, "output.fit_output": 5, "output.materials_report": 5,
    "api": 6, "cli": 6,
}
#: a subpackage's modules share a layer range, and the subpackages are in layer order
PACKAGE_ORDER = ["core", "model", "discretize", "solvers", "studies", "output"]


def _modules() -> list[str]:
    """Every module of fem/ as a dotted name relative to fem (packages' __init__ aside)."""
    return [m.name.removeprefix("fem.") for m in pkgutil.walk_packages(fem.__path__, "fem.")
            if not m.ispkg]


def test_every_module_has_a_layer_and_imports():
    for name in _modules():
        assert name in LAYERS, f"fem.{name} has no layer in tests/test_layering.py"
        importlib.import_module(f"fem.{name}")
    packages = {m.name.removeprefix("fem.") for m in pkgutil.iter_modules(fem.__path__)
                if m.ispkg}
    assert packages == set(PACKAGE_ORDER), packages
    flat = [n for n in _modules() if "." not in n]
    assert sorted(flat) == ["api", "cli"], f"fem/ keeps only api and cli flat, found {flat}"


def _target(name: str, node: ast.ImportFrom) -> list[str]:
    """The fem modules an ``from ... import`` in module ``name`` refers to."""
    package = name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)] if node.level else []
    if node.level == 0:
        if not (node.module or "").startswith("fem."):
            return []
        return [node.module.removeprefix("fem.")]
    module = ".".join([*base, node.module] if node.module else base)
    if module in LAYERS:
        return [module]
    return [".".join(p for p in (module, a.name) if p) for a in node.names]  # from pkg import m


def test_imports_go_down_the_layers():
    root = Path(fem.__file__).parent
    for name in _modules():
        tree = ast.parse((root / (name.replace(".", "/") + ".py")).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for t in _target(name, node):
                    if t not in LAYERS:  # a package: its modules are checked one by one
                        continue
                    assert LAYERS[t] <= LAYERS[name], f"fem.{name} (layer {LAYERS[name]}) " \
                        f"imports fem.{t} (layer {LAYERS[t]})"
                    a, b = t.split(".")[0], name.split(".")[0]
                    if a in PACKAGE_ORDER and b in PACKAGE_ORDER:
                        assert PACKAGE_ORDER.index(a) <= PACKAGE_ORDER.index(b) or \
                            {a, b} == {"studies", "output"}, f"fem.{name} imports fem.{t}"


def test_import_fem_is_light():
    code = ("import sys, fem; heavy = [m for m in ('gmsh', 'pyvista', 'matplotlib', 'vtk') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_docs_point_only_inside_the_repository():
    """Users have the repository, not the developers' design notes: the README and every
    docstring and comment in fem/ stand on their own."""
    root = Path(fem.__file__).parents[1]
    texts = {root / "README.md": (root / "README.md").read_text()}
    texts.update({p: p.read_text() for p in (root / "fem").rglob("*.py")})
    outside = ("physics" + ".md", "shared" + "/design", "../" + "shared")
    for path, text in texts.items():
        for needle in outside:
            assert needle not in text, f"{path.name} points outside the repository: {needle}"
