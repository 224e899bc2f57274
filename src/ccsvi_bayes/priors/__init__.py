"""Prior families (a registry) and the rules that move a prior between analysis scales."""

from ccsvi_bayes.priors.prior import PriorSpec
from ccsvi_bayes.priors.scale import to_log_odds

__all__ = ["PriorSpec", "to_log_odds"]
