"""Stage 2, harmonize: arm- and contrast-level standardized estimates per outcome domain
(positive = benefit). ``formulas`` holds the pure numeric conversions."""

from ccsvi_bayes.harmonize.standardize import (
    FEATURE_COLUMNS,
    HarmonizationError,
    HarmonizeOptions,
    design_features,
    harmonize,
    reference_sd,
)

__all__ = [
    "FEATURE_COLUMNS",
    "HarmonizationError",
    "HarmonizeOptions",
    "design_features",
    "harmonize",
    "reference_sd",
]
