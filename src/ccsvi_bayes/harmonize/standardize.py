"""Harmonization: evidence rows → one tidy, standardized row per study-arm (or contrast).

Positive ``y`` is **benefit** in every domain. For ``smd`` domains ``y`` is in units of the
instrument's reference (baseline) SD; for ``md`` domains in raw instrument units (benefit
direction); for binary domains arms carry ``events`` of ``n`` (binomial likelihood, no
continuity correction) and contrasts carry a log odds ratio (``log_odds`` domains) or a log
risk ratio (``log_rr`` domains, a scale of its own: :func:`.log_rr.log_rr_contrasts` turns the two arms
of a study into its log RR) with positive = benefit.
Every input row of the outcome comes back, with ``included`` and ``exclusion_reason``.

One SD per instrument: arm changes and MD contrasts are divided by the instrument's reference
SD, and so is an SMD contrast that gives the SD it was standardized by (``sd_pooled``: SMD ×
sd_pooled / SD_ref, i.e. its mean difference over SD_ref). An SMD without ``sd_pooled``
stays on its study's own SD; where the instrument has a reference SD (which also converts
the MCID) that is a different scale, and ``frame.attrs["warnings"]`` and the fit's notes say
so. A contrast row's ``n`` is ``n_treatment + n_control`` (participant counts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.evidence import LINE, ORIGIN, Domain, Evidence
from ccsvi_bayes.harmonize import formulas as F
from ccsvi_bayes.harmonize.features import FEATURE_COLUMNS, design_features
from ccsvi_bayes.harmonize.options import HarmonizationError, HarmonizeOptions

__all__ = [
    "contrast_n",
    "harmonize",
    "reference_sd",
    "smd_scale_warnings",
]


def harmonize(
    evidence: Evidence, outcome: str, options: HarmonizeOptions | None = None
) -> pd.DataFrame:
    """One tidy row per study-arm (or contrast) of ``outcome``, standardized, with provenance.

    Columns: study and design facts, design features (:data:`FEATURE_COLUMNS`), ``row_kind``
    (``continuous``, ``p_only``, ``responder``, ``count``, ``contrast``), raw values,
    ``sd_used``/``sd_imputed``/``sd_ref``, ``sign`` (+1 when higher raw values are better),
    ``y``/``se`` (benefit-positive, domain scale; NaN for count rows of binary domains, whose
    data are ``events``/``n``), ``included``/``exclusion_reason``, ``harmonization`` (what was
    done) and the provenance columns. ``frame.attrs`` holds the domain, the options and the
    reference SD used per instrument.
    """
    opts = options or HarmonizeOptions()
    domain = evidence.domain(outcome)
    instruments = evidence.instruments.set_index("instrument")
    studies = evidence.studies.set_index("study_id")

    arms = evidence.arms[evidence.arms["outcome"] == outcome].copy()
    arms["row_kind"] = np.select(
        [arms["events"].notna(), arms["mean_change"].notna()],
        ["responder" if not domain.is_binary else "count", "continuous"],
        default="p_only",
    )
    arms["measure"] = ""
    contrasts = evidence.contrasts[evidence.contrasts["outcome"] == outcome].copy()
    contrasts["arm"] = "contrast"
    contrasts["row_kind"] = "contrast"
    contrasts["n"] = contrast_n(contrasts)
    contrasts["n_unit"] = "patients"
    rows = pd.concat([arms, contrasts], ignore_index=True, sort=False)
    if rows.empty:
        out = _empty_frame()
        out.attrs.update(domain=domain.id, scale=domain.scale, options=opts.as_dict(), sd_ref={})
        return out

    rows["instrument_rank"] = rows["instrument"].map(
        {name: i for i, name in enumerate(domain.instruments)}
    )
    rows["sign"] = rows["instrument"].map(
        lambda name: int(F.direction_sign(bool(instruments.loc[name, "higher_is_better"])))
    )
    rows["assessment"] = [
        instruments.loc[name, "assessment"] or studies.loc[sid, "outcome_assessment"]
        for name, sid in zip(rows["instrument"], rows["study_id"], strict=True)
    ]
    study_cols = ["label", *V.DESIGN_FACT_COLUMNS, "follow_up_weeks"]
    facts = studies.loc[rows["study_id"], study_cols].reset_index(drop=True)
    rows = pd.concat([rows.reset_index(drop=True), facts], axis=1)
    features = design_features(
        rows.assign(outcome_assessment=rows["assessment"]), unknown_centres=opts.unknown_centres
    )
    rows = pd.concat([rows, features], axis=1)

    sd_ref = _reference_sds(evidence, rows, domain, opts)
    notes: list[list[str]] = [[] for _ in range(len(rows))]
    y, se, sd_used = (np.full(len(rows), np.nan) for _ in range(3))
    sd_imputed = np.zeros(len(rows), dtype=bool)
    for i in range(len(rows)):
        y[i], se[i], sd_used[i], sd_imputed[i] = _standardize(
            rows.iloc[i], domain, sd_ref, evidence, opts, notes[i]
        )
    rows["y"], rows["se"], rows["sd_used"], rows["sd_imputed"] = (
        y + 0.0,
        se,
        sd_used,
        sd_imputed,
    )  # no -0.0
    rows["sd_ref"] = rows["instrument"].map(sd_ref).astype(float)
    rows["proportion"] = rows["events"] / rows["n"]

    rows["included"], rows["exclusion_reason"] = _select(rows, domain, opts, notes)
    warnings = smd_scale_warnings(rows, notes)
    for i in rows.index[rows["centres"].isna()]:
        notes[i].append(f"centres unknown: read as {opts.unknown_centres} (unknown_centres)")
    rows["harmonization"] = ["; ".join(n) for n in notes]
    rows = rows.rename(
        columns={"mean_change": "raw_mean", "sd_change": "raw_sd", LINE: "line", ORIGIN: "file"}
    )
    out = rows[list(_COLUMNS)].sort_values(
        ["included", "study_id", "arm"], ascending=[False, True, False], kind="stable"
    )
    out = out.reset_index(drop=True)
    out.attrs.update(
        domain=domain.id,
        scale=domain.scale,
        options=opts.as_dict(),
        sd_ref=dict(sd_ref),
        warnings=warnings,
    )
    return out


def contrast_n(contrasts: pd.DataFrame) -> pd.Series:
    """Participants of each contrast row: ``n_treatment + n_control`` (NaN unless both are
    given), so that participant counts include studies that report only a contrast."""
    if "n_treatment" not in contrasts or "n_control" not in contrasts:
        return pd.Series(np.nan, index=contrasts.index, dtype=float)
    total: pd.Series = contrasts["n_treatment"] + contrasts["n_control"]
    return total.astype(float)


#: start of the harmonization note of an SMD contrast left on its study's own SD
SMD_OWN_SD = "SMD as reported, on the study's own SD"


def smd_scale_warnings(rows: pd.DataFrame, notes: list[list[str]]) -> list[str]:
    """One warning per included SMD contrast that stays on its study's own SD while its
    instrument has a reference SD (which standardizes the arm rows and the MCID): the two
    are then on different scales. Giving ``sd_pooled`` in contrasts.csv removes it."""
    out = []
    for i in rows.index[rows["included"]]:
        text = next((n for n in notes[i] if n.startswith(SMD_OWN_SD)), None)
        if text is not None and pd.notna(rows.loc[i, "sd_ref"]):
            out.append(
                f"{rows.loc[i, 'study_id']}: {text} (contrasts.csv line {rows.loc[i, LINE]}); "
                "give sd_pooled to put it on the reference SD"
            )
    return out


_COLUMNS = (
    "study_id",
    "label",
    "outcome",
    "instrument",
    "instrument_rank",
    "arm",
    "timepoint_weeks",
    "n",
    "n_unit",
    "row_kind",
    "measure",
    "events",
    "proportion",
    "raw_mean",
    "raw_sd",
    "p_value",
    "estimate",
    "sign",
    "sd_used",
    "sd_imputed",
    "sd_ref",
    "y",
    "se",
    "included",
    "exclusion_reason",
    "harmonization",
    *V.DESIGN_FACT_COLUMNS,
    "follow_up_weeks",
    "assessment",
    *FEATURE_COLUMNS,
    "source",
    "location",
    "quote",
    "assumption",
    "file",
    "line",
)


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS})


def _reference_sds(
    evidence: Evidence, rows: pd.DataFrame, domain: Domain, opts: HarmonizeOptions
) -> dict[str, float]:
    """Standardizing SD (baseline-SD scale) per continuous instrument of the domain."""
    if domain.scale != "smd":
        return {}
    needs = rows.loc[
        rows["row_kind"].isin(["continuous"]) | (rows["measure"] == "md"), "instrument"
    ].unique()
    # SMD contrasts are put on the reference SD where one exists; none is not an error
    wants = set(rows.loc[rows["measure"] == "smd", "instrument"]) - set(needs)
    out: dict[str, float] = {}
    for name in sorted(wants):
        found = reference_sd(evidence, name, opts)
        if found is not None:
            out[name] = found
    inst = evidence.instruments.set_index("instrument")
    for name in needs:
        reference = inst.loc[name, "reference_sd"]
        pooled_change = _pooled_change_sd(evidence, name)
        from_change = (
            pooled_change / np.sqrt(2 * (1 - opts.prepost_r)) if pooled_change is not None else None
        )
        if opts.sd_ref == "reference" and pd.notna(reference):
            out[name] = float(reference)
        elif from_change is not None:
            out[name] = float(from_change)
        elif pd.notna(reference):
            out[name] = float(reference)
        else:
            raise HarmonizationError(
                f"cannot standardize instrument '{name}' in domain '{domain.id}': instruments.csv gives no "
                "reference_sd and no row of arms.csv reports sd_change for it; add either (with its source)"
            )
    return out


def reference_sd(
    evidence: Evidence, instrument: str, options: HarmonizeOptions | None = None
) -> float | None:
    """The standardizing SD (baseline-SD scale) of an instrument, or None if unknowable.

    Used to put an SMD back on the instrument scale (effect × SD = instrument points).
    """
    opts = options or HarmonizeOptions()
    reference = evidence.instrument(instrument)["reference_sd"]
    pooled = _pooled_change_sd(evidence, instrument)
    from_change = pooled / np.sqrt(2 * (1 - opts.prepost_r)) if pooled is not None else None
    if opts.sd_ref == "reference" and pd.notna(reference):
        return float(reference)
    if from_change is not None:
        return float(from_change)
    return float(reference) if pd.notna(reference) else None


def _pooled_change_sd(evidence: Evidence, instrument: str) -> float | None:
    rows = evidence.arms[
        (evidence.arms["instrument"] == instrument) & evidence.arms["sd_change"].notna()
    ]
    if rows.empty:
        return None
    return float(F.pooled_sd(rows["sd_change"].to_numpy(float), rows["n"].to_numpy(float)))


def _standardize(
    row: pd.Series,
    domain: Domain,
    sd_ref: dict[str, float],
    evidence: Evidence,
    opts: HarmonizeOptions,
    notes: list[str],
) -> tuple[float, float, float, bool]:
    """(y, se, sd_used, sd_imputed) of one row on the domain scale, benefit-positive."""
    kind, sign, n = (
        row["row_kind"],
        int(row["sign"]),
        float(row["n"]) if pd.notna(row["n"]) else np.nan,
    )
    if kind == "count":
        return np.nan, np.nan, np.nan, False
    if kind == "responder":
        if domain.scale != "smd":
            raise HarmonizationError(
                f"{row[ORIGIN]}, line {row[LINE]}: responder counts need an smd domain, not {domain.scale}"
            )
        p, corrected = F.responder_proportion(row["events"], n)
        d, s = F.responder_to_smd(row["events"], n, opts.responder_threshold, opts.responder)
        notes.append(
            f"responders {int(row['events'])}/{int(n)} → {opts.responder} latent scale, threshold {opts.responder_threshold:g} SD"
        )
        if bool(corrected):
            notes.append(
                f"0 or all responders: proportion taken as (k+0.5)/(n+1) = {float(p):.4f} for the conversion only"
            )
        return float(d), float(s), np.nan, False
    if kind == "p_only":
        d, s = F.smd_from_p_only(row["p_value"], n, _raw_sign(row), opts.prepost_r)
        d, s = (d, s) if domain.scale == "smd" else _not_smd(row, domain)
        notes.append(
            f"p-only change: |z| = {float(F.z_from_p(row['p_value'])):.3f} from p = {row['p_value']:g}, direction {row['change_direction']}, r = {opts.prepost_r:g}"
        )
        return float(d), float(s), np.nan, False
    if kind == "continuous":
        se_given = row.get("se_change", np.nan)
        if pd.notna(se_given):  # the SE of the mean change as reported or assumed (raw units)
            sd, imputed = float(se_given) * np.sqrt(n), False
            notes.append(f"SE of the mean change {float(se_given):g} as given (se_change)")
        else:
            sd, imputed = row["sd_change"], False
            if pd.isna(sd):
                sd, imputed = _impute_sd(row["instrument"], evidence, opts, notes)
        if domain.scale == "smd":
            ref = sd_ref[row["instrument"]]
            d, s = F.standardized_mean_change(row["mean_change"], sd, n, ref, sign)
            notes.append(
                f"mean change {row['mean_change']:g} / reference SD {ref:.3g}, sign {sign:+d}"
            )
            return float(d), float(s), float(sd), imputed
        if domain.scale == "md":
            return float(sign * row["mean_change"]), float(sd / np.sqrt(n)), float(sd), imputed
        raise HarmonizationError(
            f"{row[ORIGIN]}, line {row[LINE]}: a mean change cannot enter the {domain.scale} domain '{domain.id}'"
        )
    return _contrast(row, domain, sd_ref, notes)


def _raw_sign(row: pd.Series) -> int:
    """Benefit sign of a p-only change: raw direction × instrument direction."""
    raw = 1 if row["change_direction"] == "increase" else -1
    return raw * int(row["sign"])


def _not_smd(row: pd.Series, domain: Domain) -> tuple[float, float]:
    raise HarmonizationError(
        f"{row[ORIGIN]}, line {row[LINE]}: a p-only change needs an smd domain, not {domain.scale}"
    )


def _impute_sd(
    instrument: str, evidence: Evidence, opts: HarmonizeOptions, notes: list[str]
) -> tuple[float, bool]:
    reference = evidence.instrument(instrument)["reference_sd"]
    pooled = _pooled_change_sd(evidence, instrument)
    from_reference = (
        float(F.change_sd_from_baseline_sd(reference, opts.prepost_r))
        if pd.notna(reference)
        else None
    )
    order = [("reference_sd", from_reference), ("pooled_change_sd", pooled)]
    if opts.sd_impute == "pooled_change_sd":
        order.reverse()
    for method, value in order:
        if value is not None:
            how = (
                f"reference SD {reference:g} × √(2(1−r)), r = {opts.prepost_r:g}"
                if method == "reference_sd"
                else "pooled SD of change of this instrument across the evidence set"
            )
            notes.append(f"sd_change not reported: imputed {value:.3g} ({how})")
            return value, True
    raise HarmonizationError(
        f"cannot impute sd_change for instrument '{instrument}': no reference_sd in instruments.csv and no "
        "reported sd_change in arms.csv"
    )


def _contrast(
    row: pd.Series, domain: Domain, sd_ref: dict[str, float], notes: list[str]
) -> tuple[float, float, float, bool]:
    est, measure, sign = float(row["estimate"]), str(row["measure"]), int(row["sign"])
    if pd.notna(row["se"]):
        se = float(row["se"])
    elif pd.notna(row["ci_low"]):
        se = float(F.se_from_ci(row["ci_low"], row["ci_high"]))
        notes.append(f"SE {se:.4g} from 95% CI ({row['ci_low']:g}, {row['ci_high']:g})")
    else:
        se = float(F.se_from_p(est, row["p_value"]))
        notes.append(f"SE {se:.4g} from p = {row['p_value']:g} (normal approximation)")
    sd_used = np.nan
    if domain.scale == "smd":
        if measure == "md":
            ref = sd_ref[row["instrument"]]
            est, se = est / ref, se / ref
            notes.append(f"mean difference / reference SD {ref:.3g}")
        elif measure == "smd":
            est, se, sd_used = _smd_on_reference_sd(row, est, se, sd_ref, notes)
        elif measure == "log_or":
            est, se = float(F.log_odds_to_smd(est)), float(F.log_odds_to_smd(se))
            notes.append("log odds ratio × √3/π (Chinn 2000)")
    elif domain.scale == "log_odds" and measure == "smd":
        est, se = float(F.smd_to_log_odds(est)), float(F.smd_to_log_odds(se))
        notes.append("SMD × π/√3 (Chinn 2000)")
    if sign < 0:
        notes.append("sign flipped: lower raw values are better")
    return sign * est + 0.0, se, sd_used, False


def _smd_on_reference_sd(
    row: pd.Series, est: float, se: float, sd_ref: dict[str, float], notes: list[str]
) -> tuple[float, float, float]:
    """An SMD contrast on the same SD as arm rows and MD contrasts (the instrument's
    reference SD): SMD × sd_pooled / SD_ref, i.e. the mean difference over SD_ref. Without
    ``sd_pooled``, or without a reference SD, the SMD stays on its study's own SD (noted)."""
    own = row.get("sd_pooled", np.nan)
    ref = sd_ref.get(str(row["instrument"]))
    if pd.notna(own) and ref is not None:
        factor = float(own) / ref
        notes.append(
            f"SMD × study SD {float(own):.4g} / reference SD {ref:.4g} (the SD of the arm rows)"
        )
        return est * factor, se * factor, float(own)
    if ref is None:
        notes.append(f"{SMD_OWN_SD} (the instrument has no reference SD)")
    else:
        notes.append(
            f"{SMD_OWN_SD}, not on the reference SD {ref:.4g} of the arm rows and the MCID "
            "(no sd_pooled)"
        )
    return est, se, float(own) if pd.notna(own) else np.nan


def _select(
    rows: pd.DataFrame, domain: Domain, opts: HarmonizeOptions, notes: list[list[str]]
) -> tuple[np.ndarray, list[str]]:
    """Which rows enter the primary analysis; a reason for every row left out.

    Per study: rows outside the window are left out (blank timepoints are kept unless
    ``unknown_timepoint="exclude"``); arm-level rows win over contrasts; the
    highest-priority instrument wins; then the latest timepoint (known before unknown).
    """
    lo, hi = domain.window
    included = np.ones(len(rows), dtype=bool)
    reasons = [""] * len(rows)
    t = rows["timepoint_weeks"]
    for i in rows.index:
        if pd.isna(t[i]):
            if opts.unknown_timepoint == "exclude":
                included[i], reasons[i] = False, "timepoint unknown (unknown_timepoint = exclude)"
            else:
                notes[i].append("timepoint unknown: included")
        elif not lo <= t[i] <= hi:
            included[i], reasons[i] = (
                False,
                f"timepoint {t[i]:g} wk outside the window [{lo:g}, {hi:g}] wk",
            )
    for _sid, group in rows[included].groupby("study_id", sort=False):
        idx = group.index
        if (group["row_kind"] != "contrast").any():
            for i in idx[group["row_kind"] == "contrast"]:
                included[i], reasons[i] = False, "arm-level rows of this study are used"
            group = group[group["row_kind"] != "contrast"]
        best = group["instrument_rank"].min()
        for i in group.index[group["instrument_rank"] != best]:
            chosen = group.loc[group["instrument_rank"] == best, "instrument"].iloc[0]
            included[i], reasons[i] = False, f"secondary instrument ('{chosen}' is used)"
        group = group[group["instrument_rank"] == best]
        times = group["timepoint_weeks"]
        if times.notna().any():
            latest = times.max()
            for i in group.index[times.isna() | (times != latest)]:
                included[i], reasons[i] = False, f"another timepoint ({latest:g} wk) is used"
    return included, reasons
