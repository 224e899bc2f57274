"""harmonize(): every row comes back, standardized with positive = benefit, with a reason
for each exclusion; the numbers match hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.harmonize import FEATURE_COLUMNS, HarmonizationError, HarmonizeOptions, harmonize
from ccsvi_bayes.vocabulary import DESIGN_FEATURES
from tests.conftest import PPVIPD


@pytest.fixture(scope="module")
def ev():  # type: ignore[no-untyped-def]
    return load_evidence()


def row(frame: pd.DataFrame, study: str, arm: str = "treatment", **match: object) -> pd.Series:
    sel = (frame["study_id"] == study) & (frame["arm"] == arm)
    for k, v in match.items():
        sel &= frame[k] == v
    assert sel.sum() == 1, frame[sel]
    return frame[sel].iloc[0]


def test_nothing_is_dropped(ev) -> None:  # type: ignore[no-untyped-def]
    for did in ev.domains:
        frame = harmonize(ev, did)
        n_in = (ev.arms["outcome"] == did).sum() + (ev.contrasts["outcome"] == did).sum()
        assert len(frame) == n_in
        excluded = frame[~frame["included"]]
        assert (excluded["exclusion_reason"].str.len() > 0).all()
        assert (frame.loc[frame["included"], "exclusion_reason"] == "").all()


def test_continuous_arm_standardized_by_reference_sd(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "qol_mental")
    t = row(frame, "TRAB18")
    assert t["y"] == pytest.approx(-0.8 / 20.5)
    assert t["se"] == pytest.approx(18.7 / math.sqrt(49) / 20.5)
    assert not t["sd_imputed"]


def test_direction_makes_benefit_positive(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "disability_edss")
    # EDSS fell by 0.2 under venoplasty: lower is better, so y > 0
    t = row(frame, "TRAB18")
    pooled = math.sqrt(
        (48 * 0.8**2 + 54 * 0.9**2) / 102
    )  # no reference SD: pooled change SD, r = 0.5
    assert t["y"] == pytest.approx(0.2 / pooled)
    assert frame.attrs["sd_ref"]["EDSS"] == pytest.approx(pooled)


def test_missing_sd_is_imputed_and_recorded(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "qol_physical")
    alb = row(frame, "ALB12")
    assert alb["sd_imputed"]
    assert alb["sd_used"] == pytest.approx(19.7)  # reference SD × √(2(1 − 0.5))
    assert "imputed" in alb["harmonization"]
    assert alb["y"] == pytest.approx(9.2 / 19.7)
    r8 = harmonize(ev, "qol_physical", HarmonizeOptions(prepost_r=0.8))
    assert row(r8, "ALB12")["sd_used"] == pytest.approx(19.7 * math.sqrt(0.4))


def test_responders_use_latent_normal(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "qol_physical")
    hub = row(frame, "HUB12", timepoint_weeks=26.0)
    p = 128 / 238
    assert hub["y"] == pytest.approx(norm.ppf(p))
    assert hub["se"] == pytest.approx(math.sqrt(p * (1 - p) / 238) / norm.pdf(norm.ppf(p)))
    logit = harmonize(ev, "qol_physical", HarmonizeOptions(responder="logit"))
    assert row(logit, "HUB12", timepoint_weeks=26.0)["y"] == pytest.approx(
        math.sqrt(3) / math.pi * math.log(p / (1 - p))
    )


def test_p_only_rows(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "disability_edss")
    nsci = row(frame, "NSCI13")  # EDSS increased (worse), p = 0.002, n = 44
    assert nsci["y"] == pytest.approx(-norm.ppf(1 - 0.001) / math.sqrt(44))


def test_window_and_instrument_selection(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "qol_physical")
    early = row(frame, "HUB12", timepoint_weeks=4.3)
    assert not early["included"]
    assert "outside the window" in early["exclusion_reason"]
    gi = harmonize(ev, "global_improvement")
    mob = row(gi, "BCREG", instrument="Self-rated mobility improvement", timepoint_weeks=67.0)
    assert not mob["included"]
    assert "secondary instrument" in mob["exclusion_reason"]


def test_unknown_timepoint_kept_or_excluded_by_option(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "qol_physical")
    alb = row(frame, "ALB12")
    assert alb["included"]
    assert "timepoint unknown" in alb["harmonization"]
    excl = harmonize(ev, "qol_physical", HarmonizeOptions(unknown_timepoint="exclude"))
    assert not row(excl, "ALB12")["included"]


def test_binary_rows_keep_counts(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "sae_any")
    t = row(frame, "TRAB18")
    assert (t["events"], t["n"]) == (5, 49)
    assert t["row_kind"] == "count"
    assert np.isnan(t["y"])


def test_design_features(ev) -> None:  # type: ignore[no-untyped-def]
    frame = harmonize(ev, "qol_physical")
    trab = row(frame, "TRAB18")
    assert not any(bool(trab[f]) for f in DESIGN_FEATURES)  # reference design: no bias feature
    assert set(DESIGN_FEATURES) <= set(FEATURE_COLUMNS)
    alb = row(frame, "ALB12")
    for feature in (
        "nonrandomized",
        "uncontrolled",
        "unblinded",
        "unblinded_x_patient_reported",
        "retrospective",
        "single_centre",
    ):
        assert alb[feature], feature
    edss = harmonize(ev, "disability_edss")
    assert not row(edss, "GHEZ13")["patient_reported"]  # EDSS is clinician-rated


def test_contrasts_flip_sign_for_harmful_events() -> None:
    ppv = load_evidence(PPVIPD)
    frame = harmonize(ppv, "ipd")
    first = row(frame, "PPV01", arm="contrast")
    assert first["y"] == pytest.approx(0.9722611631444966)  # vaccine lowers IPD: benefit
    assert frame["nonrandomized"].sum() == 8


def test_contrast_se_from_ci_and_p(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from tests.conftest import edit_csv

    folder = tmp_path / "ppv"
    shutil.copytree(PPVIPD, folder)

    def edit(h: list[str], r: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
        r[0].update(se="", ci_low="-2.0", ci_high="0.0")
        r[1].update(se="", p_value="0.05")
        return [*h, "p_value"], [{"p_value": "", **x} for x in r]

    edit_csv(folder / "contrasts.csv", edit)
    frame = harmonize(load_evidence(folder), "ipd")
    assert row(frame, "PPV01", arm="contrast")["se"] == pytest.approx(2.0 / (2 * norm.ppf(0.975)))
    assert row(frame, "PPV02", arm="contrast")["se"] == pytest.approx(
        1.940663088481797 / norm.ppf(0.975)
    )


def test_unknown_outcome_is_clear(ev) -> None:  # type: ignore[no-untyped-def]
    from ccsvi_bayes.errors import InvalidEvidence

    with pytest.raises(InvalidEvidence, match="unknown outcome domain 'mood'"):
        harmonize(ev, "mood")


def test_bad_option_is_clear() -> None:
    with pytest.raises(HarmonizationError, match="prepost_r"):
        HarmonizeOptions(prepost_r=1.0)
