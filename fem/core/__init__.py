"""Foundations every layer uses: errors, units and scales, atomic writes, the version, and
the exact solutions (``analytic``).

Modules: ``errors``, ``units``, ``version``, ``atomic``, ``analytic``.  Imports run one
way (``core`` -> ``model`` -> ``discretize`` -> ``solvers`` -> ``studies``, ``output``
-> ``api``, ``cli``); this package is layer 0.
"""
