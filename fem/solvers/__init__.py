"""Assembly and solution: frequency-independent blocks, direct/iterative/reduced-basis
solvers, results, sweeps, and adjoint sensitivities.

Modules: ``forms``, ``assemble``, ``linear``, ``reduced``, ``transient``, ``solve``,
``result``, ``fields``, ``verify``, ``sweep``, ``sensitivity``.  Imports run one way
(``core`` -> ``model`` -> ``discretize`` -> ``solvers`` -> ``studies``, ``output`` ->
``api``, ``cli``); this package is layers 3 (forms, assemble, linear, reduced,
transient) and 4 (solve, result, fields, verify, sweep, sensitivity).
"""
