"""From a device to a mesh: geometries, gmsh and structured meshes graded from the physics,
regions and contacts, spin-resistive interfaces, resource estimates.

Modules: ``geometry``, ``mesh``, ``meshing``, ``interfaces``, ``axis``, ``resources``,
``preflight``.  Imports run one way (``core`` -> ``model`` -> ``discretize`` ->
``solvers`` -> ``studies``, ``output`` -> ``api``, ``cli``); this package is layer 2.
"""
