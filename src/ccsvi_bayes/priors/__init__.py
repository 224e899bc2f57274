"""Prior families (a registry), the scales a prior is written on and the rules that move a
prior between analysis scales."""

from ccsvi_bayes.priors.families import FAMILIES, PriorFamily, family, register
from ccsvi_bayes.priors.prior import EffectivePrior, PriorSpec, to_log_odds
from ccsvi_bayes.priors.scale import (
    ANALYSIS,
    ANALYSIS_SCALES,
    FIXED_SCALES,
    PRIOR_SCALES,
    SMD_TO_LOG_ODDS,
    Conversion,
    canonical_scale,
    conversion,
)
from ccsvi_bayes.priors.tau_density import TauDensity

__all__ = [
    "ANALYSIS",
    "ANALYSIS_SCALES",
    "FAMILIES",
    "FIXED_SCALES",
    "PRIOR_SCALES",
    "SMD_TO_LOG_ODDS",
    "Conversion",
    "EffectivePrior",
    "PriorFamily",
    "PriorSpec",
    "TauDensity",
    "canonical_scale",
    "conversion",
    "family",
    "register",
    "to_log_odds",
]
