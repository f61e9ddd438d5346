"""What a device is: materials (and the cited material library in ``data/``), the device-
file schema and its validation, measured data for fits.

Modules: ``materials``, ``specs``, ``device``, ``fit_data``.  Imports run one way
(``core`` -> ``model`` -> ``discretize`` -> ``solvers`` -> ``studies``, ``output`` ->
``api``, ``cli``); this package is layer 1.
"""
