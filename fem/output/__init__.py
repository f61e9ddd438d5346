"""Files and pictures: CSV/VTU/PVD writers, matplotlib plots, PyVista renderings, the
paper's figures, fit reports.

Modules: ``export``, ``vtu``, ``plot``, ``render``, ``figures``, ``fit_output``,
``materials_report``.
Imports run one way (``core`` -> ``model`` -> ``discretize`` -> ``solvers`` ->
``studies``, ``output`` -> ``api``, ``cli``); this package is layer 5.
"""
