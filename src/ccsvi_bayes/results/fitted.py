"""The parts of one fitted model on one outcome (:class:`Fitted`), as summaries read them.

:class:`~ccsvi_bayes.results.fit_result.FitResult` adds its summary and its folder to these
parts; the summaries of every model family take a :class:`Fitted`, so they never import the
result type that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.inference import Diagnostics
from ccsvi_bayes.models import ModelData
from ccsvi_bayes.specs import ModelSpec

__all__ = ["Fitted"]


@dataclass
class Fitted:
    """One fitted model on one outcome: posterior, diagnostics, provenance."""

    idata: xr.DataTree
    spec: ModelSpec
    evidence: Evidence
    outcome: str
    harmonized: pd.DataFrame
    data: ModelData
    diagnostics: Diagnostics
    seed: int
    engine: str
    notes: list[str] = field(default_factory=list)
