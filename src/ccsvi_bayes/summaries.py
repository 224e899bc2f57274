"""Summaries: tables a statistician reads (evidence overviews now; posteriors later)."""

from __future__ import annotations

import pandas as pd

from ccsvi_bayes.data import Evidence
from ccsvi_bayes.harmonize import HarmonizeOptions, harmonize

__all__ = ["DESIGN_SHORT", "outcome_overview"]

#: short design labels for narrow tables
DESIGN_SHORT = {
    "rct": "RCT",
    "single_arm": "1-arm",
    "survey": "survey",
    "cohort": "cohort",
    "case_control": "c-c",
}
_SHORT = DESIGN_SHORT


def outcome_overview(evidence: Evidence, options: HarmonizeOptions | None = None) -> pd.DataFrame:
    """One row per domain: studies, participants and designs of the primary-analysis rows.

    ``participants`` sums ``n`` over included arm rows (contrast rows carry no n), split by
    unit when some denominators count procedures rather than patients.
    """
    records = []
    for did, domain in evidence.domains.items():
        rows = harmonize(evidence, did, options)
        used = rows[rows["included"]]
        per_study = used.drop_duplicates("study_id")
        designs = per_study["design"].value_counts()
        units = used[used["row_kind"] != "contrast"].groupby("n_unit")["n"].sum()
        participants = ", ".join(
            f"{int(total)}" if unit == "patients" else f"{int(total)} proc."
            for unit, total in units.items()
        )
        lo, hi = domain.window
        records.append(
            {
                "domain": did,
                "label": domain.label,
                "scale": domain.scale,
                "window": f"{lo:g}–{hi:g}",
                "studies": int(per_study.shape[0]),
                "participants": participants or "0",
                "designs": " ".join(f"{c} {_SHORT.get(str(d), d)}" for d, c in designs.items())
                or "-",
                "excluded_rows": int((~rows["included"]).sum()),
                "study_ids": " ".join(per_study["study_id"]),
            }
        )
    return pd.DataFrame.from_records(records)
