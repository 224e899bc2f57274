"""ccsvi_bayes: Bayesian evidence synthesis with design-dependent bias.

Heavy dependencies (PyMC, ArviZ) are imported by the modules that need them, not here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ccsvi-bayes")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
