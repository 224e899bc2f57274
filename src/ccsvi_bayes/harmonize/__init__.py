"""Stage 2, harmonize: arm- and contrast-level standardized estimates per outcome domain
(positive = benefit). ``formulas`` holds the pure numeric conversions.

The face of the stage: other stages import from here."""

from ccsvi_bayes.harmonize import formulas
from ccsvi_bayes.harmonize.standardize import (
    FEATURE_COLUMNS,
    HarmonizationError,
    HarmonizeOptions,
    design_features,
    harmonize,
    log_rr_contrasts,
    reference_sd,
    unknown_centres_note,
)

__all__ = [
    "FEATURE_COLUMNS",
    "HarmonizationError",
    "HarmonizeOptions",
    "design_features",
    "formulas",
    "harmonize",
    "log_rr_contrasts",
    "reference_sd",
    "unknown_centres_note",
]
