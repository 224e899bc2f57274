"""Plausibility rules (issue 17, item 2): one rule, one test asserting its message.

Every value these rules accept reaches the fit as given: each rule has a second test showing
that the harmonized rows (or the model's data) carry the accepted value unchanged, where
before the rule a value like ``n = 10^20`` became 0 in the model, ``48.0`` counted an arm
twice, and ``sd_change = 1e300`` deleted the arm."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes import vocabulary as V
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.harmonize import formulas as F
from ccsvi_bayes.harmonize import harmonize
from tests.conftest import PPVIPD, edit_csv, first_index
from tests.test_data_validation import (
    TRAB_SHAM_PHC,
    assert_problem,
    problems_of,
    set_cell,
)

PREM_RELAPSE = {"study_id": "PREM14", "outcome": "relapse", "arm": "treatment"}


def _row(rows, **match):  # type: ignore[no-untyped-def]
    mask = np.ones(len(rows), bool)
    for k, v in match.items():
        mask &= (rows[k] == v).to_numpy()
    assert mask.sum() == 1, rows[list(match)]
    return rows[mask].iloc[0]


# --- counts: whole numbers 1 <= n <= 2^31 - 1, 0 <= events <= n -------------------------------
@pytest.mark.parametrize(
    ("column", "value"),
    [("n", "100000000000000000000"), ("n", "2147483648"), ("events", "2147483648")],
)
def test_count_beyond_what_a_fit_holds_is_rejected(
    ccsvi_copy: Path, column: str, value: str
) -> None:
    line = set_cell(ccsvi_copy, "arms", PREM_RELAPSE, column, value)
    assert_problem(
        ccsvi_copy,
        f"arms.csv, line {line}, column '{column}'",
        "larger than the largest count a fit holds exactly (2,147,483,647)",
    )


def test_largest_count_reaches_the_model_unchanged(ccsvi_copy: Path) -> None:
    """PyMC holds integer data as int32: 10^20 became 0 there (the arm vanished)."""
    from ccsvi_bayes.models import build_model, prepare_data
    from ccsvi_bayes.specs import load_spec

    set_cell(ccsvi_copy, "arms", PREM_RELAPSE, "n", str(V.MAX_COUNT))
    set_cell(ccsvi_copy, "arms", PREM_RELAPSE, "events", str(V.MAX_COUNT - 1))
    ev = load_evidence(ccsvi_copy)
    spec = load_spec("naive")
    data = prepare_data(ev, harmonize(ev, "relapse"), spec)
    model = build_model(data, spec)
    assert V.MAX_COUNT in model["arm_n"].get_value().tolist()
    assert V.MAX_COUNT - 1 in model["arm_events"].get_value().tolist()


@pytest.mark.parametrize(("value", "reason"), [("0", "must be > 0"), ("0.5", "not a whole number")])
def test_n_below_one_is_rejected(ccsvi_copy: Path, value: str, reason: str) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "n", value)
    assert_problem(ccsvi_copy, f"arms.csv, line {line}, column 'n'", reason)


def test_events_above_n_is_rejected(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", PREM_RELAPSE, "events", "10")
    assert_problem(ccsvi_copy, f"arms.csv, line {line}, column 'events'", "events exceed n")


# --- measurements within the instrument's range --------------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("mean_change", "500", "500 is outside the plausible range [-100, 100]"),
        ("mean_change", "-100.5", "-100.5 is outside the plausible range [-100, 100]"),
        ("sd_change", "1e300", "1e+300 is outside the plausible range [0.0001, 100]"),
        ("sd_change", "1e-300", "1e-300 is outside the plausible range [0.0001, 100]"),
        ("se_change", "101", "101 is outside the plausible range [0.0001, 100]"),
    ],
)
def test_measurement_outside_the_instrument_range_is_rejected(
    ccsvi_copy: Path, column: str, value: str, shown: str
) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, column, value)
    assert_problem(
        ccsvi_copy,
        f"arms.csv, line {line}, column '{column}'",
        shown,
        "instrument 'MSQOL-54 PHC' (scale 0 to 100)",
    )


def test_instrument_without_range_is_bounded_by_its_reference_sd(ccsvi_copy: Path) -> None:
    for column in ("scale_min", "scale_max"):
        set_cell(ccsvi_copy, "instruments", {"instrument": "MSQOL-54 PHC"}, column, "")
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "mean_change", "250")
    assert_problem(
        ccsvi_copy,
        f"arms.csv, line {line}, column 'mean_change'",
        "250 is outside the plausible range [-197, 197]",
        "no scale range: 10 × reference_sd 19.7",
    )


def test_md_contrast_outside_the_instrument_range_is_rejected(ccsvi_copy: Path) -> None:
    header = (
        "study_id,outcome,instrument,timepoint_weeks,measure,estimate,se,ci_low,ci_high,"
        "source,location,quote,assumption\n"
    )
    (ccsvi_copy / "contrasts.csv").write_text(
        header + "TRAB18,qol_physical,MSQOL-54 PHC,24,md,150,120,,,s,l,q,\n", encoding="utf-8"
    )
    assert_problem(
        ccsvi_copy,
        "contrasts.csv, line 2, column 'estimate'",
        "150 is outside the plausible range [-100, 100]",
    )
    assert_problem(
        ccsvi_copy, "contrasts.csv, line 2, column 'se'", "120 is outside the plausible range"
    )


def test_measurement_at_the_bound_is_used_as_given(ccsvi_copy: Path) -> None:
    """A change of the whole scale width with the largest SD: harmonized as typed."""
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "mean_change", "100")
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "sd_change", "100")
    rows = harmonize(load_evidence(ccsvi_copy), "qol_physical")
    row = _row(rows, study_id="TRAB18", arm="control", instrument="MSQOL-54 PHC")
    assert row["included"]
    assert row["raw_mean"] == 100.0
    assert row["sd_used"] == 100.0
    assert row["y"] == pytest.approx(100.0 / row["sd_ref"])
    assert row["se"] == pytest.approx(100.0 / math.sqrt(row["n"]) / row["sd_ref"])


# --- keys compared as values ---------------------------------------------------------------
def test_timepoint_spelled_differently_is_still_a_duplicate(ccsvi_copy: Path) -> None:
    """``48.0`` and ``48`` are one timepoint: the copy counted the arm twice (578 → 627)."""

    def edit(h: list[str], r: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
        copy = dict(r[first_index(r, **TRAB_SHAM_PHC)])
        copy["timepoint_weeks"] = "48.0"
        return h, [*r, copy]

    edit_csv(ccsvi_copy / "arms.csv", edit)
    n_lines = len((ccsvi_copy / "arms.csv").read_text(encoding="utf-8").splitlines())
    assert_problem(
        ccsvi_copy,
        f"arms.csv, line {n_lines}",
        "duplicate key (study_id='TRAB18', outcome='qol_physical', instrument='MSQOL-54 PHC', "
        "arm='control', timepoint_weeks=48); timepoints are compared as numbers",
    )


def test_timepoint_is_used_as_a_number(ccsvi_copy: Path) -> None:
    edit_csv(
        ccsvi_copy / "arms.csv",
        lambda h, r: (
            h,
            [
                {**row, "timepoint_weeks": "48.0"} if row["study_id"] == "TRAB18" else row
                for row in r
            ],
        ),
    )
    rows = harmonize(load_evidence(ccsvi_copy), "qol_physical")
    trab = rows[rows["study_id"] == "TRAB18"]
    assert set(trab["timepoint_weeks"]) == {48.0}
    assert trab["included"].sum() == 2


# --- a contrast's CI contains its estimate ------------------------------------------------------
@pytest.fixture
def ppv_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "ppv"
    shutil.copytree(PPVIPD, folder)
    return folder


def test_ci_that_excludes_its_estimate_is_rejected(ppv_copy: Path) -> None:
    # PPV03: estimate -1.5178 (log OR)
    set_cell(ppv_copy, "contrasts", {"study_id": "PPV03"}, "ci_low", "0.1")
    line = set_cell(ppv_copy, "contrasts", {"study_id": "PPV03"}, "ci_high", "0.9")
    assert_problem(
        ppv_copy,
        f"contrasts.csv, line {line}, column 'estimate'",
        "the 95% CI [0.1, 0.9] does not contain the estimate -1.51781 (both on the log_or scale",
    )


def test_ci_that_contains_its_estimate_gives_the_se(ppv_copy: Path) -> None:
    set_cell(ppv_copy, "contrasts", {"study_id": "PPV03"}, "se", "")
    set_cell(ppv_copy, "contrasts", {"study_id": "PPV03"}, "ci_low", "-3.5")
    set_cell(ppv_copy, "contrasts", {"study_id": "PPV03"}, "ci_high", "0.2")
    ev = load_evidence(ppv_copy)
    rows = harmonize(ev, next(iter(ev.domains)))
    row = _row(rows, study_id="PPV03")
    assert row["estimate"] == pytest.approx(-1.517808)
    assert row["se"] == pytest.approx(float(F.se_from_ci(-3.5, 0.2)))


# --- single-arm studies are not randomized --------------------------------------------------------
@pytest.mark.parametrize(
    ("edits"),
    [
        {"randomized": "true"},  # HUB12: single_arm, control none
        {"randomized": "true", "design": "cohort"},  # control none
        {"randomized": "true", "design": "survey"},
    ],
)
def test_single_arm_study_cannot_be_randomized(ccsvi_copy: Path, edits: dict[str, str]) -> None:
    line = 0
    for column, value in edits.items():
        line = set_cell(ccsvi_copy, "studies", {"study_id": "HUB12"}, column, value)
    assert_problem(
        ccsvi_copy,
        f"studies.csv, line {line}, column 'randomized'",
        "study 'HUB12' is single-arm",
        "cannot be randomized",
    )


def test_randomized_study_with_only_treatment_rows_is_rejected(ccsvi_copy: Path) -> None:
    edit_csv(
        ccsvi_copy / "arms.csv",
        lambda h, r: (
            h,
            [row for row in r if not (row["study_id"] == "TRAB18" and row["arm"] == "control")],
        ),
    )
    line = set_cell(ccsvi_copy, "studies", {"study_id": "TRAB18"}, "notes", "x")
    assert_problem(
        ccsvi_copy,
        f"studies.csv, line {line}, column 'design'",
        "study 'TRAB18' is randomized (design rct) but arms.csv has only treatment rows",
    )


def test_randomized_flag_is_used_as_given() -> None:
    rows = harmonize(load_evidence(), "qol_physical")
    trab, hub = _row(rows, study_id="TRAB18", arm="control"), rows[rows["study_id"] == "HUB12"]
    assert bool(trab["randomized"])
    assert not trab["nonrandomized"]
    assert hub["nonrandomized"].all()


# --- a cell of any size --------------------------------------------------------------------------
def test_a_cell_over_the_csv_field_limit_is_read(ccsvi_copy: Path) -> None:
    """131,072 characters was the csv module's limit: "internal error", no file or line."""
    quote = "a long verbatim quote " * 10_000  # 220,000 characters
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "quote", quote)
    rows = harmonize(load_evidence(ccsvi_copy), "qol_physical")
    assert _row(rows, study_id="TRAB18", arm="control")["quote"] == quote.strip()


def test_a_problem_beside_a_long_cell_names_its_line(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", {"study_id": "PREM14"}, "n", "x")
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "quote", "q" * 200_000)
    assert_problem(ccsvi_copy, f"arms.csv, line {line}, column 'n'", "not a whole number")


def test_every_problem_is_listed_once(ccsvi_copy: Path) -> None:
    """The new rules do not echo a problem another rule reports (a non-finite SD)."""
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "sd_change", "inf")
    found = problems_of(ccsvi_copy)
    assert len(found) == 1, found
    assert f"line {line}" in found[0]
