"""The scales a prior can be written on, and the one place where a prior moves between them.

Every prior declares the scale it is written on (``PriorSpec.scale``):

- ``smd``: standardized mean difference (the package's defaults);
- ``md``: raw mean difference in instrument units;
- ``log_odds``: log odds (ratio) — ``log_or`` is an accepted spelling;
- ``log_rr``: log risk ratio, a scale of its own;
- ``probability_logit``: the logit of a probability (e.g. ``q_intercept`` of ``bias_mixture``,
  ``gamma`` of the mixture): **never converted**, whatever the domain;
- ``probability``: a probability (Beta priors such as ascertainment ``rho``): never converted;
- ``analysis``: the domain's own analysis scale (domain-specific ``by_domain`` priors and every
  value a user types): never converted.

A spec default is converted to the domain's analysis scale only when the two differ, by
:func:`conversion` and the family's ``rescale`` rule (:mod:`ccsvi_bayes.priors.families`):

==================  ============================  =========================================
from → to           factor on the effect          note
==================  ============================  =========================================
smd → log_odds      × π/√3                        Chinn 2000 (logistic latent variable)
log_odds → smd      × √3/π                        Chinn 2000
smd → log_rr        × π/√3 (approximation)        the log-odds rule; log RR ≈ log OR for rare
                                                  events, for common events |log RR| <
                                                  |log OR|, so the prior is wider than needed
log_odds ↔ log_rr   × 1 (approximation)           rare-event approximation, labelled as such
log_rr → smd        × √3/π (approximation)        inverse of the above
smd ↔ md            × reference SD / ÷ it         only when the instrument's reference SD is
                                                  known; otherwise an error names the prior
log_odds/log_rr↔md  through smd                   needs the reference SD as well
==================  ============================  =========================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ccsvi_bayes.errors import InvalidModelSpec

__all__ = [
    "ANALYSIS",
    "ANALYSIS_SCALES",
    "FIXED_SCALES",
    "PRIOR_SCALES",
    "SMD_TO_LOG_ODDS",
    "Conversion",
    "canonical_scale",
    "conversion",
]

#: SMD → log odds ratio: × π/√3 (logistic latent variable, Chinn 2000)
SMD_TO_LOG_ODDS = math.pi / math.sqrt(3.0)

#: the analysis scales of a domain (``Domain.scale``)
ANALYSIS_SCALES = ("smd", "md", "log_odds", "log_rr")
#: scales that never move with the domain's effect scale
FIXED_SCALES = ("probability_logit", "probability")
#: marker: written on the domain's own analysis scale (used as is)
ANALYSIS = "analysis"
#: every scale a prior may declare
PRIOR_SCALES = (*ANALYSIS_SCALES, *FIXED_SCALES, ANALYSIS)
_ALIASES = {"log_or": "log_odds"}

_RARE = (
    "approximation: log RR ≈ log OR for rare events; for common events |log RR| < |log OR|, "
    "so the converted prior is wider than needed — write the prior on log_rr to avoid it"
)


@dataclass(frozen=True)
class Conversion:
    """A change of effect scale: the effect is multiplied by ``factor``."""

    factor: float
    note: str
    approximate: bool = False


def canonical_scale(scale: str, where: str = "prior") -> str:
    """``log_or`` → ``log_odds``; an unknown scale is a spec error listing the known ones."""
    name = _ALIASES.get(scale, scale)
    if name not in PRIOR_SCALES:
        raise InvalidModelSpec(
            f"{where}.scale: unknown scale {scale!r} (known: {', '.join(PRIOR_SCALES)}, or log_or)"
        )
    return name


def _direct(src: str, dst: str) -> Conversion | None:
    chinn = "× π/√3 (SMD → log odds, Chinn 2000)"
    chinn_back = "× √3/π (log odds → SMD, Chinn 2000)"
    table = {
        ("smd", "log_odds"): Conversion(SMD_TO_LOG_ODDS, chinn),
        ("log_odds", "smd"): Conversion(1.0 / SMD_TO_LOG_ODDS, chinn_back),
        ("smd", "log_rr"): Conversion(SMD_TO_LOG_ODDS, f"{chinn} used for log RR; {_RARE}", True),
        ("log_rr", "smd"): Conversion(
            1.0 / SMD_TO_LOG_ODDS, f"{chinn_back} used for log RR; {_RARE}", True
        ),
        ("log_odds", "log_rr"): Conversion(1.0, f"log OR read as log RR (× 1); {_RARE}", True),
        ("log_rr", "log_odds"): Conversion(1.0, f"log RR read as log OR (× 1); {_RARE}", True),
    }
    return table.get((src, dst))


def conversion(
    src: str, dst: str, *, reference_sd: float | None = None, where: str = "prior"
) -> Conversion | None:
    """How a prior written on ``src`` moves to the analysis scale ``dst`` (``None``: as is).

    Raises :class:`InvalidModelSpec` naming ``where`` when no rule exists (a raw mean
    difference without the instrument's reference SD).
    """
    src, dst = canonical_scale(src, where), canonical_scale(dst, where)
    if src in (dst, ANALYSIS) or src in FIXED_SCALES or dst == ANALYSIS:
        return None
    if dst in FIXED_SCALES:
        raise InvalidModelSpec(f"{where}: a {src} prior cannot be put on the {dst} scale")
    if "md" in (src, dst):
        if reference_sd is None or not math.isfinite(reference_sd) or reference_sd <= 0:
            raise InvalidModelSpec(
                f"{where} is written on the {src} scale and the domain is on the {dst} scale, "
                "but the reporting instrument has no reference_sd in instruments.csv to convert "
                f"it; give reference_sd, or set every kwarg of the prior on the {dst} scale "
                "(--set priors.<param>.<kwarg>=value)"
            )
        to_smd = (
            Conversion(1.0 / reference_sd, f"÷ reference SD {reference_sd:.4g} (MD → SMD)")
            if src == "md"
            else (_direct(src, "smd") if src != "smd" else None)
        )
        from_smd = (
            Conversion(reference_sd, f"× reference SD {reference_sd:.4g} (SMD → MD)")
            if dst == "md"
            else (_direct("smd", dst) if dst != "smd" else None)
        )
        steps = [c for c in (to_smd, from_smd) if c is not None]
        factor = math.prod(c.factor for c in steps)
        return Conversion(
            factor, "; then ".join(c.note for c in steps), any(c.approximate for c in steps)
        )
    found = _direct(src, dst)
    if found is None:  # pragma: no cover - every pair of analysis scales is in the table
        raise InvalidModelSpec(f"{where}: no rule converts {src} to {dst}")
    return found
