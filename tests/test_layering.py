"""Architecture: every module imports only from its own or lower layers (style.md),
and ``import fem`` stays light (no gmsh, pyvista or matplotlib)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import fem

LAYERS = {
    "errors": 0, "units": 0, "analytic": 0, "version": 0, "atomic": 0,
    "materials": 1, "specs": 1, "device": 1, "fit_data": 1,
    "geometry": 2, "mesh": 2, "meshing": 2, "interfaces": 2, "axis": 2, "resources": 2,
    "preflight": 2,
    "forms": 3, "assemble": 3, "transient": 3, "linear": 3, "reduced": 3,
    "solve": 4, "result": 4, "fields": 4, "verify": 4, "sweep": 4, "sensitivity": 4,
    "adapt": 5, "accuracy": 5, "fitting": 5, "fit_output": 5,
    "export": 5, "plot": 5, "figures": 5, "vtu": 5, "render": 5, "bench": 5,
    "api": 6, "cli": 6,
}


def _modules():
    return [m.name for m in pkgutil.iter_modules(fem.__path__)]


def test_every_module_has_a_layer_and_imports():
    for name in _modules():
        assert name in LAYERS, f"fem.{name} has no layer in tests/test_layering.py"
        importlib.import_module(f"fem.{name}")


def test_imports_go_down_the_layers():
    root = Path(fem.__file__).parent
    for name in _modules():
        tree = ast.parse((root / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
                for t in targets:
                    t = t.split(".")[0]
                    assert LAYERS[t] <= LAYERS[name], f"fem.{name} (layer {LAYERS[name]}) " \
                        f"imports fem.{t} (layer {LAYERS[t]})"


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
    texts.update({p: p.read_text() for p in (root / "fem").glob("*.py")})
    outside = ("physics" + ".md", "shared" + "/design", "../" + "shared")
    for path, text in texts.items():
        for needle in outside:
            assert needle not in text, f"{path.name} points outside the repository: {needle}"
