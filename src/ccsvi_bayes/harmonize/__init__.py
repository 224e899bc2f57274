"""Stage 2, harmonize: arm- and contrast-level standardized estimates per outcome domain
(positive = benefit). ``formulas`` holds the pure numeric conversions, ``options`` the
knobs, ``features`` the design features of a study, ``standardize`` the harmonized rows and
``log_rr`` the log risk ratio contrasts of count arms.

The face of the stage: other stages import from here."""

from ccsvi_bayes.harmonize import formulas
from ccsvi_bayes.harmonize.features import FEATURE_COLUMNS, design_features, unknown_centres_note
from ccsvi_bayes.harmonize.log_rr import log_rr_contrasts
from ccsvi_bayes.harmonize.options import HarmonizationError, HarmonizeOptions
from ccsvi_bayes.harmonize.standardize import harmonize, reference_sd

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
