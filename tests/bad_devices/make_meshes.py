"""Make the small (bad) mesh files of the bad-input corpus: ``msh/*.msh``.

Run from anywhere with the project's interpreter::

    python tests/bad_devices/make_meshes.py

Coordinates are in nm.  ``two_squares.msh`` is a valid mesh (two 100 nm x 50 nm
squares side by side); the others break one rule each, see ``cases.toml``.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent / "msh"
SIZE = 25.0  # nm: a few dozen triangles per mesh


def _start(name: str):
    import gmsh

    gmsh.initialize(["-noenv"])
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
    gmsh.option.setNumber("Mesh.MeshSizeMin", SIZE)
    gmsh.option.setNumber("Mesh.MeshSizeMax", SIZE)
    gmsh.model.add(name)
    return gmsh


def _curves_at(gmsh, x=None, y=None):
    """Curve tags lying on the line x = const or y = const (2D, nm)."""
    big, eps = 1e6, 1e-6
    if x is not None:
        box = (x - eps, -big, -eps, x + eps, big, eps)
    else:
        box = (-big, y - eps, -eps, big, y + eps, eps)
    return [t for _, t in gmsh.model.getEntitiesInBoundingBox(*box, 1)]


def _two_squares(gmsh, *, name_right: bool = True):
    """Squares "left" [0, 100] x [0, 50] and "right" [100, 200] x [0, 50] sharing the
    interior line x = 100 ("middle"); ends "x_min_end", "x_max_end"; "top" at y = 50."""
    occ = gmsh.model.occ
    a = occ.addRectangle(0, 0, 0, 100, 50)
    b = occ.addRectangle(100, 0, 0, 100, 50)
    occ.fragment([(2, a)], [(2, b)])
    occ.synchronize()
    surf = {round(gmsh.model.occ.getCenterOfMass(2, t)[0]): t
            for _, t in gmsh.model.getEntities(2)}
    gmsh.model.addPhysicalGroup(2, [surf[50]], name="left")
    if name_right:
        gmsh.model.addPhysicalGroup(2, [surf[150]], name="right")
    gmsh.model.addPhysicalGroup(1, _curves_at(gmsh, x=0.0), name="x_min_end")
    gmsh.model.addPhysicalGroup(1, _curves_at(gmsh, x=200.0), name="x_max_end")
    gmsh.model.addPhysicalGroup(1, _curves_at(gmsh, x=100.0), name="middle")
    gmsh.model.addPhysicalGroup(1, _curves_at(gmsh, y=50.0), name="top")


def _write(gmsh, file: str, dim: int) -> Path:
    gmsh.model.mesh.generate(dim)
    path = HERE / file
    gmsh.write(str(path))
    gmsh.finalize()
    return path


def two_squares() -> Path:
    gmsh = _start("two_squares")
    _two_squares(gmsh)
    return _write(gmsh, "two_squares.msh", 2)


def unassigned_elements() -> Path:
    """The right square's triangles are saved but belong to no physical group."""
    gmsh = _start("unassigned_elements")
    _two_squares(gmsh, name_right=False)
    gmsh.option.setNumber("Mesh.SaveAll", 1)
    gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)  # meshio reads SaveAll only in 2.2
    return _write(gmsh, "unassigned_elements.msh", 2)


def lines_only() -> Path:
    """A rectangle meshed with its boundary lines only: no triangles."""
    gmsh = _start("lines_only")
    occ = gmsh.model.occ
    occ.addRectangle(0, 0, 0, 200, 50)
    occ.synchronize()
    gmsh.model.addPhysicalGroup(1, _curves_at(gmsh, x=0.0), name="x_min_end")
    gmsh.model.addPhysicalGroup(1, _curves_at(gmsh, x=200.0), name="x_max_end")
    gmsh.model.addPhysicalGroup(2, [t for _, t in gmsh.model.getEntities(2)], name="left")
    return _write(gmsh, "lines_only.msh", 1)


def box_3d() -> Path:
    """A 100 nm cube of tetrahedra ("left"), faces "x_min_end" and "x_max_end"."""
    gmsh = _start("box_3d")
    gmsh.option.setNumber("Mesh.MeshSizeMin", 50.0)
    gmsh.option.setNumber("Mesh.MeshSizeMax", 50.0)
    occ = gmsh.model.occ
    vol = occ.addBox(0, 0, 0, 100, 100, 100)
    occ.synchronize()
    eps = 1e-6
    xmin = gmsh.model.getEntitiesInBoundingBox(-eps, -eps, -eps, eps, 100 + eps, 100 + eps, 2)
    xmax = gmsh.model.getEntitiesInBoundingBox(100 - eps, -eps, -eps, 100 + eps, 100 + eps,
                                               100 + eps, 2)
    gmsh.model.addPhysicalGroup(3, [vol], name="left")
    gmsh.model.addPhysicalGroup(2, [t for _, t in xmin], name="x_min_end")
    gmsh.model.addPhysicalGroup(2, [t for _, t in xmax], name="x_max_end")
    return _write(gmsh, "box_3d.msh", 3)


def xz_plane() -> Path:
    """The two squares turned into the x-z plane: a 2D mesh that is not in x-y."""
    gmsh = _start("xz_plane")
    _two_squares(gmsh)
    gmsh.model.occ.rotate(gmsh.model.occ.getEntities(2), 0, 0, 0, 1, 0, 0, 1.5707963267948966)
    gmsh.model.occ.synchronize()
    return _write(gmsh, "xz_plane.msh", 2)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    good = two_squares()
    unassigned_elements()
    lines_only()
    box_3d()
    xz_plane()
    text = good.read_text()
    # cut in the middle of the $Elements block: headers promise more than follows
    (HERE / "truncated.msh").write_text(text[: text.index("$Elements") + 200])
    (HERE / "garbage.msh").write_text("this is not a mesh\n$MeshFormat\nfour point one\n"
                                      "$Nodes\nmany\n")
    (HERE / "empty.msh").write_text("")
    for p in sorted(HERE.glob("*.msh")):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
