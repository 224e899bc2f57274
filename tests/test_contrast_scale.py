"""Contrasts and arms on one scale (issue 21, item 3).

Five sham-controlled trials (18 + 18 patients each) entered twice: as arm-level changes, and
as between-arm SMDs standardized by each trial's own pooled SD of change. With the trial's SD
given (``sd_pooled``) the SMD is put on the instrument's reference SD, the SD that
standardizes the arm rows and the MCID, so both entries give the same effects and the same
P(effect > MCID). Without it the SMD stays on its own SD, and the harmonized rows and the
fit's notes say so. Contrast rows carry their n: 180 participants either way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ccsvi_bayes.errors import InvalidEvidence
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.harmonize import harmonize
from ccsvi_bayes.results.summaries import outcome_overview
from tests.test_data_validation import run_main

N = 18
#: (mean change treatment, SD, mean change control, SD), instrument points
TRIALS = [(6.0, 9.0, 2.0, 8.0), (4.0, 10.0, 3.0, 9.5), (7.5, 8.0, 1.0, 8.5)]
TRIALS += [(2.0, 7.0, 2.5, 7.5), (5.0, 9.0, 1.5, 10.0)]
REFERENCE_SD = 20.0  # the instrument's baseline SD: larger than the SDs of change
PROV = "Example 2024,Table 2,as typed,"

TOML = """name = "scale"
question = "same trials, two entries"
[domains.qol]
label = "Quality of life"
scale = "smd"
instruments = ["Q"]
mcid = 5.0
"""
STUDIES = "study_id,label,year,design,randomized,blinding,control,prospective,centres,"
STUDIES += "follow_up_weeks,outcome_assessment,citation,source,notes\n"
ARMS_HEADER = "study_id,outcome,instrument,arm,timepoint_weeks,n,mean_change,sd_change,events,"
ARMS_HEADER += "source,location,quote,assumption\n"
CON_HEADER = "study_id,outcome,instrument,timepoint_weeks,measure,estimate,se,ci_low,ci_high,"
CON_HEADER += "source,location,quote,assumption,n_treatment,n_control,sd_pooled\n"


def pooled(sd_t: float, sd_c: float) -> float:
    return math.sqrt(((N - 1) * sd_t**2 + (N - 1) * sd_c**2) / (2 * N - 2))


def folder(tmp_path: Path, kind: str, *, sd_pooled: bool = True) -> Path:
    """The five trials as ``arms`` or as SMD ``contrasts`` (with or without sd_pooled)."""
    root = tmp_path / f"{kind}_{sd_pooled}"
    root.mkdir()
    (root / "evidence.toml").write_text(TOML)
    studies, arms, cons = STUDIES, ARMS_HEADER, CON_HEADER
    for i, (mt, st, mc, sc) in enumerate(TRIALS, start=1):
        studies += f"R{i},Trial {i},2020,rct,true,double,sham,true,2,26,patient_reported,,src,\n"
        arms += f"R{i},qol,Q,treatment,26,{N},{mt},{st},,{PROV}\n"
        arms += f"R{i},qol,Q,control,26,{N},{mc},{sc},,{PROV}\n"
        sd = pooled(st, sc)
        smd, se = (mt - mc) / sd, math.sqrt(st**2 / N + sc**2 / N) / sd
        own = repr(sd) if sd_pooled else ""
        cons += f"R{i},qol,Q,26,smd,{smd!r},{se!r},,,{PROV},{N},{N},{own}\n"
    (root / "studies.csv").write_text(studies)
    (root / "arms.csv").write_text(arms if kind == "arms" else ARMS_HEADER)
    (root / "contrasts.csv").write_text(cons if kind == "contrasts" else CON_HEADER)
    inst = "instrument,kind,higher_is_better,scale_min,scale_max,reference_sd,mcid,mcid_source\n"
    (root / "instruments.csv").write_text(inst + f"Q,continuous,true,0,100,{REFERENCE_SD},5,x\n")
    return root


def arm_effects(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Harmonized arm rows: treatment minus control per study, and its SE."""
    t = rows[rows["arm"] == "treatment"].set_index("study_id")
    c = rows[rows["arm"] == "control"].set_index("study_id")
    return (t["y"] - c["y"]).to_numpy(), np.hypot(t["se"], c["se"]).to_numpy()


def test_smd_contrasts_with_their_sd_are_on_the_reference_sd_of_the_arms(tmp_path: Path) -> None:
    arms = harmonize(load_evidence(folder(tmp_path, "arms")), "qol")
    cons = harmonize(load_evidence(folder(tmp_path, "contrasts")), "qol")
    y_arms, se_arms = arm_effects(arms)
    np.testing.assert_allclose(cons["y"], y_arms, rtol=1e-12)
    np.testing.assert_allclose(cons["se"], se_arms, rtol=1e-12)
    expected = [(mt - mc) / REFERENCE_SD for mt, _, mc, _ in TRIALS]
    np.testing.assert_allclose(cons["y"], expected, rtol=1e-12)
    assert "reference SD 20" in cons["harmonization"].iloc[0]
    assert cons.attrs["warnings"] == []


def test_both_entries_give_the_same_probability_above_the_mcid(tmp_path: Path) -> None:
    sets = ["--set", "priors.tau.sigma=0.5", "--set", "likelihood=contrast"]
    probs = []
    for kind in ("arms", "contrasts"):
        out = tmp_path / f"fit_{kind}"
        args = ["fit", "--model", "naive", "--outcome", "qol", "--engine", "exact"]
        args += ["--evidence", str(folder(tmp_path, kind)), *sets, "--out", str(out)]
        assert run_main(*args) == 0
        effect = json.loads((out / "summary.json").read_text())["effect"]
        assert effect["mcid_standardized"] == pytest.approx(5.0 / REFERENCE_SD)
        probs.append((effect["median"], effect["prob_mcid"]))
    assert probs[0][0] == pytest.approx(probs[1][0], rel=1e-9)
    assert probs[0][1] == pytest.approx(probs[1][1], abs=1e-9)


def test_smd_without_its_sd_stays_on_its_own_sd_with_a_warning(tmp_path: Path) -> None:
    ev = load_evidence(folder(tmp_path, "contrasts", sd_pooled=False))
    rows = harmonize(ev, "qol")
    np.testing.assert_allclose(rows["y"], ev.contrasts["estimate"], rtol=1e-12)
    warnings = rows.attrs["warnings"]
    assert len(warnings) == 5
    assert warnings[0].startswith("R1: SMD as reported, on the study's own SD, not on the ")
    assert "reference SD 20" in warnings[0]
    assert "give sd_pooled" in warnings[0]
    assert "contrasts.csv line 2" in warnings[0]
    out = tmp_path / "fit"
    args = ["fit", "--model", "naive", "--outcome", "qol", "--engine", "exact"]
    assert run_main(*args, "--evidence", str(ev.path), "--out", str(out)) == 0
    notes = json.loads((out / "summary.json").read_text())["notes"]
    assert any("R3: SMD as reported, on the study's own SD" in n for n in notes), notes


def test_contrast_rows_count_their_participants(tmp_path: Path) -> None:
    for kind in ("arms", "contrasts"):
        overview = outcome_overview(load_evidence(folder(tmp_path, kind)))
        assert overview.loc[0, "participants"] == "180", kind
        assert overview.loc[0, "studies"] == 5


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("n_treatment", "18.5", "column 'n_treatment': not a whole number"),
        ("n_control", "0", "column 'n_control': must be > 0: got 0"),
        ("sd_pooled", "-1", "column 'sd_pooled': must be > 0: got -1"),
        ("measure", "md", "column 'sd_pooled': sd_pooled is the SD an smd estimate was"),
    ],
)
def test_new_contrast_columns_are_validated(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    root = folder(tmp_path, "contrasts")
    path = root / "contrasts.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index(column)] = value
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(InvalidEvidence) as info:
        load_evidence(root)
    found = [str(p) for p in info.value.problems]
    assert any(f"contrasts.csv, line 2, {reason}" in p for p in found), found


def test_summary_of_findings_counts_contrast_only_studies(tmp_path: Path) -> None:
    from ccsvi_bayes.report.sof import design_counts
    from ccsvi_bayes.results import RunFolder

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"schema_version": 1, "fits": []}))
    opened = RunFolder.open(run, evidence=folder(tmp_path, "contrasts"))
    counts = design_counts(opened, "qol")
    assert counts == [{"design": "rct", "studies": 5, "participants": 180.0, "unknown_n": 0}]
