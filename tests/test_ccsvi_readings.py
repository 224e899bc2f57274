"""Named readings of the CCSVI evidence set added in issue 10 (item 9, evidence curation).

Every ambiguity of ``../shared/evidence.md`` that changes a number is a switch of
``alternatives.toml``; each option loads, validates, and changes exactly the harmonized rows
it should. The defaults reproduce the data as it was before issue 10 except for the two fixes
the review asked for (the Rush death counted, evidence.md §8.14; the Italian-survey EDSS change
given wide uncertainty, §8.16).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

from ccsvi_bayes.cli import app
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.harmonize import harmonize

#: switch -> (default, every option) added in issue 10
NEW_SWITCHES = {
    "ghez13_edss_uncertainty": ("wide", {"wide", "exact"}),
    "lupa13_complications": ("as_reported", {"as_reported", "exclude"}),
    "trab18_table_sign": ("raw_change", {"raw_change", "improvement"}),
    "trab18_n": ("itt_49_55", {"itt_49_55", "completers_48_55", "completers_49_54"}),
    "trab18_fss_sd": ("central", {"central", "low", "high"}),
    "brave18_denominator": ("n72", {"n72", "itt76"}),
    "sae_endpoints": (
        "two_endpoints",
        {"two_endpoints", "venoplasty_arms_only", "series_only", "trab18_saes_as_complications"},
    ),
    "beggs18_subgroup": ("rr", {"rr", "sp", "exclude"}),
    "nap20_effect": ("counts", {"counts", "or_unadjusted", "or_adjusted"}),
    "nap20_blinding": ("not_stated", {"not_stated", "assessor_blinded"}),
    "petr11_major": (
        "rupture_and_thrombosis",
        {"rupture_and_thrombosis", "all_listed", "rupture_only"},
    ),
    "alb12_inclusion": ("include", {"include", "exclude"}),
    "rush12_complications": (
        "with_death",
        {"with_death", "clots_and_bleeds", "clots_only", "respondents_89"},
    ),
}

#: the readings that give back the data as stored before issue 10
LEGACY = {"rush12_complications": "clots_and_bleeds", "ghez13_edss_uncertainty": "exact"}
_COLS = [
    "study_id",
    "outcome",
    "instrument",
    "arm",
    "timepoint_weeks",
    "n",
    "mean_change",
    "sd_change",
    "events",
    "p_value",
    "change_direction",
    "n_unit",
]
#: sha256 of arms.csv's numbers at commit f80a62d (before issue 10)
_PRE_ISSUE_10_ARMS = "628968421e2023b07fd4ae214371dba17bf61b2bfc50bdbca73060f2d0c349d1"


@pytest.fixture(scope="module")
def ev() -> Evidence:
    return load_evidence()


def load(**assume: str) -> Evidence:
    return load_evidence(assumptions=assume)


def one(frame: pd.DataFrame, study: str, arm: str = "treatment") -> pd.Series:
    rows = frame[(frame["study_id"] == study) & (frame["arm"] == arm)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def arm_row(ev: Evidence, study: str, outcome: str, arm: str = "treatment") -> pd.Series:
    return one(ev.arms[ev.arms["outcome"] == outcome], study, arm)


def _fingerprint(ev: Evidence) -> str:
    return hashlib.sha256(ev.arms[_COLS].to_csv(index=False).encode()).hexdigest()


# --- every switch is listed, every option loads and validates ----------------------------------
def test_new_switches_are_listed_with_their_defaults(ev: Evidence) -> None:
    for sid, (default, options) in NEW_SWITCHES.items():
        assert sid in ev.alternatives, sid
        alt = ev.alternatives[sid]
        assert alt.default == default, sid
        assert set(alt.options) == options, sid
        assert ev.assumptions[sid] == default
        assert alt.description, sid
        assert all(o.description for o in alt.options.values()), sid


@pytest.mark.parametrize("sid", sorted(NEW_SWITCHES))
def test_every_option_validates_from_the_cli(sid: str) -> None:
    runner = CliRunner()
    for oid in sorted(NEW_SWITCHES[sid][1]):
        result = runner.invoke(app, ["validate", "--assume", f"{sid}={oid}"])
        assert result.exit_code == 0, (sid, oid, result.output)
        assert "valid evidence set" in result.output


def test_unknown_option_names_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_data_validation import run_main

    assert run_main("validate", "--assume", "trab18_table_sign=flipped") == 2
    err = capsys.readouterr().err
    assert "trab18_table_sign" in err
    assert "raw_change, improvement" in err


# --- the defaults: today's data except the two required fixes ----------------------------------
def test_legacy_readings_reproduce_the_data_before_issue_10() -> None:
    assert _fingerprint(load(**LEGACY)) == _PRE_ISSUE_10_ARMS


def test_defaults_differ_only_where_a_fix_was_required(ev: Evidence) -> None:
    legacy = load(**LEGACY)
    key = ["study_id", "outcome", "instrument", "arm"]
    a = ev.arms[[*_COLS, "se_change"]].set_index(key)
    b = legacy.arms[[*_COLS, "se_change"]].set_index(key)
    differs = ~((a == b) | (a.isna() & b.isna())).all(axis=1)
    assert sorted(a.index[differs].get_level_values("study_id")) == ["GHEZ13", "RUSH12"]


# --- §8.14: the Rush death -----------------------------------------------------------------
def test_rush_death_is_counted_with_its_quote(ev: Evidence) -> None:
    rush = arm_row(ev, "RUSH12", "complication_major")
    assert (rush["events"], rush["n"]) == (7, 94)
    assert "One died four months after the procedure for unknown reasons." in rush["quote"]
    assert "§8.14" in rush["assumption"]
    assert (
        arm_row(load(rush12_complications="clots_and_bleeds"), "RUSH12", "complication_major")[
            "events"
        ]
        == 6
    )
    assert (
        arm_row(load(rush12_complications="clots_only"), "RUSH12", "complication_major")["events"]
        == 3
    )
    r89 = arm_row(load(rush12_complications="respondents_89"), "RUSH12", "complication_major")
    assert (r89["events"], r89["n"]) == (7, 89)


# --- §8.16: the Italian-survey EDSS, ~0 with wide uncertainty ----------------------------------
def test_ghez13_edss_is_zero_with_wide_uncertainty(ev: Evidence) -> None:
    wide = harmonize(ev, "disability_edss")
    exact = harmonize(load(ghez13_edss_uncertainty="exact"), "disability_edss")
    g_wide, g_exact = one(wide, "GHEZ13"), one(exact, "GHEZ13")
    assert g_wide["y"] == 0.0
    assert g_exact["y"] == 0.0
    # SE of the mean change in EDSS points: the +-0.3 readings are its 95% limits
    assert g_wide["se"] * g_wide["sd_ref"] == pytest.approx(0.3 / norm.ppf(0.975), rel=0.01)
    assert g_exact["se"] * g_exact["sd_ref"] == pytest.approx(g_exact["sd_used"] / np.sqrt(462))
    assert g_wide["se"] > 3.5 * g_exact["se"]
    # the width is an assumed SE of the change (se_change); n stays the 462 patients quoted
    assert "se_change" in g_wide["assumption"]
    assert arm_row(ev, "GHEZ13", "disability_edss")["n"] == 462
    assert arm_row(ev, "GHEZ13", "disability_edss")["se_change"] == pytest.approx(0.153)
    # the width does not leak into the standardization of the other EDSS rows
    for arm in ("treatment", "control"):
        assert one(wide, "TRAB18", arm)["y"] == one(exact, "TRAB18", arm)["y"]
        assert one(wide, "TRAB18", arm)["sd_ref"] == one(exact, "TRAB18", arm)["sd_ref"]
    # the order switch still moves the mean, with the same width
    written = one(harmonize(load(ghez13_edss_order="as_written"), "disability_edss"), "GHEZ13")
    assert written["y"] > 0  # -0.3 on EDSS (higher = worse) is a benefit
    assert written["se"] == pytest.approx(g_wide["se"])


# --- LUPA13: a lower bound -----------------------------------------------------------------
def test_lupa13_is_a_labelled_lower_bound(ev: Evidence) -> None:
    lupa = arm_row(ev, "LUPA13", "complication_major")
    assert (lupa["events"], lupa["n"], lupa["n_unit"]) == (1, 1219, "procedures")
    assert "LOWER BOUND" in lupa["assumption"]
    out = load(lupa13_complications="exclude")
    assert "LUPA13" not in set(out.arms["study_id"])
    assert any("LUPA13" in n for n in out.notices)


# --- §8.2: raw change vs improvement ---------------------------------------------------------
def test_improvement_reading_flips_narcoms_and_edss(ev: Evidence) -> None:
    alt = load(trab18_table_sign="improvement")
    for outcome in ("pain", "disability_edss"):
        base, flipped = harmonize(ev, outcome), harmonize(alt, outcome)
        t0, t1 = one(base, "TRAB18"), one(flipped, "TRAB18")
        assert t0["raw_mean"] == -0.2
        assert t1["raw_mean"] == 0.2
        assert t0["y"] > 0 > t1["y"]  # less pain / disability vs more
        assert t1["y"] == pytest.approx(-t0["y"])
        assert t1["se"] == t0["se"]
    pain0, pain1 = harmonize(ev, "pain"), harmonize(alt, "pain")
    assert one(pain0, "TRAB18", "control")["raw_mean"] == 0.1
    assert one(pain1, "TRAB18", "control")["raw_mean"] == -0.1
    assert one(pain1, "TRAB18", "control")["y"] == pytest.approx(
        -one(pain0, "TRAB18", "control")["y"]
    )
    # higher-is-better instruments are the same under both readings
    for outcome in ("qol_physical", "qol_mental", "disability_msfc"):
        assert harmonize(ev, outcome)["y"].equals(harmonize(alt, outcome)["y"])


# --- §8.5: n 48/55 ---------------------------------------------------------------------------
def test_trab18_completers(ev: Evidence) -> None:
    for sid_opt, arm, n in (
        ("completers_48_55", "treatment", 48),
        ("completers_49_54", "control", 54),
    ):
        alt = load(trab18_n=sid_opt)
        for outcome in (
            "qol_physical",
            "qol_mental",
            "pain",
            "disability_msfc",
            "disability_edss",
            "fatigue",
        ):
            base, new = (
                one(harmonize(ev, outcome), "TRAB18", arm),
                one(harmonize(alt, outcome), "TRAB18", arm),
            )
            assert base["n"] == (49 if arm == "treatment" else 55), outcome
            assert new["n"] == n, outcome
            # in raw units the SE of the mean change is SD / sqrt(n) with the new n
            assert new["se"] * new["sd_ref"] == pytest.approx(new["raw_sd"] / np.sqrt(n)), outcome
            assert new["se"] * new["sd_ref"] > base["se"] * base["sd_ref"], outcome
        # the published count denominators stay
        assert arm_row(alt, "TRAB18", "sae_any", arm)["n"] == (49 if arm == "treatment" else 55)


# --- Traboulsee fatigue SD -------------------------------------------------------------------
def test_trab18_fss_sd_range(ev: Evidence) -> None:
    base = harmonize(ev, "fatigue")
    for oid, sd in (("low", 0.56), ("central", 1.12), ("high", 1.68)):
        frame = harmonize(load(trab18_fss_sd=oid), "fatigue")
        for arm in ("treatment", "control"):
            row, ref = one(frame, "TRAB18", arm), one(base, "TRAB18", arm)
            assert row["raw_sd"] == sd
            # raw-unit SE scales with the SD ...
            assert row["se"] * row["sd_ref"] == pytest.approx(ref["se"] * ref["sd_ref"] * sd / 1.12)
            # ... and, as FSS has no reference SD, the same SD standardizes the change
            assert row["y"] == pytest.approx(ref["y"] * 1.12 / sd)


# --- §8.8: 72 vs 76 --------------------------------------------------------------------------
def test_brave18_denominator(ev: Evidence) -> None:
    assert (arm_row(ev, "BRAVE18", "global_improvement")[["events", "n"]] == [30, 72]).all()
    itt = arm_row(load(brave18_denominator="itt76"), "BRAVE18", "global_improvement")
    assert (itt["events"], itt["n"]) == (30, 76)
    assert (
        arm_row(load(brave18_denominator="itt76"), "BRAVE18", "global_improvement", "control")["n"]
        == 39
    )


# --- §8.15: which SAEs count -------------------------------------------------------------------
def _complications(ev: Evidence) -> dict[tuple[str, str], tuple[int, int]]:
    rows = ev.arms[ev.arms["outcome"] == "complication_major"]
    return {
        (s, a): (int(e), int(n))
        for s, a, e, n in zip(rows["study_id"], rows["arm"], rows["events"], rows["n"], strict=True)
    }


def test_sae_endpoint_readings(ev: Evidence) -> None:
    base = _complications(ev)
    assert base[("TRAB18", "treatment")] == (0, 49)
    assert base[("TRAB18", "control")] == (0, 55)
    veno = _complications(load(sae_endpoints="venoplasty_arms_only"))
    assert set(base) - set(veno) == {
        ("TRAB18", "control"),
        ("BRAVE18", "control"),
        ("PREM14", "control"),
    }
    series = _complications(load(sae_endpoints="series_only"))
    assert {s for s, _ in base} - {s for s, _ in series} == {
        "TRAB18",
        "BRAVE18",
        "PREM14",
        "ZAMB12",
    }
    worst = _complications(load(sae_endpoints="trab18_saes_as_complications"))
    assert worst[("TRAB18", "treatment")] == (5, 49)
    assert worst[("TRAB18", "control")] == (1, 55)
    assert {k: v for k, v in worst.items() if k[0] != "TRAB18"} == {
        k: v for k, v in base.items() if k[0] != "TRAB18"
    }
    # sae_any is the same under every reading
    for oid in NEW_SWITCHES["sae_endpoints"][1]:
        other = load(sae_endpoints=oid)
        sae = other.arms[other.arms["outcome"] == "sae_any"][_COLS].reset_index(drop=True)
        assert sae.equals(ev.arms[ev.arms["outcome"] == "sae_any"][_COLS].reset_index(drop=True))


# --- §8.17: Beggs subgroups --------------------------------------------------------------------
def test_beggs_subgroup(ev: Evidence) -> None:
    rr = one(harmonize(ev, "fatigue"), "BEGGS18")
    sp = one(harmonize(load(beggs18_subgroup="sp"), "fatigue"), "BEGGS18")
    assert (rr["n"], sp["n"]) == (167, 74)
    assert sp["y"] > rr["y"] > 0  # the same p from fewer patients: a larger standardized change
    assert sp["y"] == pytest.approx(rr["y"] * np.sqrt(167 / 74))
    assert one(harmonize(load(beggs18_subgroup="sp"), "pain"), "BEGGS18")["n"] == 22
    gone = load(beggs18_subgroup="exclude")
    assert "BEGGS18" not in set(harmonize(gone, "fatigue")["study_id"])
    assert "BEGGS18" not in set(harmonize(gone, "pain")["study_id"])


# --- §8.20: NAP20 counts vs odds ratios ----------------------------------------------------------
def test_nap20_effect(ev: Evidence) -> None:
    base = harmonize(ev, "global_improvement")
    assert (one(base, "NAP20")[["events", "n"]] == [11, 31]).all()
    unadj = harmonize(load(nap20_effect="or_unadjusted"), "global_improvement")
    nap = unadj[unadj["study_id"] == "NAP20"]
    assert list(nap["row_kind"]) == ["contrast"]
    row = nap.iloc[0]
    assert row["y"] == pytest.approx(np.log(1.93), abs=1e-4)
    assert row["se"] == pytest.approx((np.log(2.8) - np.log(1.3)) / (2 * norm.ppf(0.975)), abs=1e-4)
    adj = harmonize(load(nap20_effect="or_adjusted"), "global_improvement")
    row = adj[adj["study_id"] == "NAP20"].iloc[0]
    assert row["y"] == pytest.approx(np.log(1.85), abs=1e-4)
    assert row["se"] == pytest.approx(np.log(1.85) / norm.ppf(1 - 0.002 / 2), abs=1e-4)
    # the other studies of the domain are untouched
    others = base[base["study_id"] != "NAP20"][["study_id", "arm", "events", "n"]]
    assert others.reset_index(drop=True).equals(
        unadj[unadj["study_id"] != "NAP20"][["study_id", "arm", "events", "n"]].reset_index(
            drop=True
        )
    )


# --- Napoli blinding ---------------------------------------------------------------------------
def test_nap20_blinding(ev: Evidence) -> None:
    base = harmonize(ev, "global_improvement")
    blind = harmonize(load(nap20_blinding="assessor_blinded"), "global_improvement")
    for arm in ("treatment", "control"):
        assert one(base, "NAP20", arm)["unblinded"]
        assert not one(blind, "NAP20", arm)["unblinded"]
    assert blind["unblinded"].sum() == base["unblinded"].sum() - 2


# --- Petrov grading ----------------------------------------------------------------------------
def test_petrov_grading(ev: Evidence) -> None:
    for oid, events in (("rupture_and_thrombosis", 10), ("all_listed", 37), ("rupture_only", 2)):
        row = arm_row(load(petr11_major=oid), "PETR11", "complication_major")
        assert (row["events"], row["n"], row["n_unit"]) == (events, 495, "procedures"), oid


# --- §8.22: Albany -------------------------------------------------------------------------------
def test_alb12_inclusion(ev: Evidence) -> None:
    assert one(harmonize(ev, "qol_physical"), "ALB12")["raw_mean"] == pytest.approx(9.2)
    gone = load(alb12_inclusion="exclude")
    for outcome in ("qol_physical", "qol_mental"):
        assert "ALB12" not in set(harmonize(gone, outcome)["study_id"])
    assert any("ALB12" in n for n in gone.notices)
