"""Summary-of-findings table in the GRADEpro layout (architecture §9, issue 19): one row per
efficacy outcome and per harm endpoint of a run folder.

The first table is GRADEpro's: outcome; № of participants (studies) by design; certainty of the
evidence (GRADE symbols and word, each level rated down footnoted with the reason from
``findings.json``; "not assessed" without it); relative effect (odds ratio, median and 95% CrI,
for binary outcomes); anticipated absolute effects (binary: risk with control per 1,000 and the
difference per 1,000, in events of the outcome; continuous: the mean difference on the
instrument's scale); comments (the plain-language statement). The second table compares the
models. Data columns of ``sof.csv``: the outcome (label and direction from the evidence set), studies and participants by
design, the effect of each default model (``bias_adjusted`` the headline, ``naive`` and
``rct_only`` beside it) on its analysis scale (SMD or log odds ratio, positive = benefit) and
on the reporting instrument's scale, P(benefit) and P(> MCID); for a harm endpoint the risk
per 1,000 procedures and the risk difference per 1,000; and notes on risk of bias,
inconsistency (tau) and sensitivity (tipping point and the range of P(benefit) over the sweep).
Every number is read from the run's ``summary.json`` files unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ccsvi_bayes.figures import design_label, knob_label, model_label, plain_text
from ccsvi_bayes.results import (
    EFFICACY,
    EFFICACY_MODELS,
    HARM,
    RunFolder,
    files,
    format_number,
    format_with_mcse,
    inert_cell,
    significant,
    write_atomic,
)

__all__ = [
    "CERTAINTY_MARKS",
    "SOF_MODELS",
    "design_counts",
    "findings_by_outcome",
    "fmt",
    "summary_of_findings",
    "write_sof",
    "write_sof_csv",
    "write_sof_html",
]

#: the efficacy models of the table, headline first
SOF_MODELS = EFFICACY_MODELS

#: GRADE's symbols for the certainty of the evidence
CERTAINTY_MARKS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}

_SCALE_WORDS = {
    "smd": "SMD",
    "md": "mean difference",
    "log_odds": "log odds ratio",
    "log_rr": "log risk ratio",
}


def fmt(value: Any, digits: int = 2) -> str:
    """A number for a table cell: fixed ``digits`` decimals, "–" for missing; a nonzero
    value that would round to 0 keeps one significant digit (0.049 → "0.05", not "0.00").
    Numbers with a Monte Carlo standard error go through
    :func:`~ccsvi_bayes.results.numbers.format_with_mcse` instead."""
    if value is None:
        return "–"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "–"
    text = f"{x:.{digits}f}"
    if x != 0 and float(text) == 0:
        return significant(x, 1)
    return text.replace("-", "−")


def _num(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x


# --- studies and participants ---------------------------------------------------------------
def _study_designs(run: RunFolder, outcome: str) -> dict[str, str]:
    """study id -> design of every study entering ``outcome`` in any of its fits (the union
    over models; the evidence arms and contrasts when no fit lists its studies)."""
    designs: dict[str, str] = {}
    for model in run.models_of(outcome):
        doc = run.summary(model, outcome)
        for st in (doc or {}).get("studies") or []:
            if isinstance(st, dict) and st.get("study_id"):
                designs.setdefault(str(st["study_id"]), str(st.get("design", "unknown")))
    ev = run.evidence
    if not designs and ev is not None:
        ids = list(ev.arms.loc[ev.arms["outcome"] == outcome, "study_id"])
        ids += list(ev.contrasts.loc[ev.contrasts["outcome"] == outcome, "study_id"])
        for sid in dict.fromkeys(ids):
            rows = ev.studies[ev.studies["study_id"] == sid]
            designs[sid] = str(rows["design"].iloc[0]) if len(rows) else "unknown"
    return designs


def _participants(run: RunFolder, outcome: str, study_id: str) -> float:
    """Participants of one study in ``outcome``: the arms' n summed at one instrument and
    timepoint (the largest such total); a harm fit's own arm counts first. NaN: unknown."""
    for model in run.models_of(outcome):
        for st in (run.summary(model, outcome) or {}).get("studies") or []:
            if isinstance(st, dict) and st.get("study_id") == study_id:
                arms = st.get("arms")
                if isinstance(arms, Mapping):
                    ns = [_num(a.get("n")) for a in arms.values() if isinstance(a, Mapping)]
                    if ns and all(math.isfinite(n) for n in ns):
                        return float(sum(ns))
    ev = run.evidence
    if ev is None:
        return math.nan
    rows = ev.arms[(ev.arms["study_id"] == study_id) & (ev.arms["outcome"] == outcome)]
    if rows.empty:  # a contrast-only study: its n_treatment + n_control, when given
        con = ev.contrasts[
            (ev.contrasts["study_id"] == study_id) & (ev.contrasts["outcome"] == outcome)
        ]
        total = con["n_treatment"] + con["n_control"]
        return float(total.max()) if total.notna().any() else math.nan
    totals = rows.groupby(["instrument", "timepoint_weeks"], dropna=False)["n"].sum(min_count=1)
    return float(totals.max()) if totals.notna().any() else math.nan


def design_counts(run: RunFolder, outcome: str) -> list[dict[str, Any]]:
    """Per design: ``{"design", "studies", "participants", "unknown_n"}`` (participants sum
    the known counts; ``unknown_n`` studies had none)."""
    by: dict[str, dict[str, Any]] = {}
    for sid, design in _study_designs(run, outcome).items():
        entry = by.setdefault(
            design, {"design": design, "studies": 0, "participants": 0.0, "unknown_n": 0}
        )
        entry["studies"] += 1
        n = _participants(run, outcome, sid)
        if math.isfinite(n):
            entry["participants"] += n
        else:
            entry["unknown_n"] += 1
    order = ("rct", "cohort", "case_control", "single_arm", "survey")
    return sorted(
        by.values(), key=lambda e: order.index(e["design"]) if e["design"] in order else 99
    )


def _design_text(counts: list[dict[str, Any]]) -> str:
    words = {"rct": "RCT", "single_arm": "single-arm", "case_control": "case-control"}
    parts = []
    for e in counts:
        n = _n_text(e, "n={:,}", "; n unknown for {}")
        parts.append(f"{e['studies']} {words.get(e['design'], e['design'])} ({n})")
    return "; ".join(parts) if parts else "no studies"


def _n_text(entry: Mapping[str, Any], known: str, partly: str) -> str:
    """The participants of one design's :func:`design_counts` entry: "n unknown" when no
    study gave its n, else ``known`` formatted with the sum, then ``partly`` with the number
    of studies without an n, if any."""
    if entry["unknown_n"] == entry["studies"]:
        return "n unknown"
    text = known.format(int(entry["participants"]))
    return text + partly.format(entry["unknown_n"]) if entry["unknown_n"] else text


def _risk_of_bias_note(run: RunFolder, outcome: str) -> str:
    """Share of participants from non-randomized or unblinded studies."""
    ev = run.evidence
    if ev is None:
        return "not assessed: evidence set not found"
    total = nonrand = unblind = 0.0
    for sid in _study_designs(run, outcome):
        n = _participants(run, outcome, sid)
        if not math.isfinite(n):
            continue
        rows = ev.studies[ev.studies["study_id"] == sid]
        if rows.empty:
            continue
        row = rows.iloc[0]
        total += n
        nonrand += n if not bool(row["randomized"]) else 0.0
        unblind += n if str(row["blinding"]) == "none" else 0.0
    if total <= 0:
        return "participant counts unknown"
    return (
        f"{100 * nonrand / total:.0f}% of participants from non-randomized studies; "
        f"{100 * unblind / total:.0f}% from unblinded studies"
    )


def _inconsistency_note(doc: Mapping[str, Any] | None, scale: str) -> str:
    tau = ((doc or {}).get("heterogeneity") or {}).get("tau")
    if not isinstance(tau, Mapping):
        return "not estimated"
    return (
        f"between-study SD τ {format_number(tau, 'mean')} "
        f"(95% CrI {format_number(tau, 'q025')} to {format_number(tau, 'q975')}) on the "
        f"{_SCALE_WORDS.get(scale, scale)} scale"
    )


def _sensitivity_note(run: RunFolder, outcome: str) -> str:
    """The sensitivity result in one plain sentence: over which values of the knob (named by
    the labeller) P(benefit) moved how far, and where it crosses 0.5 (tipping point)."""
    if run.sweep_folder(outcome) is None:
        return "not run"
    tip = run.tipping(outcome) or {}
    key = tip.get("key") or run.sweep_record(outcome).get("panel_key")
    knob = knob_label(str(key)) if key else "the assumptions varied"
    parts: list[str] = []
    frame = run.scenarios(outcome)
    if frame is not None and "prob_benefit" in frame:
        ok = frame[frame.get("status", pd.Series("done", index=frame.index)) == "done"]
        pb = pd.to_numeric(ok["prob_benefit"], errors="coerce").dropna()
        if len(pb):
            parts.append(
                f"P(benefit) ranges {fmt(pb.min())} to {fmt(pb.max())} over {len(pb)} "
                "scenarios of the sensitivity analysis"
            )
    rng = tip.get("range")
    span = ""
    if isinstance(rng, list) and len(rng) == 2:
        span = f" (tested from {fmt(rng[0])} to {fmt(rng[1])})"
    for c in tip.get("crossings") or []:
        if not (isinstance(c, Mapping) and c.get("threshold") == "0" and c.get("target") == 0.5):
            continue
        if c.get("crossed") and c.get("value") is not None:
            lo, hi = _num(c.get("probability_at_lo")), _num(c.get("probability_at_hi"))
            side = ""
            if math.isfinite(lo) and math.isfinite(hi):
                side = " below" if lo > hi else " above"
            parts.append(
                f"benefit is more likely than not only if the {knob}{span} is{side} "
                f"{fmt(c['value'])}"
                if side
                else f"P(benefit) crosses 0.5 at {fmt(c['value'])}"
            )
        elif c.get("crossed") is False:
            lo = _num(c.get("probability_at_lo"))
            where = " below" if math.isfinite(lo) and lo < 0.5 else " above"
            if not math.isfinite(lo):
                where = " on one side of"
            parts.append(f"P(benefit) stays{where} 0.5 over the {knob}{span}")
    if frame is not None:
        failed = int((frame.get("status", pd.Series(dtype=str)) != "done").sum())
        if failed:
            parts.append(f"{failed} scenario(s) not done")
    return "; ".join(parts) + "." if parts else "sweep folder without results"


# --- the table --------------------------------------------------------------------------
def summary_of_findings(run_dir: str | Path | RunFolder) -> pd.DataFrame:
    """The summary-of-findings table of a run folder (one row per outcome, in the evidence
    set's order). Missing fits leave their cells empty and their ``<model>_status`` says why."""
    run = run_dir if isinstance(run_dir, RunFolder) else RunFolder.open(run_dir)
    rows = [_row(run, outcome) for outcome in run.outcomes()]
    return pd.DataFrame(rows)


def _domain_info(run: RunFolder, outcome: str) -> dict[str, Any]:
    ev = run.evidence
    label, scale, mcid, instrument, direction, measure = outcome, "", None, "", "", ""
    if ev is not None and outcome in ev.domains:
        d = ev.domains[outcome]
        label, scale, mcid, instrument = d.label, d.scale, d.mcid, d.reporting_instrument
    for model in run.models_of(outcome):
        doc = run.summary(model, outcome)
        if doc:
            label = str(doc.get("outcome_label") or label)
            direction = str(doc.get("direction") or direction)
            eff = doc.get("effect") or {}
            scale = str(eff.get("scale") or scale)
            if mcid is None and eff.get("mcid") is not None:
                mcid = eff.get("mcid")
            inst_block = eff.get("instrument_scale") or {}
            instrument = str(inst_block.get("instrument") or instrument)
            measure = str(inst_block.get("measure") or measure)
            break
    return {
        "label": label,
        "scale": scale,
        "mcid": mcid,
        "instrument": instrument,
        "direction": direction,
        "measure": measure,
    }


def _status(run: RunFolder, model: str, outcome: str) -> str:
    rec = run.fit_record(model, outcome)
    doc = run.summary(model, outcome)
    if doc is None:
        if rec is not None and rec.get("status") == "skipped":
            return f"skipped: {rec.get('reason', 'no reason recorded')}"
        return "not run" if rec is None else f"{rec.get('status', 'no result')} (no summary.json)"
    conv = (doc.get("diagnostics") or {}).get("converged")
    return "fitted" if conv is not False else "fitted, NOT converged"


def _row(run: RunFolder, outcome: str) -> dict[str, Any]:
    info = _domain_info(run, outcome)
    counts = design_counts(run, outcome)
    harm = run.is_harm(outcome)
    headline = run.headline_model(outcome)
    row: dict[str, Any] = {
        "outcome": outcome,
        "outcome_label": info["label"],
        "kind": (HARM if harm else EFFICACY).name,
        "studies_by_design": _design_text(counts),
        "studies": sum(e["studies"] for e in counts),
        "participants": sum(e["participants"] for e in counts),
        "scale": info["scale"],
        "instrument": info["instrument"],
        "instrument_measure": info["measure"],
        "mcid": info["mcid"],
        "direction": info["direction"],
        "headline_model": headline or "",
    }
    if harm:
        model = headline or outcome
        doc = run.summary(model, outcome) or {}
        row["harm_model"] = model
        row["harm_status"] = _status(run, model, outcome)
        rt = doc.get("risk_treatment_per_1000") or {}
        rd = doc.get("risk_difference_per_1000") or {}
        for prefix, block in (("risk_treatment_per_1000", rt), ("rd_per_1000", rd)):
            for stat in ("mean", "q025", "q975"):
                row[f"{prefix}_{stat}"] = block.get(stat)
                row[f"{prefix}_{stat}_mcse"] = _mcse(block, stat)
        for name in ("prob_harm", "prob_rd_gt_1pct"):
            row[name] = doc.get(name)
            row[f"{name}_mcse"] = _mcse(doc, name)
        row["notes_inconsistency"] = _inconsistency_note(doc or None, "log_odds")
    else:
        for model in SOF_MODELS:
            doc = run.summary(model, outcome) or {}
            eff = doc.get("effect") or {}
            inst = eff.get("instrument_scale") or {}
            row[f"{model}_status"] = _status(run, model, outcome)
            for stat in ("mean", "q025", "q975"):
                row[f"{model}_effect_{stat}"] = eff.get(stat)
                row[f"{model}_effect_{stat}_mcse"] = _mcse(eff, stat)
            # a ratio (odds or risk ratio) is summarised by its median, never its mean
            for stat in ("mean", "median", "q025", "q975"):
                row[f"{model}_instrument_{stat}"] = inst.get(stat)
                row[f"{model}_instrument_{stat}_mcse"] = _mcse(inst, stat)
            for name in ("prob_benefit", "prob_mcid"):
                row[f"{model}_{name}"] = eff.get(name)
                row[f"{model}_{name}_mcse"] = _mcse(eff, name)
        row["notes_inconsistency"] = _inconsistency_note(
            run.summary(headline, outcome) if headline else None, info["scale"]
        )
    row["notes_risk_of_bias"] = _risk_of_bias_note(run, outcome)
    row["notes_sensitivity"] = _sensitivity_note(run, outcome)
    row["participants_by_design"] = _participants_text(counts)
    row.update(_grade_columns(run, outcome, headline, harm))
    return row


# --- the GRADEpro columns ---------------------------------------------------------------
def findings_by_outcome(run: RunFolder) -> dict[str, dict[str, Any]]:
    """``findings.json`` of the run (the certainty stage) by outcome; {} for a run folder
    written before it existed (its table says "not assessed")."""
    document = run.document(files.FINDINGS) or {}
    out: dict[str, dict[str, Any]] = {}
    items = document.get("outcomes")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("outcome"), str):
            out[str(item["outcome"])] = dict(item)
    return out


_PLURAL = {"rct": "randomized trials", "survey": "surveys"}
_SINGULAR = {"rct": "randomized trial", "survey": "survey"}


def _participants_text(counts: list[dict[str, Any]]) -> str:
    """GRADEpro's "№ of participants (studies)" per design: "219 (2 randomized trials)"."""
    parts = []
    for e in counts:
        word = _PLURAL.get(e["design"], design_label(e["design"]) + " studies")
        if e["studies"] == 1:
            word = _SINGULAR.get(e["design"], design_label(e["design"]) + " study")
        n = _n_text(e, "{:,}", " (n unknown for {})")
        parts.append(f"{n} ({e['studies']} {word})")
    return "; ".join(parts) if parts else "no studies"


def _reason_text(downgrade: Mapping[str, Any]) -> str:
    domain = str(downgrade.get("domain", "")).replace("_", " ")
    levels = downgrade.get("levels")
    reason = plain_text(str(downgrade.get("reason", "")))
    return f"{domain.capitalize()}, rated down {levels} level(s): {reason}"


def _grade_columns(
    run: RunFolder, outcome: str, headline: str | None, harm: bool
) -> dict[str, Any]:
    """Certainty, relative and absolute effects and the statement of one outcome."""
    item = findings_by_outcome(run).get(outcome) or {}
    certainty = item.get("certainty")
    if certainty not in CERTAINTY_MARKS:  # only GRADE's four levels are shown as a rating
        certainty = "not assessed"
    downgrades = item.get("downgrades")
    reasons = [
        _reason_text(d)
        for d in (downgrades if isinstance(downgrades, list) else [])
        if isinstance(d, Mapping) and d.get("levels")
    ]
    cols: dict[str, Any] = {
        "certainty": certainty,
        "certainty_reasons": " | ".join(reasons),
        "statement": str(item.get("statement") or ""),
    }
    doc = run.summary(headline or outcome, outcome) or {}
    effect: Mapping[str, Any] = item["effect"] if isinstance(item.get("effect"), Mapping) else {}
    rel: Mapping[str, Any] = {}
    measure = ""
    sign = 1.0
    if harm:
        rel = doc.get("odds_ratio") or {}
        if rel.get("median") is None:  # a summary written before ratios had medians
            rel = _ratio_block(doc.get("log_odds_ratio") or {}, {}, 1.0)
        measure = "OR" if rel else ""
    else:
        eff = doc.get("effect") or {}
        inst = eff.get("instrument_scale") or {}
        if str(eff.get("scale")) in ("log_odds", "log_rr"):
            measure = "OR" if eff.get("scale") == "log_odds" else "RR"
            sign = -1.0 if "below 1 = benefit" in str(inst.get("measure", "")) else 1.0
            rel = _ratio_block(eff, inst, sign)
    for stat in ("median", "q025", "q975"):
        cols[f"relative_{stat}"] = rel.get(stat) if measure else None
        cols[f"relative_{stat}_mcse"] = _mcse(rel, stat) if measure else None
    cols["relative_measure"] = measure
    # anticipated absolute effects
    cols["control_per_1000"] = effect.get("control_per_1000") if effect else None
    binary = harm or bool(measure)
    for stat in ("median", "q025", "q975"):
        cols[f"difference_per_1000_{stat}"] = None
        cols[f"difference_per_1000_{stat}_mcse"] = None
        cols[f"mean_difference_{stat}"] = None
        cols[f"mean_difference_{stat}_mcse"] = None
    if binary and effect and effect.get("median") is not None:
        # findings: positive = benefit for efficacy (events of a harmful outcome have sign -1),
        # positive = more harm for harms; the table shows the difference in events
        flip = sign < 0 and not harm
        names = {
            "median": "median",
            "q025": "q975" if flip else "q025",
            "q975": "q025" if flip else "q975",
        }
        for stat, source in names.items():
            value = _num(effect.get(source))
            cols[f"difference_per_1000_{stat}"] = -value if flip else value
            cols[f"difference_per_1000_{stat}_mcse"] = _mcse(effect, source)
    elif harm:
        rd = doc.get("risk_difference_per_1000") or {}
        rc = doc.get("risk_control") or {}
        if rc.get("mean") is not None:
            cols["control_per_1000"] = 1000 * _num(rc.get("mean"))
        for stat, source in (("median", "mean"), ("q025", "q025"), ("q975", "q975")):
            cols[f"difference_per_1000_{stat}"] = rd.get(source)
            cols[f"difference_per_1000_{stat}_mcse"] = _mcse(rd, source)
    if not binary:
        inst = (doc.get("effect") or {}).get("instrument_scale") or {}
        sd = _num(inst.get("reference_sd"))
        eff_mcse = (doc.get("effect") or {}).get("mcse") or {}
        for stat, source in (("median", "mean"), ("q025", "q025"), ("q975", "q975")):
            cols[f"mean_difference_{stat}"] = inst.get(source)
            se = _mcse(inst, source)
            if se is None and math.isfinite(sd) and eff_mcse.get(source) is not None:
                se = sd * float(eff_mcse[source])
            cols[f"mean_difference_{stat}_mcse"] = se
    return cols


def _ratio_block(eff: Mapping[str, Any], inst: Mapping[str, Any], sign: float) -> dict[str, Any]:
    """The odds (risk) ratio, treatment vs control, by its median and 95% CrI: the summary's
    ratio block, or exp(±effect) of the log-scale median and quantiles (a monotone transform
    keeps quantiles) with the MCSE carried through the exponential."""
    if inst.get("median") is not None:
        return dict(inst)
    out: dict[str, Any] = {"mcse": {}}
    names = {
        "median": "median",
        "q025": "q975" if sign < 0 else "q025",
        "q975": "q025" if sign < 0 else "q975",
    }
    for stat, source in names.items():
        x = _num(eff.get(source))
        if not math.isfinite(x):
            return {}
        value = math.exp(sign * x)
        out[stat] = value
        se = _mcse(eff, source)
        out["mcse"][stat] = value * float(se) if se is not None else None
    return out


def _mcse(block: Mapping[str, Any], key: str) -> Any:
    """The Monte Carlo standard error of ``block[key]`` (``block["mcse"][key]``), or None."""
    mc = block.get("mcse") if isinstance(block, Mapping) else None
    return mc.get(key) if isinstance(mc, Mapping) else None


# --- writers ----------------------------------------------------------------------------
def write_sof_csv(table: pd.DataFrame, path: Path) -> Path:
    """``sof.csv`` (atomic). Text cells a spreadsheet would evaluate (``=``, ``+``, ``-``,
    ``@``, tab or line break first) are neutralised by a leading apostrophe; numbers stay
    numbers (:func:`~ccsvi_bayes.results.numbers.inert_cell`)."""
    text = table.map(inert_cell).to_csv(index=False)
    write_atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return Path(path)


def sof_cells(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table as display rows (text cells) for the HTML table and the report. Each row's
    ``grade`` holds the GRADEpro cells; footnote numbers run over the whole table."""
    out: list[dict[str, Any]] = []
    footnote = 0
    for rec in table.to_dict(orient="records"):
        grade = _grade_cells(rec, footnote)
        footnote += len(grade["footnotes"])
        scale_word = _SCALE_WORDS.get(str(rec.get("scale")), str(rec.get("scale") or ""))
        cell: dict[str, Any] = {
            "outcome": rec["outcome"],
            "label": rec["outcome_label"],
            "kind": rec["kind"],
            "studies": rec["studies_by_design"],
            "direction": rec.get("direction") or "",
            "measure": rec.get("instrument_measure") or "",
            "notes_risk_of_bias": rec["notes_risk_of_bias"],
            "notes_inconsistency": rec["notes_inconsistency"],
            "notes_sensitivity": rec["notes_sensitivity"],
            "grade": grade,
            "models": [],
        }
        if rec["kind"] == HARM.name:
            cell["harm_status"] = rec.get("harm_status", "")
            cell["risk"] = _mc_interval(rec, "risk_treatment_per_1000", "mean")
            cell["rd"] = _mc_interval(rec, "rd_per_1000", "mean")
            cell["prob_harm"] = _mc(rec, "prob_harm")
            cell["prob_rd_gt_1pct"] = _mc(rec, "prob_rd_gt_1pct")
        else:
            ratio = str(rec.get("scale")) in ("log_odds", "log_rr")
            mcid = _clean(rec.get("mcid"))
            cell["mcid"] = (
                f"{fmt(mcid, 2)} {rec.get('instrument') or ''} points".strip()
                if mcid is not None
                else "no MCID set"
            )
            for model in SOF_MODELS:
                cell["models"].append(
                    {
                        "model": model,
                        "model_label": model_label(model),
                        "status": rec.get(f"{model}_status", "not run"),
                        "effect": _mc_interval(rec, f"{model}_effect", "mean"),
                        "scale": scale_word,
                        "instrument": _mc_interval(
                            rec,
                            f"{model}_instrument",
                            "median" if ratio else "mean",
                        ),
                        "instrument_name": rec.get("instrument") or "",
                        "prob_benefit": _mc(rec, f"{model}_prob_benefit"),
                        "prob_mcid": _mc(rec, f"{model}_prob_mcid"),
                    }
                )
        out.append(cell)
    return out


def _grade_cells(rec: Mapping[Any, Any], footnote: int) -> dict[str, Any]:
    """The GRADEpro cells of one row; footnotes numbered from ``footnote + 1``."""
    certainty = str(rec.get("certainty") or "not assessed")
    reasons = [r for r in str(_clean(rec.get("certainty_reasons")) or "").split(" | ") if r]
    notes = [{"n": footnote + i + 1, "text": r} for i, r in enumerate(reasons)]
    measure = str(_clean(rec.get("relative_measure")) or "")
    relative = "–"
    if measure and _clean(rec.get("relative_median")) is not None:
        relative = f"{measure} {_mc_interval(rec, 'relative', 'median')}"
    absolute: list[str] = []
    control = _clean(rec.get("control_per_1000"))
    harm = rec.get("kind") == HARM.name
    if _clean(rec.get("difference_per_1000_median")) is not None:
        if control is not None:
            absolute.append(f"Risk with control: {significant(control, 2)} per 1,000")
        mid, lo, hi = (
            _signed_count(rec, f"difference_per_1000_{s}") for s in ("median", "q025", "q975")
        )
        absolute.append(f"Difference: {mid} per 1,000 ({lo} to {hi})")
    elif _clean(rec.get("mean_difference_median")) is not None:
        text = _mc_interval(rec, "mean_difference", "median")
        instrument = str(_clean(rec.get("instrument")) or "").strip()
        absolute.append(
            f"Mean difference {text}{' ' + instrument if instrument else ''} points "
            "(positive = improvement)"
        )
    else:
        absolute.append("–")
    return {
        "participants": str(_clean(rec.get("participants_by_design")) or "no studies"),
        "certainty": certainty,
        "marks": CERTAINTY_MARKS.get(certainty, ""),
        "footnotes": notes,
        "relative": relative,
        "absolute": absolute,
        "absolute_note": (
            "positive = more events with the intervention" if harm or measure else ""
        ),
        "comment": str(_clean(rec.get("statement")) or ""),
    }


def _signed_count(rec: Mapping[Any, Any], column: str) -> str:
    """A difference per 1,000 in words: "12 more", "3 fewer" (digits its MCSE supports)."""
    value = _clean(rec.get(column))
    if value is None:
        return "–"
    x = float(value)
    text = format_with_mcse(abs(x), _clean(rec.get(f"{column}_mcse")))
    if text == "0":
        return "0"
    return f"{text} {'more' if x > 0 else 'fewer'}"


def _mc(rec: Mapping[Any, Any], column: str) -> str:
    """The number of ``column`` with no more digits than its ``<column>_mcse`` supports."""
    return format_with_mcse(_clean(rec.get(column)), _clean(rec.get(f"{column}_mcse")))


def _mc_interval(rec: Mapping[Any, Any], prefix: str, point: str) -> str:
    """``point (q025 to q975)`` of the columns ``<prefix>_<stat>``, each number with the
    digits its MCSE supports (limits never rounded to 0); "–" when the point is missing."""
    if _clean(rec.get(f"{prefix}_{point}")) is None:
        return "–"
    lo, mid, hi = (_mc(rec, f"{prefix}_{stat}") for stat in ("q025", point, "q975"))
    return f"{mid} ({lo} to {hi})"


def _clean(value: Any) -> Any:
    """None for a missing or NaN cell (pandas gives NaN for absent numbers)."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_sof_html(table: pd.DataFrame, path: Path, title: str = "Summary of findings") -> Path:
    """``sof.html``: the table alone as a self-contained page (atomic)."""
    from ccsvi_bayes.report.jinja import environment

    text = environment().get_template("sof_page.html.j2").render(title=title, rows=sof_cells(table))
    write_atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return Path(path)


def write_sof(run_dir: str | Path | RunFolder) -> tuple[Path, Path]:
    """Write ``OUT/sof.csv`` and ``OUT/sof.html``; returns their paths."""
    run = run_dir if isinstance(run_dir, RunFolder) else RunFolder.open(run_dir)
    table = summary_of_findings(run)
    title = "Summary of findings"
    if run.evidence is not None:
        title += f": {run.evidence.question}"
    return (
        write_sof_csv(table, run.path / files.SOF_CSV),
        write_sof_html(table, run.path / files.SOF_HTML, title),
    )
