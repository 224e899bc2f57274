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
from ccsvi_bayes.results.store import write_datatree, write_json
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
        """Write ``posterior.nc`` then ``summary.json`` (each atomically) into ``path``.

        ``summary.json`` carries ``schema_version`` and the ``store_key`` the main job compares
        to decide whether the fit is up to date.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        summary = self.summary_dict()
        idata = self.idata
        idata.posterior.attrs.update(_provenance_attrs(self))
        # posterior.nc first, summary.json last: a folder with a summary is complete (an old
        # summary goes first, so it never sits beside a posterior it does not describe)
        (folder / "summary.json").unlink(missing_ok=True)
        write_datatree(folder / "posterior.nc", idata)
        write_json(folder / "summary.json", summary, "summary")
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
        # every prior as the model used it (kwargs on the analysis scale, written-on scale,
        # conversion, user-set kwargs): what the user typed is what the model used
        "priors_effective": json.dumps(_priors_effective(result), sort_keys=True),
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


def _priors_effective(result: FitResult) -> dict[str, Any]:
    from ccsvi_bayes.results.summaries import priors_effective

    return priors_effective(result)


def sampler_used(result: FitResult) -> dict[str, Any]:
    """The spec's sampler settings with the engine that ran and the chains × draws written
    (a ``--draws``/``--chains`` override shows up here, and so in the store key)."""
    sampler = {**result.spec.sampler, "engine": result.engine}
    sizes = result.idata["posterior"].sizes
    chains, draws = int(sizes.get("chain", 1)), int(sizes.get("draw", 0))
    # a retry's extra draws are the sampler's doing, not a setting: the key keeps the request
    draws = int(result.diagnostics.retry.get("changed", {}).get("draws", {}).get("from", draws))
    if result.engine == "exact":  # one chain of draws × chains exact draws
        if draws != int(sampler["draws"]) * int(sampler["chains"]):
            sampler.update(draws=draws, chains=1)
    elif (chains, draws) != (int(sampler["chains"]), int(sampler["draws"])):
        sampler.update(draws=draws, chains=chains)
    return sampler
