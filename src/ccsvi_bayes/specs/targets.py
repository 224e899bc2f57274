"""User values checked against the fitted model: a domain or feature named by an override
must exist (run when a model is built, once the evidence and the features are known)."""

from __future__ import annotations

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.specs.spec import ModelSpec

__all__ = ["check_override_targets"]


def check_override_targets(
    spec: ModelSpec,
    *,
    domains: list[str] | tuple[str, ...],
    features: dict[str, list[str] | tuple[str, ...]],
) -> None:
    """Reject user values aimed at a domain or feature that does not exist.

    ``domains`` are the evidence set's outcomes; ``features`` maps a prior with
    feature-specific entries (``gamma``, ``rho``) to the names the fitted model uses. A
    ``priors.<p>.<X>.<kwarg>`` whose ``X`` is neither would do nothing, so it is an error
    listing the valid names.
    """
    for param, prior in spec.priors.items():
        for d in prior.domain_overrides:
            if d not in domains:
                raise InvalidModelSpec(
                    f"--set priors.{param}.{d}: no outcome '{d}' in the evidence (outcomes: {', '.join(domains)})"
                )
        if param in features:
            valid = list(features[param])
            for f, sub in prior.features.items():
                if (sub.overrides or sub.domain_overrides) and f not in valid:
                    raise InvalidModelSpec(
                        f"--set priors.{param}.{f}: '{f}' is not a feature of this model (features: {', '.join(valid) or 'none'})"
                    )
