"""Stage 7, check: model checks of a fit (``checks.json``), SBC, and simulated evidence sets.

The face of the stage: other stages import from here. Its names are imported on first use
(PEP 562 ``__getattr__``): the checks load ArviZ, matplotlib and PyMC.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccsvi_bayes.checks.model_checks import (
        CV_RHAT_MAX,
        PARETO_K_BAD,
        PPC_ALPHA,
        check_fit,
        check_headline,
    )
    from ccsvi_bayes.checks.sbc import (
        MAX_DIVERGENT_FRACTION,
        P_FAIL,
        SBCResult,
        calibration_failed,
        run_sbc,
    )
    from ccsvi_bayes.checks.sbc import not_served as sbc_not_served
    from ccsvi_bayes.checks.sbc import run_plan as sbc_run_plan
    from ccsvi_bayes.checks.sbc import write_report as write_sbc_report

__all__ = [
    "CV_RHAT_MAX",
    "MAX_DIVERGENT_FRACTION",
    "PARETO_K_BAD",
    "PPC_ALPHA",
    "P_FAIL",
    "SBCResult",
    "calibration_failed",
    "check_fit",
    "check_headline",
    "run_sbc",
    "sbc_not_served",
    "sbc_run_plan",
    "write_sbc_report",
]

#: name → (module, attribute): imported on first use, looked up there on every use
_LAZY: dict[str, tuple[str, str]] = {
    **{
        name: ("model_checks", name)
        for name in ("CV_RHAT_MAX", "PARETO_K_BAD", "PPC_ALPHA", "check_fit", "check_headline")
    },
    **{
        name: ("sbc", name)
        for name in (
            "MAX_DIVERGENT_FRACTION",
            "P_FAIL",
            "SBCResult",
            "calibration_failed",
            "run_sbc",
        )
    },
    "sbc_not_served": ("sbc", "not_served"),
    "sbc_run_plan": ("sbc", "run_plan"),
    "write_sbc_report": ("sbc", "write_report"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    return getattr(import_module(f"{__name__}.{module}"), attribute)
