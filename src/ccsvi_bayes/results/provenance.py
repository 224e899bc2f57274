"""What a fit was: the keys every ``summary.json`` starts with and the posterior's attributes."""

from __future__ import annotations

import json
from typing import Any

from ccsvi_bayes.models import effective_priors
from ccsvi_bayes.results.fitted import Fitted
from ccsvi_bayes.results.store import fit_key

__all__ = ["priors_effective", "provenance_attrs", "provenance_header", "sampler_used"]


def provenance_header(result: Fitted) -> dict[str, Any]:
    """The keys every ``summary.json`` starts with: what was fitted (the model and its
    ``family``), to what, how, and the store key (:func:`~ccsvi_bayes.results.store.fit_key`)
    that says when it is up to date."""
    return {
        "model": result.spec.name,
        "family": result.spec.family,
        "outcome": result.outcome,
        "outcome_label": result.data.domain.label,
        "evidence": {
            "name": result.evidence.name,
            "sha256": result.evidence.sha256,
            "assumptions": dict(result.evidence.assumptions),
        },
        "package_version": _version(),
        "seed": result.seed,
        "engine": result.engine,
        "spec": result.spec.as_dict(),
        "priors_effective": priors_effective(result),
        "spec_sha256": result.spec.digest,
        "store_key": fit_key(
            outcome_sha256=result.evidence.outcome_sha256(result.outcome),
            spec_sha256=result.spec.digest,
            seed=result.seed,
            sampler=sampler_used(result),
            package_version=_version(),
        ),
    }


def priors_effective(result: Fitted) -> dict[str, Any]:
    """Every prior of the fit as the model used it (family, kwargs on the analysis scale, the
    scale it was written on, the conversion applied, the kwargs the user set)."""
    return effective_priors(result.data, result.spec)


def sampler_used(result: Fitted) -> dict[str, Any]:
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


def provenance_attrs(result: Fitted) -> dict[str, Any]:
    """The attributes ``posterior.nc``'s posterior group carries: versions, spec and its
    digest, the effective priors, the evidence and its readings, seed and engine."""

    from importlib import metadata

    import nutpie
    import pymc

    from ccsvi_bayes import __version__

    return {
        "ccsvi_bayes_version": __version__,
        "model": result.spec.name,
        "outcome": result.outcome,
        "spec": json.dumps(result.spec.as_dict(), sort_keys=True),
        "spec_sha256": result.spec.digest,
        # every prior as the model used it (kwargs on the analysis scale, written-on scale,
        # conversion, user-set kwargs): what the user typed is what the model used
        "priors_effective": json.dumps(priors_effective(result), sort_keys=True),
        "evidence_name": result.evidence.name,
        "evidence_sha256": result.evidence.sha256,
        "evidence_path": str(result.evidence.path),
        "assumptions": json.dumps(dict(result.evidence.assumptions), sort_keys=True),
        "seed": result.seed,
        "engine": result.engine,
        "pymc_version": pymc.__version__,
        "nutpie_version": nutpie.__version__,
        "arviz_version": metadata.version("arviz"),
    }


def _version() -> str:
    from ccsvi_bayes import __version__

    return __version__
