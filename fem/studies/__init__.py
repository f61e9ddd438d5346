"""Work built on the solvers: goal-oriented adaptivity, accuracy studies, fitting measured
data, benchmarks.

Modules: ``adapt``, ``accuracy``, ``fitting``, ``bench``.  Imports run one way (``core``
-> ``model`` -> ``discretize`` -> ``solvers`` -> ``studies``, ``output`` -> ``api``,
``cli``); this package is layer 5.
"""
