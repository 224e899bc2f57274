"""Count arms of a ``log_rr`` domain turned into one log risk ratio contrast per study."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["log_rr_contrasts"]


def log_rr_contrasts(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Count arms of a ``log_rr`` domain → one log risk ratio contrast per study.

    A binomial model with a logit link estimates odds ratios, so on a log-RR domain the two
    arms of a study become ``y = sign · log[(e_t/n_t) / (e_c/n_c)]`` (positive = benefit; sign
    +1 when the event is good) with the delta-method SE √(1/e_t − 1/n_t + 1/e_c − 1/n_c).
    A study with a zero-event arm has no finite log RR and a single-arm study no ratio: both
    are left out, with a note (no continuity correction is invented). Contrast rows stay.
    """
    out, notes = [], []
    for sid, group in rows.groupby("study_id", sort=False):
        con = group[group["row_kind"] == "contrast"]
        arms = group[group["row_kind"] != "contrast"]
        t = arms[arms["arm"] == "treatment"]
        c = arms[arms["arm"] == "control"]
        if arms.empty:
            out.append(con)
            continue
        if len(t) != 1 or len(c) != 1:
            notes.append(f"{sid}: no treatment-control pair of counts, no risk ratio: left out")
            continue
        et, nt = float(t["events"].iloc[0]), float(t["n"].iloc[0])
        ec, nc = float(c["events"].iloc[0]), float(c["n"].iloc[0])
        if min(et, ec) <= 0:
            notes.append(
                f"{sid}: a zero-event arm ({et:g}/{nt:g} vs {ec:g}/{nc:g}) has no finite log risk ratio: left out"
            )
            continue
        first = t.iloc[0].copy()
        sign = float(first["sign"])
        first["y"] = sign * float(np.log((et / nt) / (ec / nc))) + 0.0
        first["se"] = float(np.sqrt(1 / et - 1 / nt + 1 / ec - 1 / nc))
        first["row_kind"], first["arm"] = "contrast", "contrast"
        out.append(first.to_frame().T)
    if not out:
        return rows.iloc[0:0], notes
    frame = pd.concat(out, ignore_index=True)
    for col in ("y", "se"):
        frame[col] = frame[col].astype(float)
    return frame, notes
