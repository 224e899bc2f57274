"""One test per validation rule: corrupted copies of the CCSVI set must be rejected with a
message naming file, line (or column) and reason — and the CLI must exit 2 without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccsvi_bayes.cli import app
from ccsvi_bayes.errors import InvalidEvidence
from ccsvi_bayes.evidence import load_evidence
from tests.conftest import edit_csv, first_index

runner = CliRunner()


def problems_of(folder: Path, **kwargs: object) -> list[str]:
    with pytest.raises(InvalidEvidence) as info:
        load_evidence(folder, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def run_main(*argv: str) -> int:
    """Run the console entry point as a user would; return its exit code."""
    import sys

    from ccsvi_bayes import cli

    saved, sys.argv = sys.argv, ["ccsvi-bayes", *argv]
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = saved
    return 0


def assert_problem(folder: Path, *fragments: str) -> None:
    """Some problem mentions every fragment; the CLI exits 2 and prints it, no traceback."""
    found = problems_of(folder)
    assert any(all(f in p for f in fragments) for p in found), found
    assert run_main("validate", "--evidence", str(folder)) == 2


def set_cell(folder: Path, table: str, match: dict[str, str], column: str, value: str) -> int:
    """Set one cell; return the file line of the edited row."""
    line = 0

    def edit(
        header: list[str], rows: list[dict[str, str]]
    ) -> tuple[list[str], list[dict[str, str]]]:
        nonlocal line
        i = first_index(rows, **match)
        rows[i][column] = value
        line = i + 2
        return header, rows

    edit_csv(folder / f"{table}.csv", edit)
    return line


TRAB_SHAM_PHC = {"study_id": "TRAB18", "instrument": "MSQOL-54 PHC", "arm": "control"}


def test_embedded_set_is_valid() -> None:
    ev = load_evidence()
    assert ev.name == "ccsvi"
    assert len(ev.studies) >= 17
    assert len(ev.sha256) == 64


def test_missing_column(ccsvi_copy: Path) -> None:
    edit_csv(
        ccsvi_copy / "arms.csv",
        lambda h, r: (
            [c for c in h if c != "quote"],
            [{k: v for k, v in x.items() if k != "quote"} for x in r],
        ),
    )
    assert_problem(ccsvi_copy, "arms.csv", "line 1", "'quote'", "missing required column")


def test_unknown_column(ccsvi_copy: Path) -> None:
    edit_csv(
        ccsvi_copy / "studies.csv",
        lambda h, r: ([*h, "colour"], [{**x, "colour": "red"} for x in r]),
    )
    assert_problem(ccsvi_copy, "studies.csv", "'colour'", "unknown column")


def test_negative_sd(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "sd_change", "-11.5")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'sd_change'", "must be > 0")


def test_zero_n(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "n", "0")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'n'", "must be > 0")


def test_events_exceed_n(ccsvi_copy: Path) -> None:
    match = {"study_id": "TRAB18", "outcome": "sae_any", "arm": "treatment"}
    line = set_cell(ccsvi_copy, "arms", match, "events", "50")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'events'", "events exceed n")


def test_negative_events(ccsvi_copy: Path) -> None:
    match = {"study_id": "TRAB18", "outcome": "sae_any", "arm": "treatment"}
    line = set_cell(ccsvi_copy, "arms", match, "events", "-1")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'events'", ">= 0")


def test_unknown_study(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "study_id", "NOPE99")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'study_id'", "unknown study 'NOPE99'")


def test_duplicate_study_id(ccsvi_copy: Path) -> None:
    edit_csv(ccsvi_copy / "studies.csv", lambda h, r: (h, [*r, dict(r[0])]))
    assert_problem(ccsvi_copy, "studies.csv", "duplicate key", "study_id='TRAB18'")


def test_duplicate_arm_row(ccsvi_copy: Path) -> None:
    def edit(h: list[str], r: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
        return h, [*r, dict(r[first_index(r, **TRAB_SHAM_PHC)])]

    edit_csv(ccsvi_copy / "arms.csv", edit)
    assert_problem(ccsvi_copy, "arms.csv", "duplicate key", "study_id='TRAB18'")


def test_unknown_code(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "studies", {"study_id": "TRAB18"}, "design", "rtc")
    assert_problem(ccsvi_copy, "studies.csv", f"line {line}", "'design'", "unknown code", "'rtc'")


def test_bad_boolean(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "studies", {"study_id": "TRAB18"}, "randomized", "yes")
    assert_problem(ccsvi_copy, "studies.csv", f"line {line}", "'randomized'", "true or false")


def test_non_numeric_n(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "n", "fifty-five")
    assert_problem(
        ccsvi_copy, "arms.csv", f"line {line}", "'n'", "not a whole number", "fifty-five"
    )


def test_non_numeric_mean(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "mean_change", "1,3")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'mean_change'", "not a number")


def test_control_row_in_single_arm_study(ccsvi_copy: Path) -> None:
    match = {"study_id": "HUB12"}
    line = set_cell(ccsvi_copy, "arms", match, "arm", "control")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'arm'", "single-arm", "HUB12")


def test_domain_names_unknown_instrument(ccsvi_copy: Path) -> None:
    toml = ccsvi_copy / "evidence.toml"
    toml.write_text(toml.read_text().replace('"EDSS"]', '"EDSS", "EDSS-X"]', 1))
    assert_problem(
        ccsvi_copy,
        "evidence.toml",
        "domains.disability_edss.instruments",
        "unknown instrument 'EDSS-X'",
    )


def test_row_names_unknown_instrument(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "instrument", "SF-36 PCS")
    assert_problem(
        ccsvi_copy, "arms.csv", f"line {line}", "'instrument'", "unknown instrument 'SF-36 PCS'"
    )


def test_instrument_not_listed_for_domain(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "instrument", "EDSS")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "not listed for domain 'qol_physical'")


def test_unknown_outcome(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "outcome", "happiness")
    assert_problem(
        ccsvi_copy, "arms.csv", f"line {line}", "'outcome'", "unknown outcome domain 'happiness'"
    )


@pytest.mark.parametrize("column", ["source", "location", "quote"])
def test_blank_provenance(ccsvi_copy: Path, column: str) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, column, "")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", f"'{column}'", "required value is blank")


@pytest.mark.parametrize("name", ["arms.csv", "studies.csv", "instruments.csv"])
def test_empty_file(ccsvi_copy: Path, name: str) -> None:
    (ccsvi_copy / name).write_text("")
    assert_problem(ccsvi_copy, name, "file is empty")


def test_missing_file(ccsvi_copy: Path) -> None:
    (ccsvi_copy / "instruments.csv").unlink()
    assert_problem(ccsvi_copy, "instruments.csv", "file not found")


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_wrong_delimiter(ccsvi_copy: Path, sep: str, word: str) -> None:
    path = ccsvi_copy / "studies.csv"
    path.write_text("\n".join(line.replace(",", sep) for line in path.read_text().splitlines()))
    assert_problem(ccsvi_copy, "studies.csv", "line 1", "wrong delimiter", word)


def test_mean_and_events_in_one_row(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "events", "3")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "either events or mean_change")


def test_row_without_result(ccsvi_copy: Path) -> None:
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "mean_change", "")
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "sd_change", "")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "no result")


def test_p_value_out_of_range(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "p_value", "1.5")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "'p_value'", "(0, 1]")


def test_count_instrument_with_mean(ccsvi_copy: Path) -> None:
    match = {"study_id": "TRAB18", "outcome": "sae_any", "arm": "treatment"}
    set_cell(ccsvi_copy, "arms", match, "events", "")
    line = set_cell(ccsvi_copy, "arms", match, "mean_change", "0.1")
    assert_problem(ccsvi_copy, "arms.csv", f"line {line}", "count instrument")


def test_bad_domain_scale_and_window(ccsvi_copy: Path) -> None:
    toml = ccsvi_copy / "evidence.toml"
    text = (
        toml.read_text()
        .replace('scale = "smd"', 'scale = "sdm"', 1)
        .replace("[12, 78]", "[78, 12]", 1)
    )
    toml.write_text(text)
    found = problems_of(ccsvi_copy)
    assert any("scale" in p and "unknown scale 'sdm'" in p for p in found), found
    assert any("timepoint_weeks" in p and "lo <= hi" in p for p in found), found


def test_broken_toml(ccsvi_copy: Path) -> None:
    (ccsvi_copy / "evidence.toml").write_text("name = 'x\n")
    assert_problem(ccsvi_copy, "evidence.toml", "not valid TOML")


def test_contrast_rules(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import PPVIPD

    folder = tmp_path / "ppv"
    shutil.copytree(PPVIPD, folder)
    line = set_cell(folder, "contrasts", {"study_id": "PPV01"}, "se", "")
    assert_problem(folder, "contrasts.csv", f"line {line}", "no uncertainty")
    set_cell(folder, "contrasts", {"study_id": "PPV01"}, "ci_low", "0.5")
    set_cell(folder, "contrasts", {"study_id": "PPV01"}, "ci_high", "-0.5")
    assert_problem(folder, "contrasts.csv", f"line {line}", "ci_low must be below ci_high")
    set_cell(folder, "contrasts", {"study_id": "PPV02"}, "measure", "md")
    assert_problem(folder, "contrasts.csv", "measure 'md' cannot be put on the log_odds scale")


def test_every_problem_is_reported(ccsvi_copy: Path) -> None:
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "sd_change", "-1")
    set_cell(ccsvi_copy, "studies", {"study_id": "TRAB18"}, "blinding", "triple")
    (ccsvi_copy / "instruments.csv").write_text("")
    found = problems_of(ccsvi_copy)
    assert any("sd_change" in p for p in found)
    assert any("blinding" in p for p in found)
    assert any("instruments.csv" in p and "empty" in p for p in found)


def test_unknown_assumption_switch() -> None:
    found = problems_of(load_evidence().path, assumptions={"no_such_switch": "x"})
    assert any("unknown switch 'no_such_switch'" in p for p in found)


def test_unknown_assumption_option() -> None:
    found = problems_of(load_evidence().path, assumptions={"hub12_denominator": "n1"})
    assert any("unknown option 'n1'" in p and "hub12_denominator" in p for p in found)


def test_cli_validate_ok() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_cli_bad_assume_syntax() -> None:
    result = runner.invoke(app, ["validate", "--assume", "oops"])
    assert result.exit_code == 2
