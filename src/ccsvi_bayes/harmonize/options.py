"""The knobs of harmonization (:class:`HarmonizeOptions`), each an assumption a sensitivity
run can switch, and the error of evidence that cannot be put on its domain's scale."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from ccsvi_bayes.errors import CcsviBayesError

__all__ = ["UNKNOWN_CENTRES", "HarmonizationError", "HarmonizeOptions"]

#: readings of a blank ``centres`` (``HarmonizeOptions.unknown_centres``), default first
UNKNOWN_CENTRES = ("multicentre", "single_centre")


class HarmonizationError(CcsviBayesError):
    """The evidence is valid but cannot be put on the domain's scale (e.g. no SD at all)."""


@dataclass(frozen=True)
class HarmonizeOptions:
    """Knobs of harmonization; each is an assumption a sensitivity run can switch.

    - ``sd_ref``: standardize by the instrument's ``reference_sd`` (``"reference"``,
      falling back to the pooled change SD) or by the pooled SD of change (``"change"``).
    - ``sd_impute``: a blank ``sd_change`` becomes the reference SD scaled to a change SD
      (``"reference_sd"``) or the pooled SD of change of the instrument (``"pooled_change_sd"``).
    - ``prepost_r``: pre-post correlation; SD_change = SD_baseline·√(2(1−r)).
    - ``responder``: ``"probit"`` (latent normal) or ``"logit"`` conversion of "improved" k/n.
    - ``responder_threshold``: improvement threshold in SD units for that conversion.
    - ``unknown_timepoint``: include rows with a blank timepoint (``"include"``) or not.
    - ``unknown_centres``: how a study with a blank ``centres`` is read for the
      ``single_centre`` design feature: ``"multicentre"`` (default: no single-centre bias)
      or ``"single_centre"``. Either way the fit's notes name the studies it applied to.
    """

    sd_ref: Literal["reference", "change"] = "reference"
    sd_impute: Literal["reference_sd", "pooled_change_sd"] = "reference_sd"
    prepost_r: float = 0.5
    responder: Literal["probit", "logit"] = "probit"
    responder_threshold: float = 0.0
    unknown_timepoint: Literal["include", "exclude"] = "include"
    unknown_centres: Literal["multicentre", "single_centre"] = "multicentre"

    def __post_init__(self) -> None:
        checks = {
            "sd_ref": self.sd_ref in ("reference", "change"),
            "sd_impute": self.sd_impute in ("reference_sd", "pooled_change_sd"),
            "prepost_r": -1.0 <= self.prepost_r < 1.0,
            "responder": self.responder in ("probit", "logit"),
            "unknown_timepoint": self.unknown_timepoint in ("include", "exclude"),
            "unknown_centres": self.unknown_centres in UNKNOWN_CENTRES,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise HarmonizationError(
                f"invalid harmonization option(s): {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}"
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
