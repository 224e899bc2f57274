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
from ccsvi_bayes.sensitivity.reweight import K_HAT_MAX, prefit_reweight
from ccsvi_bayes.sensitivity.runner import (
    INDEX_FILE,
    SCENARIOS_DIR,
    GridIncomplete,
    GridOutcome,
    run_grid,
    scenario_folder,
)

__all__ = [
    "INDEX_FILE",
    "K_HAT_MAX",
    "SCENARIOS_DIR",
    "GridFile",
    "GridIncomplete",
    "GridOutcome",
    "GridPlan",
    "InvalidGrid",
    "Scenario",
    "exclude_studies",
    "parse_vary",
    "plan_grid",
    "prefit_reweight",
    "read_grid_file",
    "run_grid",
    "scenario_folder",
]
