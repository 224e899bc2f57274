"""A documented template evidence folder (``ccsvi-bayes init``) and the column dictionary.

:data:`COLUMNS` says, per file, which columns must be present, which cells may be blank and
what each means; the template's README is written from it, and a test blanks each cell to
prove the "required" marks true. The example rows hold one study of each design (RCT,
cohort, case-control, single-arm, survey) and validate as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ccsvi_bayes.evidence.writer import write_evidence_folder

__all__ = ["COLUMNS", "Column", "column_tables", "template_files", "write_template"]


@dataclass(frozen=True)
class Column:
    """One column: ``required`` = the header must have it **and** its cells must not be
    blank; ``header`` = the header must have it but a cell may be blank (not reported);
    ``optional`` = the column may be left out altogether."""

    name: str
    need: str  # "required" | "header" | "optional"
    meaning: str


def _c(name: str, need: str, meaning: str) -> Column:
    return Column(name, need, meaning)


_PROVENANCE = (
    _c("source", "required", "where the number comes from: citation, file or URL tag"),
    _c("location", "required", "table, figure, paragraph or page within the source"),
    _c("quote", "required", "the verbatim words or cells the number was read from"),
    _c("assumption", "header", "any imputation, derivation or reading of an ambiguity"),
)

#: the columns that place an arm or contrast row: its study, outcome domain and instrument
_ROW_KEYS = (
    _c("study_id", "required", "a study of studies.csv"),
    _c("outcome", "required", "a domain id of evidence.toml"),
    _c("instrument", "required", "listed for that domain and in instruments.csv"),
)
_TIMEPOINT = _c("timepoint_weeks", "header", "weeks from baseline; blank = unknown (kept)")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "studies.csv": (
        _c("study_id", "required", "unique id matching [A-Za-z0-9_-]+, e.g. SMITH21"),
        _c("label", "required", "human label, e.g. Smith 2021"),
        _c("year", "header", "publication year (integer)"),
        _c("design", "required", "rct | cohort | case_control | single_arm | survey"),
        _c("randomized", "required", "true | false"),
        _c("blinding", "required", "none | participant | double"),
        _c("control", "required", "sham | placebo | usual_care (incl. wait-list) | none"),
        _c("prospective", "required", "true | false"),
        _c("centres", "header", "number of centres (integer >= 1); blank = unknown"),
        _c("follow_up_weeks", "header", "follow-up in weeks (>= 0)"),
        _c(
            "outcome_assessment",
            "header",
            "patient_reported | clinician | imaging | registry (main outcomes)",
        ),
        _c("citation", "header", "full citation"),
        _c("source", "required", "where the design facts come from"),
        _c("notes", "header", "free text"),
    ),
    "arms.csv": (
        *_ROW_KEYS,
        _c("arm", "required", "treatment | control (single-arm studies: treatment only)"),
        _TIMEPOINT,
        _c("n", "required", "patients analysed (integer > 0)"),
        _c(
            "mean_change",
            "header",
            "change from baseline (follow-up − baseline), raw units, raw direction",
        ),
        _c("sd_change", "header", "SD of the change; blank = imputed (recorded)"),
        _c("events", "header", "count rows: events (0 <= events <= n)"),
        *_PROVENANCE,
        _c("n_unit", "optional", "patients (default) | procedures"),
        _c("p_value", "optional", "p of the within-arm change when no mean is reported"),
        _c("change_direction", "optional", "increase | decrease, for a p-only row"),
        _c("se_change", "optional", "SE of the mean change (raw units), instead of sd/√n"),
    ),
    "contrasts.csv": (
        *_ROW_KEYS,
        _TIMEPOINT,
        _c("measure", "required", "md | smd | log_or | log_rr (treatment vs control)"),
        _c("estimate", "required", "the between-arm estimate, raw direction"),
        _c("se", "header", "its standard error (or give ci_low/ci_high, or p_value)"),
        _c("ci_low", "header", "95% CI lower limit"),
        _c("ci_high", "header", "95% CI upper limit"),
        *_PROVENANCE,
        _c("p_value", "optional", "two-sided p, when neither SE nor CI is reported"),
        _c("n_treatment", "optional", "patients analysed in the treatment arm"),
        _c("n_control", "optional", "patients analysed in the control arm"),
        _c(
            "sd_pooled",
            "optional",
            "smd rows: the within-study SD the SMD was standardized by (raw units); "
            "puts the SMD on the instrument's reference SD like arm rows",
        ),
    ),
    "instruments.csv": (
        _c("instrument", "required", "instrument name (as used in arms/contrasts)"),
        _c("kind", "required", "continuous | count"),
        _c("higher_is_better", "required", "true | false: direction of benefit"),
        _c("scale_min", "header", "lowest possible score"),
        _c("scale_max", "header", "highest possible score"),
        _c("reference_sd", "header", "baseline SD that standardizes changes (smd domains)"),
        _c("mcid", "header", "minimal clinically important difference (instrument units)"),
        _c("mcid_source", "header", "where the MCID comes from"),
        _c("assessment", "optional", "who rates it; overrides the study's outcome_assessment"),
        _c("reference_sd_source", "optional", "where the reference SD comes from"),
    ),
}

_TOML = """\
# Evidence set template written by `ccsvi-bayes init`; replace the example studies with yours.
# Required keys: name, question, and one [domains.<id>] table per outcome domain with
# label, scale (smd | md | log_odds | log_rr) and instruments (the first one reports).
# Optional per domain: timepoint_weeks = [lo, hi] (primary-analysis window, weeks),
# mcid (in units of the first instrument, benefit direction), mcid_source.
name = "template"
question = "Does the treatment improve quality of life, and does it change the risk of relapse?"

[domains.qol]
label = "Quality of life"
scale = "smd"
instruments = ["QOL-100"]
timepoint_weeks = [12, 78]
mcid = 5.0
mcid_source = "example value: replace with a sourced MCID"

[domains.relapse]
label = "Patients with a relapse"
scale = "log_odds"
instruments = ["Relapse"]
timepoint_weeks = [12, 78]
"""

_SRC = "Example et al. 2024, Journal of Examples 1:1-10"
_STUDIES = f"""\
study_id,label,year,design,randomized,blinding,control,prospective,centres,follow_up_weeks,outcome_assessment,citation,source,notes
RCT1,Example RCT 2024,2024,rct,true,double,sham,true,4,52,patient_reported,"{_SRC}","{_SRC}, Methods",an RCT reporting arm-level changes
COH1,Example cohort 2022,2022,cohort,false,none,usual_care,true,1,26,patient_reported,,"{_SRC}, Methods",a cohort reporting only a between-group mean difference
CC1,Example case-control 2021,2021,case_control,false,none,usual_care,false,,,clinician,,"{_SRC}, Methods",a case-control study reporting an odds ratio with a 95% CI
SA1,Example case series 2020,2020,single_arm,false,none,none,true,1,26,patient_reported,,"{_SRC}, Methods",a single-arm series: treatment rows only
SUR1,Example survey 2019,2019,survey,false,none,none,false,,,patient_reported,,"{_SRC}, Methods",a self-selected patient survey
"""
_ARMS = f"""\
study_id,outcome,instrument,arm,timepoint_weeks,n,mean_change,sd_change,events,source,location,quote,assumption
RCT1,qol,QOL-100,treatment,52,50,6.0,12.0,,"{_SRC}",Table 2,"change 6.0 (SD 12.0), n = 50",
RCT1,qol,QOL-100,control,52,48,2.5,11.0,,"{_SRC}",Table 2,"change 2.5 (SD 11.0), n = 48",
RCT1,relapse,Relapse,treatment,52,50,,,9,"{_SRC}",Table 3,"9 of 50 relapsed",
RCT1,relapse,Relapse,control,52,48,,,11,"{_SRC}",Table 3,"11 of 48 relapsed",
SA1,qol,QOL-100,treatment,26,40,8.0,,,"{_SRC}",Results,"mean improvement 8 points",SD not reported: imputed by the package
SUR1,qol,QOL-100,treatment,,120,10.0,15.0,,"{_SRC}",Figure 1,"mean gain 10 (SD 15)",timepoint not stated (blank = unknown)
"""
_CONTRASTS = f"""\
study_id,outcome,instrument,timepoint_weeks,measure,estimate,se,ci_low,ci_high,source,location,quote,assumption,n_treatment,n_control,sd_pooled
COH1,qol,QOL-100,26,md,4.0,1.8,,,"{_SRC}",Table 4,"difference 4.0 points (SE 1.8)",,60,62,
CC1,relapse,Relapse,52,log_or,-0.35,,-0.9,0.2,"{_SRC}",Table 2,"OR 0.70 (95% CI 0.41 to 1.22)",log of the OR and its CI limits,80,160,
"""
_INSTRUMENTS = """\
instrument,kind,higher_is_better,scale_min,scale_max,reference_sd,mcid,mcid_source,reference_sd_source
QOL-100,continuous,true,0,100,20.0,5.0,example value,example value: the baseline SD of a reference population
Relapse,count,false,,,,,,
"""


def _dictionary() -> str:
    lines = [
        "# Evidence set template",
        "",
        "Written by `ccsvi-bayes init`. It validates as written (`ccsvi-bayes validate "
        "--evidence <this folder>`); replace the example studies with yours. One study of "
        "each design: RCT1 (RCT, arm-level changes and counts), COH1 (cohort, a mean "
        "difference only), CC1 (case-control, an odds ratio with a 95% CI), SA1 (single-arm "
        "series, SD not reported), SUR1 (survey, timepoint unknown).",
        "",
        "Every file is UTF-8 CSV with a header row; a blank cell means not reported. "
        "**required**: the column must be in the header and every cell filled. "
        "**header**: the column must be in the header, a cell may be blank. "
        "**optional**: the column may be left out. `contrasts.csv` is optional as a file; "
        "`alternatives.toml` (named readings of ambiguities) and `elicited_bias.csv` too.",
        "",
        "Arm rows are **changes from baseline** (follow-up − baseline) in raw instrument "
        "units and the instrument's own direction; the package turns every estimate so that "
        "positive = benefit (instruments.csv `higher_is_better`). A study that reports only "
        "a between-arm estimate goes in `contrasts.csv`; give `n_treatment` and `n_control` "
        "so that it counts in the participant totals.",
        "",
    ]
    lines.append(column_tables(level="##"))
    lines += [
        "## `evidence.toml`",
        "",
        "Required: `name`, `question`, and per `[domains.<id>]` a `label`, a `scale` "
        "(`smd`, `md`, `log_odds`, `log_rr`) and `instruments` (the first reports). "
        "Optional: `timepoint_weeks`, `mcid`, `mcid_source`, `endpoint` (harms).",
        "",
    ]
    return "\n".join(lines)


def column_tables(level: str = "###") -> str:
    """Markdown: one table per CSV file, every column with required / header / optional
    (the data dictionary of the template README and of data/ccsvi/README.md)."""
    lines: list[str] = []
    for file, cols in COLUMNS.items():
        lines += [f"{level} `{file}`", "", "| column | need | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.need} | {c.meaning.replace('|', '\\|')} |" for c in cols]
        lines.append("")
    return "\n".join(lines)


def template_files() -> dict[str, str]:
    """The template folder's files as text."""
    return {
        "evidence.toml": _TOML,
        "studies.csv": _STUDIES,
        "arms.csv": _ARMS,
        "contrasts.csv": _CONTRASTS,
        "instruments.csv": _INSTRUMENTS,
        "README.md": _dictionary(),
    }


def write_template(folder: str | Path, *, force: bool = False) -> Path:
    """Write the template evidence folder at ``folder`` (must not exist or be empty unless
    ``force``); validated before it is moved into place. Returns the folder."""
    target = Path(folder)
    write_evidence_folder(target, template_files(), force=force)
    return target
