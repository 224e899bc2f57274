"""One vocabulary for codes, column names, dims and variable names.

Evidence files, harmonization, model specs, builders, summaries and tests all import
their names from here, so a code is spelled once.
"""

from __future__ import annotations

__all__ = [
    "ARMS_COLUMNS",
    "ARMS_OPTIONAL_COLUMNS",
    "ARM_CODES",
    "ASSESSMENT_CODES",
    "BLINDING_CODES",
    "CHANGE_DIRECTION_CODES",
    "CONTRASTS_COLUMNS",
    "CONTRASTS_OPTIONAL_COLUMNS",
    "CONTROL_CODES",
    "DESIGN_CODES",
    "DESIGN_FACT_COLUMNS",
    "DESIGN_FEATURES",
    "ID_PATTERN",
    "INSTRUMENTS_COLUMNS",
    "INSTRUMENTS_OPTIONAL_COLUMNS",
    "INSTRUMENT_KINDS",
    "KEY_PARAMETERS",
    "MAX_COUNT",
    "MEASURE_CODES",
    "N_UNIT_CODES",
    "PROVENANCE_COLUMNS",
    "SCALE_ALIASES",
    "SCALE_CODES",
    "STUDIES_COLUMNS",
    "Dim",
]

# --- codes (architecture §2) -------------------------------------------------------------
DESIGN_CODES = ("rct", "cohort", "case_control", "single_arm", "survey")
BLINDING_CODES = ("none", "participant", "double")
CONTROL_CODES = ("sham", "placebo", "usual_care", "none")
ASSESSMENT_CODES = ("patient_reported", "clinician", "imaging", "registry")
ARM_CODES = ("treatment", "control")
INSTRUMENT_KINDS = ("continuous", "count")
MEASURE_CODES = ("md", "smd", "log_or", "log_rr")
SCALE_CODES = ("smd", "md", "log_odds", "log_rr")
#: accepted spellings of a domain scale, mapped to the canonical code
SCALE_ALIASES = {"log_or": "log_odds"}
#: extension: the unit of an arm's denominator ``n`` (default ``patients``)
N_UNIT_CODES = ("patients", "procedures")
#: extension: raw direction of a change reported only through a p-value
CHANGE_DIRECTION_CODES = ("increase", "decrease")

# --- columns ---------------------------------------------------------------------------
#: the design facts of a study (studies.csv, in file order) its design features come from
DESIGN_FACT_COLUMNS = ("design", "randomized", "blinding", "control", "prospective", "centres")
STUDIES_COLUMNS = (
    "study_id",
    "label",
    "year",
    *DESIGN_FACT_COLUMNS,
    "follow_up_weeks",
    "outcome_assessment",
    "citation",
    "source",
    "notes",
)
PROVENANCE_COLUMNS = ("source", "location", "quote", "assumption")
ARMS_COLUMNS = (
    "study_id",
    "outcome",
    "instrument",
    "arm",
    "timepoint_weeks",
    "n",
    "mean_change",
    "sd_change",
    "events",
    *PROVENANCE_COLUMNS,
)
#: optional extensions of arms.csv (README, "Data dictionary")
ARMS_OPTIONAL_COLUMNS = ("n_unit", "p_value", "change_direction", "se_change")
CONTRASTS_COLUMNS = (
    "study_id",
    "outcome",
    "instrument",
    "timepoint_weeks",
    "measure",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    *PROVENANCE_COLUMNS,
)
#: optional extensions of contrasts.csv: participants analysed per arm (participant counts) and
#: the within-study SD an ``smd`` row was standardized by (puts it on the reference SD)
CONTRASTS_OPTIONAL_COLUMNS = ("p_value", "n_treatment", "n_control", "sd_pooled")
INSTRUMENTS_COLUMNS = (
    "instrument",
    "kind",
    "higher_is_better",
    "scale_min",
    "scale_max",
    "reference_sd",
    "mcid",
    "mcid_source",
)
#: optional: who rates the instrument; overrides the study's ``outcome_assessment``
INSTRUMENTS_OPTIONAL_COLUMNS = ("assessment", "reference_sd_source")

# --- design features (architecture §4); x = 0 is the reference design ------------------------
DESIGN_FEATURES = (
    "nonrandomized",
    "uncontrolled",
    "unblinded",
    "unblinded_x_patient_reported",
    "retrospective",
    "self_selected_survey",
    "single_centre",
)


#: parameters summarized and checked when a model has them (efficacy and harms)
KEY_PARAMETERS = (
    "mu",
    "tau",
    "psi",
    "mu_design",
    "pi_mean",
    "pi_sd",
    "omega",
    "gamma",
    "kappa",
    "q_intercept",
    "beta_mean",
    "alpha_mean",
    "alpha_sd",
    "delta",
)


class Dim:
    """Dimension names used in models and outputs (never ``*_dim_0``)."""

    study = "study"
    arm_obs = "arm_obs"
    contrast_obs = "contrast_obs"
    feature = "feature"
    control = "control"
    design = "design"
    domain = "domain"


# --- identifiers and counts (architecture §10, issue 17) -----------------------------------
#: study, arm, domain (outcome), reading (alternatives switch and option) ids: ASCII letters,
#: digits, ``_`` and ``-`` only, so an id is safe as a file or folder name and looks like
#: what it is (no path separators, spaces, look-alike letters, control, bidi or zero-width
#: characters)
ID_PATTERN = r"[A-Za-z0-9_-]+"
#: the largest count (``n``, ``events``) a fit holds exactly: PyMC stores integer data as
#: int32, so a larger count would wrap around (1e20 became 0)
MAX_COUNT = 2**31 - 1
