"""Prior families (a registry) and the rules that move a prior between analysis scales."""

from ccsvi_bayes.priors.families import FAMILIES, PriorFamily, family, register
from ccsvi_bayes.priors.prior import PriorSpec
from ccsvi_bayes.priors.scale import SMD_TO_LOG_ODDS, to_log_odds

__all__ = [
    "FAMILIES",
    "SMD_TO_LOG_ODDS",
    "PriorFamily",
    "PriorSpec",
    "family",
    "register",
    "to_log_odds",
]
