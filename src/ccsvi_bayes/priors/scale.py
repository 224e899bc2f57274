"""Moving a prior between analysis scales (SMD ↔ log odds, Chinn 2000).

The rule for each family lives in its registry entry (:mod:`ccsvi_bayes.priors.families`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ccsvi_bayes.priors.families import family

if TYPE_CHECKING:
    from ccsvi_bayes.priors.prior import PriorSpec

__all__ = ["SMD_TO_LOG_ODDS", "to_log_odds"]

#: SMD → log odds ratio: × π/√3 (logistic latent variable, Chinn 2000)
SMD_TO_LOG_ODDS = math.pi / math.sqrt(3.0)


def to_log_odds(prior: PriorSpec) -> PriorSpec:
    """SMD-scale prior → log-odds scale by its family's rule (location/scale × π/√3)."""
    scaled = family(prior.dist).rescale(prior.kwargs, SMD_TO_LOG_ODDS)
    note = (
        f"{prior.source} [converted to log-odds: × π/√3, Chinn 2000]"
        if scaled != dict(prior.kwargs)
        else prior.source
    )
    return type(prior)(prior.dist, scaled, note, prior.default)
