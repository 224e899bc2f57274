"""The file names of every output the package writes, spelled once.

A fit folder holds :data:`SUMMARY`, :data:`POSTERIOR` and (after ``check``) :data:`CHECKS`; a
run folder holds :data:`RUN_INDEX`, one fit folder per model and outcome, the decisions
(:data:`FINDINGS`, :data:`AVERAGE`, :data:`PLAN`, :data:`CHANGES`) and the report; a grid
folder holds :data:`GRID_INDEX`, :data:`SCENARIOS_TABLE` and one fit folder per scenario.
Plain constants, no imports: every stage may use them.
"""

from __future__ import annotations

# a fit folder
SUMMARY = "summary.json"
POSTERIOR = "posterior.nc"
CHECKS = "checks.json"
POWER_SCALING = "power_scaling.json"

# a run folder
RUN_INDEX = "run.json"
FINDINGS = "findings.json"
AVERAGE = "average.json"
PLAN = "plan.json"
CHANGES = "changes.json"
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
SOF_HTML = "sof.html"
SOF_CSV = "sof.csv"

# a grid (sensitivity) folder
GRID_INDEX = "index.json"
SCENARIOS_TABLE = "scenarios.csv"
TIPPING_POINT = "tipping_point.json"

# an SBC folder
SBC_REPORT = "report.json"

# an evidence folder
STUDIES = "studies.csv"
ARMS = "arms.csv"
CONTRASTS = "contrasts.csv"
INSTRUMENTS = "instruments.csv"
ELICITED_BIAS = "elicited_bias.csv"

# a figures folder (``figures/`` of a run or grid folder)
FIGURES_DIR = "figures"
FIGURE_INDEX = "index.json"
#: the folder of a grid that holds one fit folder per scenario
SCENARIOS_DIR = "scenarios"
