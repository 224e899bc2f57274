"""Design features of a study (True = the flaw is present): the covariates of the bias
models, from the design facts of ``studies.csv`` and who assessed the outcome."""

from __future__ import annotations

import pandas as pd

from ccsvi_bayes.harmonize.options import UNKNOWN_CENTRES, HarmonizationError

__all__ = ["FEATURE_COLUMNS", "design_features", "unknown_centres_note"]

FEATURE_COLUMNS = (
    "nonrandomized",
    "uncontrolled",
    "unblinded",
    "patient_reported",
    "unblinded_x_patient_reported",
    "retrospective",
    "self_selected_survey",
    "single_centre",
    "wait_list",
)


def design_features(
    studies: pd.DataFrame,
    assessment: pd.Series | None = None,
    unknown_centres: str = "multicentre",
) -> pd.DataFrame:
    """Boolean design features per row of ``studies`` (True = the flaw is present).

    ``assessment`` (aligned with ``studies``) overrides ``outcome_assessment`` row by row,
    so that a clinician-rated EDSS row of a study with PRO main outcomes is not counted as
    patient-reported. The reference design (randomized, double-blind, sham/placebo,
    prospective, multicentre) has every feature False. A blank ``centres`` is read as
    ``unknown_centres`` says (``multicentre`` or ``single_centre``).
    """
    if unknown_centres not in UNKNOWN_CENTRES:
        raise HarmonizationError(
            f"unknown_centres must be one of {', '.join(UNKNOWN_CENTRES)}, got {unknown_centres!r}"
        )
    who = studies["outcome_assessment"] if assessment is None else assessment
    unblinded = studies["blinding"].eq("none")
    patient_reported = who.eq("patient_reported")
    return pd.DataFrame(
        {
            "nonrandomized": ~studies["randomized"].astype(bool),
            "uncontrolled": studies["control"].eq("none"),
            "unblinded": unblinded,
            "patient_reported": patient_reported,
            "unblinded_x_patient_reported": unblinded & patient_reported,
            "retrospective": ~studies["prospective"].astype(bool),
            "self_selected_survey": studies["design"].eq("survey"),
            "single_centre": studies["centres"].eq(1)
            | (studies["centres"].isna() & (unknown_centres == "single_centre")),
            "wait_list": studies["control"].eq("usual_care"),
        },
        index=studies.index,
    )


def unknown_centres_note(rows: pd.DataFrame, reading: str) -> list[str]:
    """The note of a fit whose studies include some with a blank ``centres``: how they were
    read for the ``single_centre`` feature and the switch that reads them otherwise."""
    unknown = list(dict.fromkeys(rows.loc[rows["centres"].isna(), "study_id"]))
    if not unknown:
        return []
    effect = "no single-centre bias" if reading == "multicentre" else "single-centre bias applies"
    other = next(r for r in UNKNOWN_CENTRES if r != reading)
    return [
        f"centres unknown for {', '.join(unknown)}: read as {reading} ({effect}); "
        f"--set harmonize.unknown_centres={other} reads them as {other}"
    ]
