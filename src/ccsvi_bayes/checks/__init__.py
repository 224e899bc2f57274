"""Stage 7, check: model checks of a fit (``checks.json``), SBC, and simulated evidence sets."""
