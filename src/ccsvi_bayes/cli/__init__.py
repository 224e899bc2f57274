"""The ``ccsvi-bayes`` command line: one small module per command over the library."""

from ccsvi_bayes.cli.app import app, main

__all__ = ["app", "main"]
