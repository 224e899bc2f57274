"""Stage 10, sensitivity: scenario grids over priors, bias knobs, data readings and data
filters, fitted into a resumable store (``ccsvi-bayes sensitivity``)."""

from ccsvi_bayes.sensitivity.grid import (
    GridFile,
    GridPlan,
    InvalidGrid,
    Scenario,
    exclude_studies,
    parse_vary,
    plan_grid,
    read_grid_file,
)
from ccsvi_bayes.sensitivity.power import THRESHOLD as POWER_THRESHOLD
from ccsvi_bayes.sensitivity.power import PowerScaling, power_scaling
from ccsvi_bayes.sensitivity.reweight import K_HAT_MAX, AnchorPool, prefit_reweight
from ccsvi_bayes.sensitivity.runner import (
    GridIncomplete,
    GridOutcome,
    run_grid,
    scenario_evidence,
)
from ccsvi_bayes.sensitivity.store import ScenarioStore
from ccsvi_bayes.sensitivity.tipping import TippingResult, find_tipping_points, resolve_range

__all__ = [
    "K_HAT_MAX",
    "POWER_THRESHOLD",
    "AnchorPool",
    "GridFile",
    "GridIncomplete",
    "GridOutcome",
    "GridPlan",
    "InvalidGrid",
    "PowerScaling",
    "Scenario",
    "ScenarioStore",
    "TippingResult",
    "exclude_studies",
    "find_tipping_points",
    "parse_vary",
    "plan_grid",
    "power_scaling",
    "prefit_reweight",
    "read_grid_file",
    "resolve_range",
    "run_grid",
    "scenario_evidence",
]
