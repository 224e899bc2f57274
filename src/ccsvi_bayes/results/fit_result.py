"""One fitted model on one outcome (:class:`FitResult`) and its provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import arviz as az
import pandas as pd
import xarray as xr

from ccsvi_bayes import __version__
from ccsvi_bayes.evidence import Evidence
from ccsvi_bayes.inference import (
    Diagnostics,
)
from ccsvi_bayes.models import ModelData
from ccsvi_bayes.results.store import write_atomic
from ccsvi_bayes.specs import ModelSpec


@dataclass
class FitResult:
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

    def summary(self) -> pd.DataFrame:
        """Key parameters (mean, sd, 2.5%, 50%, 97.5%, R-hat, ESS) as a pandas table."""
        from ccsvi_bayes.results.summaries import parameter_table

        return parameter_table(self)

    def summary_dict(self) -> dict[str, Any]:
        """The ``summary.json`` content (DESIGN.md §5)."""
        from ccsvi_bayes.results.summaries import fit_summary

        return fit_summary(self)

    def to_dir(self, path: str | Path) -> Path:
        """Write ``posterior.nc`` and ``summary.json`` (each atomically) into ``path``."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        summary = self.summary_dict()
        idata = self.idata
        idata.posterior.attrs.update(_provenance_attrs(self))
        write_atomic(
            folder / "posterior.nc", lambda tmp: idata.to_netcdf(str(tmp), engine="h5netcdf")
        )
        text = json.dumps(summary, indent=2, allow_nan=False)
        write_atomic(
            folder / "summary.json", lambda tmp: tmp.write_text(text + "\n", encoding="utf-8")
        )
        return folder


def _provenance_attrs(result: FitResult) -> dict[str, Any]:
    import nutpie
    import pymc

    return {
        "ccsvi_bayes_version": __version__,
        "model": result.spec.name,
        "outcome": result.outcome,
        "spec": json.dumps(result.spec.as_dict(), sort_keys=True),
        "spec_sha256": result.spec.digest,
        "evidence_name": result.evidence.name,
        "evidence_sha256": result.evidence.sha256,
        "evidence_path": str(result.evidence.path),
        "assumptions": json.dumps(dict(result.evidence.assumptions), sort_keys=True),
        "seed": result.seed,
        "engine": result.engine,
        "pymc_version": pymc.__version__,
        "nutpie_version": nutpie.__version__,
        "arviz_version": az.__version__,
    }
