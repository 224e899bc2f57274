"""`ccsvi-bayes import`: escalc-style tables become valid evidence folders whose numbers are
metafor's, whose provenance names the file and row, and whose bad input is exit 2 naming
file, row, column and reason. The published check: the Crins (2014) counts, imported and
fitted with the paper's priors, give Röver's (2020) printed posterior median."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ccsvi_bayes.errors import InvalidEvidence
from ccsvi_bayes.evidence import ImportOptions, escalc, import_table, load_evidence, safe_id
from ccsvi_bayes.inference import exact as ex
from tests.test_data_validation import run_main

DATA = Path(__file__).parent / "data"
BCG = DATA / "bcg.csv"
CRINS = DATA / "published" / "crins2014_escalc.csv"
BCG_COLUMNS = ("--column", "ai=tpos", "--column", "bi=tneg", "--column", "ci=cpos")
BCG_COLUMNS += ("--column", "di=cneg")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def problems(src: Path, out: Path, **options: object) -> list[str]:
    with pytest.raises(InvalidEvidence) as info:
        import_table(src, out, ImportOptions(**options))  # type: ignore[arg-type]
    assert not out.exists(), "a failed import leaves no folder"
    return [str(p) for p in info.value.problems]


def cli_import(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = run_main("import", *argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- known answers ------------------------------------------------------------------------------
def test_bcg_counts_give_metafor_log_rr_and_the_published_reml_fit(tmp_path: Path) -> None:
    out = tmp_path / "bcg"
    code = run_main(
        "import", str(BCG), "--measure", "RR", "--benefit", "lower", "--study", "trial",
        "--label", "author", "--year", "year", "--outcome", "tb", *BCG_COLUMNS, "--out", str(out),
    )  # fmt: skip
    assert code == 0
    assert run_main("validate", "--evidence", str(out)) == 0
    con = load_evidence(out).contrasts
    y, se = con["estimate"].to_numpy(), con["se"].to_numpy()
    # metafor: escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
    np.testing.assert_allclose(y[:3], [-0.8893, -1.5854, -1.3481], atol=5e-5)
    np.testing.assert_allclose(se[:3] ** 2, [0.3256, 0.1946, 0.4154], atol=5e-5)
    fit = ex.reml(y, se)  # rma(yi, vi, method = "REML"): mu -0.7145 (SE 0.1798), tau2 0.3132
    assert fit["mu"] == pytest.approx(-0.7145, abs=5e-4)
    assert fit["se_mu"] == pytest.approx(0.1798, abs=5e-4)
    assert fit["tau2"] == pytest.approx(0.3132, abs=5e-4)
    assert list(con["n_treatment"][:2]) == [123, 306]  # n carried for participant counts
    studies = load_evidence(out).studies
    assert studies["label"].iloc[0] == "Aronson (1948)"


def test_default_columns_id_from_trial_label_from_author_and_year(tmp_path: Path) -> None:
    columns = {"ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"}
    out = tmp_path / "bcg"
    import_table(BCG, out, ImportOptions(measure="RR", benefit="lower", columns=columns))
    studies = load_evidence(out).studies
    assert list(studies["study_id"][:2]) == ["1", "2"]  # 'trial': unique, unlike 'author'
    assert list(studies["label"][:2]) == ["Aronson (1948)", "Ferguson & Simes (1949)"]
    assert list(load_evidence(out).domains) == ["effect"]


def test_crins_import_matches_the_hand_built_published_set(tmp_path: Path) -> None:
    out = tmp_path / "crins"
    options = ImportOptions(
        measure="OR", benefit="lower", study="publication", year="year", outcome="acute_rejection"
    )
    import_table(CRINS, out, options)
    ours = load_evidence(out).contrasts
    theirs = load_evidence(DATA / "published" / "crins2014").contrasts
    np.testing.assert_allclose(ours["estimate"], theirs["estimate"], rtol=1e-12)
    np.testing.assert_allclose(ours["se"], theirs["se"], rtol=1e-12)
    assert "0.5 added to each cell" in ours["assumption"].iloc[-1]  # GRA08, 0/50


def test_import_validate_fit_reproduces_roever_2020(tmp_path: Path) -> None:
    """Three commands: import, validate, fit (exact engine) with the paper's priors
    (τ ~ half-normal(0.5), μ ~ N(0, 4²)). Röver (2020, J Stat Softw 93(6), §3.3) prints the
    posterior median of the log OR −1.5735 (bayesmeta's integration accuracy is about 1e-4
    relative): tolerance 1e-3 relative; positive = benefit, so the sign turns."""
    out, fit = tmp_path / "crins", tmp_path / "fit"
    assert run_main(
        "import", str(CRINS), "--measure", "OR", "--benefit", "lower", "--study", "publication",
        "--year", "year", "--outcome", "acute_rejection", "--out", str(out),
    ) == 0  # fmt: skip
    assert run_main("validate", "--evidence", str(out)) == 0
    assert run_main(
        "fit", "--model", "naive", "--outcome", "acute_rejection", "--evidence", str(out),
        "--engine", "exact", "--set", "priors.tau.sigma=0.5", "--set", "priors.mu.mu=0",
        "--set", "priors.mu.sigma=4", "--out", str(fit),
    ) == 0  # fmt: skip
    effect = json.loads((fit / "summary.json").read_text())["effect"]
    assert -effect["median"] == pytest.approx(-1.5734823, rel=1e-3)
    assert -effect["mean"] == pytest.approx(-1.5764366, rel=1e-3)
    assert effect["sd"] == pytest.approx(0.3295298, rel=1e-3)


def test_smd_from_means_is_hedges_g_with_its_pooled_sd(tmp_path: Path) -> None:
    src = write(
        tmp_path / "means.csv",
        "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,10,4,20,7,5,22\nB,3,2,15,2,2,15\n",
    )
    out = tmp_path / "ev"
    import_table(src, out, ImportOptions(measure="SMD", benefit="higher", outcome="qol"))
    con = load_evidence(out).contrasts
    s = math.sqrt((19 * 16 + 21 * 25) / 40)  # pooled SD, hand-computed
    j = math.exp(math.lgamma(20) - 0.5 * math.log(20) - math.lgamma(19.5))  # J(40)
    g = j * 3 / s
    assert con["estimate"].iloc[0] == pytest.approx(g, rel=1e-12)
    assert con["se"].iloc[0] ** 2 == pytest.approx(1 / 20 + 1 / 22 + g**2 / 84, rel=1e-12)
    assert con["sd_pooled"].iloc[0] == pytest.approx(s, rel=1e-12)
    assert list(con["measure"]) == ["smd", "smd"]
    assert load_evidence(out).domains["qol"].scale == "smd"


def test_md_from_means_and_yi_with_sei(tmp_path: Path) -> None:
    src = write(tmp_path / "md.csv", "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,10,4,20,7,5,25\n")
    import_table(src, tmp_path / "md", ImportOptions(measure="MD", benefit="higher"))
    con = load_evidence(tmp_path / "md").contrasts
    assert con["estimate"].iloc[0] == 3.0
    assert con["se"].iloc[0] == pytest.approx(math.sqrt(16 / 20 + 25 / 25))
    src = write(tmp_path / "yi.csv", "study_id,yi,sei\nP1,-0.97,0.84\nP2,-1.94,1.51\n")
    import_table(src, tmp_path / "yi", ImportOptions(measure="OR", benefit="lower"))
    con = load_evidence(tmp_path / "yi").contrasts
    assert list(con["estimate"]) == [-0.97, -1.94]
    assert list(con["se"]) == [0.84, 1.51]
    assert list(con["quote"]) == ["yi=-0.97, sei=0.84", "yi=-1.94, sei=1.51"]


def test_provenance_names_file_and_row_and_readme_says_what_was_assumed(tmp_path: Path) -> None:
    src = write(
        tmp_path / "es.csv",
        "author,yi,vi,design,blinding\nSmith & Co,0.5,0.04,rct,double\nLee,0.2,0.09,cohort,\n",
    )
    out = tmp_path / "ev"
    result = import_table(src, out, ImportOptions(measure="SMD", benefit="higher"))
    con = rows(out / "contrasts.csv")
    assert con[0]["source"] == "imported from es.csv, row 2"
    assert con[1]["location"] == "es.csv, row 3"
    assert con[1]["quote"] == "yi=0.2, vi=0.09"
    assert con[0]["assumption"] == "effect size as given (yi, vi)"
    studies = rows(out / "studies.csv")
    assert studies[0]["study_id"] == "Smith_Co"  # derived: '&' and ' ' are not id characters
    assert studies[0]["label"] == "Smith & Co"  # the original is kept as the label
    assert studies[1]["randomized"] == "false"
    assert studies[1]["blinding"] == "none"
    readme = (out / "README.md").read_text()
    assert "`blinding` not given for 1 study (Lee): `none` assumed" in readme
    assert "id 'Smith_Co' derived" in readme
    assert studies[0]["notes"].startswith("imported study 'Smith & Co'; not given, assumed:")
    assert any("Smith_Co" in a for a in result.assumptions)


def test_long_table_gives_one_domain_per_outcome(tmp_path: Path) -> None:
    src = write(
        tmp_path / "long.csv",
        "study,outcome,measure,benefit,yi,vi\n"
        "A,Pain score,MD,lower,-1.2,0.3\nB,Pain score,MD,lower,-0.8,0.2\n"
        "A,Death,OR,lower,-0.3,0.1\n",
    )
    out = tmp_path / "ev"
    import_table(src, out, ImportOptions(question='Does "X" help?\nA second line'))
    assert load_evidence(out).question == 'Does "X" help?\nA second line'
    ev = load_evidence(out)
    assert {d: ev.domains[d].scale for d in ev.domains} == {"pain_score": "md", "death": "log_odds"}
    assert ev.domains["pain_score"].label == "Pain score"
    assert len(ev.studies) == 2


def test_excel_sheet_is_read(tmp_path: Path) -> None:
    book = tmp_path / "ma.xlsx"
    frame = pd.DataFrame({"study": ["A", "B"], "ai": [3, 5], "n1i": [20, 30], "ci": [6, 9]})
    frame["n2i"] = [21, 31]
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
        frame.to_excel(writer, sheet_name="data", index=False)
    out = tmp_path / "ev"
    import_table(book, out, ImportOptions(measure="OR", benefit="lower", sheet="data"))
    con = load_evidence(out).contrasts
    assert con["estimate"].iloc[0] == pytest.approx(escalc.log_odds_ratio(3, 17, 6, 15).yi)
    assert con["source"].iloc[1] == "imported from ma.xlsx [data], row 3"
    assert problems(book, tmp_path / "x", measure="OR", benefit="lower", sheet="nope") == [
        "ma.xlsx: no sheet named 'nope' (sheets: notes, data)"
    ]


def test_counts_as_arms_write_events_of_n(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", "study,ai,bi,ci,di\nA,3,17,6,15\n")
    out = tmp_path / "ev"
    import_table(src, out, ImportOptions(measure="OR", benefit="lower", counts="arms"))
    arms = load_evidence(out).arms
    assert list(arms["arm"]) == ["treatment", "control"]
    assert list(arms["events"]) == [3, 6]
    assert list(arms["n"]) == [20, 21]
    assert load_evidence(out).contrasts.empty


def test_safe_id() -> None:
    assert safe_id("Comstock et al. (1974)") == "Comstock_et_al_1974"
    assert safe_id("TRAB-18") == "TRAB-18"
    assert safe_id("ü") == "S"


# --- bad input: exit 2, file, row, column, reason -------------------------------------------------
BAD = [
    ("study,yi,vi\nA,0.1,0\n", {}, "t.csv, line 2, column 'vi': variance must be > 0: got 0"),
    ("study,yi,vi\nA,0.1,abc\n", {}, "t.csv, line 2, column 'vi': not a number: got 'abc'"),
    ("study,yi,sei\nA,0.1,-1\n", {}, "column 'sei': standard error must be > 0: got -1"),
    ("study,yi\nA,0.1\n", {}, "t.csv, line 2, column 'vi': yi needs its variance vi or its SE sei"),
    (
        "study,ai,n1i,ci,n2i\nA,70,61,3,20\n",
        {"measure": "OR"},
        "t.csv, line 2, column 'ai': events exceed n: ai = 70 > n1i = 61",
    ),
    (
        "study,ai,bi,ci,di,n1i\nA,3,10,3,9,14\n",
        {"measure": "OR"},
        "t.csv, line 2, column 'n1i': ai + bi = 13 but n1i = 14",
    ),
    ("study,ai,n1i,ci,n2i\nA,-1,10,3,9\n", {"measure": "OR"}, "a count must be >= 0: got -1"),
    ("study,ai,n1i,ci,n2i\nA,1.5,10,3,9\n", {"measure": "OR"}, "not a whole number: got '1.5'"),
    (
        "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,1,0,10,2,1,10\n",
        {"measure": "SMD"},
        "column 'sd1i': SD must be > 0: got 0",
    ),
    (
        "study,m1i,sd1i,n1i,m2i,n2i\nA,1,1,10,2,10\n",
        {"measure": "MD"},
        "t.csv, line 2, column 'sd2i': required for means data, but blank",
    ),
    ("study,foo\nA,1\n", {}, "t.csv, line 2: no effect size: give yi with vi or sei"),
    (
        "study,yi,vi\nA,0.1,0.2\nB,0.3,0.1\nA,0.2,0.1\n",
        {},
        "t.csv, line 4, column 'study': duplicate study 'A' for outcome 'effect' (also row 2)",
    ),
    ("trial_name,yi,vi\nA,0.1,0.2\n", {}, "t.csv: no study column: name it with --study COL"),
    ("study,yi,vi\n,0.1,0.2\n", {}, "t.csv, line 2, column 'study': study is blank"),
    (
        "study,yi,vi,design\nA,0.1,0.2,trial\n",
        {},
        "column 'design': unknown code 'trial' (expected one of: rct, cohort",
    ),
    (
        "study,yi,vi,randomized,design\nA,0.1,0.2,yes,cohort\n",
        {},
        "column 'randomized': randomized = true but design = cohort",
    ),
    (
        "study,outcome,yi,vi,design\nA,x,0.1,0.2,rct\nA,y,0.1,0.2,cohort\n",
        {},
        "line 3, column 'design': study 'A': design = 'cohort' here but 'rct' in row 2",
    ),
    (
        "study,yi,vi\nA,0.1,0.2\n",
        {"measure": "RD"},
        "column '--measure': measure 'RD' cannot be analysed: a risk difference has no analysis",
    ),
    ("study,yi,vi\nA,0.1,0.2\n", {"measure": "XYZ"}, "unknown measure (the package analyses"),
    (
        "study,yi,vi\nA,0.1,0.2\n",
        {"benefit": None},
        "column '--benefit': say which direction is benefit",
    ),
    ("study,yi,vi\nA,inf,0.2\n", {}, "column 'yi': not a finite number: got 'inf'"),
    ("study,yi,vi\n", {}, "t.csv: no data rows below the header"),
    ("study,yi,yi,vi\nA,1,2,3\n", {}, "t.csv, line 1, column 'yi': column appears more than once"),
    ("study,yi,vi\nA,1,2,3\n", {}, "t.csv, line 2: 4 cells but 3 columns"),
    (
        "study,outcome,yi,vi\nA,x,0.1,0.2\n",
        {"outcome": "y"},
        "t.csv, column 'outcome': the table has an outcome column 'outcome': --outcome names",
    ),
    (
        "study,yi,vi\nA,0.1,0.2\n",
        {"outcome_column": "ep"},
        "t.csv, column 'ep': --outcome-column column not found (columns: study, yi, vi)",
    ),
    (
        "study,yi,vi\nA,0.1,0.2\n",
        {"columns": {"ai": "tpos"}},
        "t.csv, column 'tpos': column not found (given as ai=tpos)",
    ),
    (
        "study,yi,vi,yr\nA,0.1,0.2,1812\n",
        {"year": "yr"},
        "t.csv, line 2, column 'yr': not a year between 1900 and 2100: 1812",
    ),
    (
        "study,yi,vi,design\nA,0.1,0.2,single_arm\n",
        {},
        "column 'design': a study without a control group cannot give a treatment-vs-control",
    ),
    (
        "study,outcome,measure,yi,vi\nA,x,SMD,0.1,0.2\nB,x,MD,0.1,0.2\n",
        {},
        "t.csv, line 3, column 'measure': outcome 'x' has measure MD here but SMD in row 2",
    ),
    (
        "study,benefit,yi,vi\nA,higher,0.1,0.2\nB,lower,0.1,0.2\n",
        {},
        "line 3, column 'benefit': outcome 'effect' has benefit lower here but higher in row 2",
    ),
    (
        "study,ai,n1i,ci,n2i\nA,3,10,3,9\n",
        {"measure": "SMD"},
        "t.csv, line 2, column '--measure': 2x2 counts give an OR or RR, not measure SMD",
    ),
    (
        "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,1,1,10,2,1,10\n",
        {"measure": "OR"},
        "t.csv, line 2, column '--measure': means give an SMD or MD, not measure OR",
    ),
]


@pytest.mark.parametrize(("text", "options", "expected"), BAD)
def test_bad_input_names_file_row_column_and_reason(
    tmp_path: Path, text: str, options: dict[str, object], expected: str
) -> None:
    src = write(tmp_path / "t.csv", text)
    opts: dict[str, object] = {"measure": "SMD", "benefit": "higher", **options}
    found = problems(src, tmp_path / "out", **opts)
    assert any(expected in p for p in found), found


def test_cli_bad_input_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "t.csv", "study,yi,vi\nA,0.1,-2\n")
    code, text = cli_import(
        capsys, str(src), "--measure", "SMD", "--benefit", "higher", "--out", str(tmp_path / "o")
    )
    assert code == 2
    assert "t.csv, line 2, column 'vi': variance must be > 0" in " ".join(text.split())
    assert "Traceback" not in text
    code, text = cli_import(capsys, str(src), "--benefit", "up", "--out", str(tmp_path / "o"))
    assert code == 2
    assert "--benefit must be higher or lower" in text
    code, text = cli_import(capsys, str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "none.csv: file not found" in text


def test_existing_folder_is_not_overwritten_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "t.csv", "study,yi,vi\nA,0.1,0.2\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = (str(src), "--measure", "MD", "--benefit", "higher", "--out", str(out))
    code, text = cli_import(capsys, *args)
    assert code == 2
    assert "already exists and is not empty (--force replaces it)" in text
    assert (out / "keep.txt").read_text() == "mine"
    assert cli_import(capsys, *args, "--force")[0] == 0
    assert not (out / "keep.txt").exists()
    assert run_main("validate", "--evidence", str(out)) == 0


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    options = ImportOptions(measure="OR", benefit="lower", study="publication")
    first, second = tmp_path / "a", tmp_path / "b"
    import_table(CRINS, first, options)
    import_table(CRINS, second, options)
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
