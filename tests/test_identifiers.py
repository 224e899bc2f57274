"""Identifiers are a contract and paths stay inside their folder (issue 17, item 1).

Study, arm, domain (outcome) and reading ids match ``[A-Za-z0-9_-]+``; instrument names and
study labels carry no invisible characters; a message shows an offending id escaped and
names the code point. A path built from input (``bias.elicited_table``) is resolved and must
stay inside the evidence folder; a symlink loop is reported as a loop."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ccsvi_bayes.errors import InvalidEvidence, InvalidModelSpec, UnsafePath
from ccsvi_bayes.evidence import elicited_bias_table, id_reason, inside, load_evidence, shown
from tests.test_data_validation import TRAB_SHAM_PHC, assert_problem, problems_of, set_cell

#: (id as typed, how a message shows it, what the message names)
BAD_IDS = [
    ("../../../x", "'../../../x'", "U+002F SOLIDUS (a path separator)"),
    ("/etc/passwd", "'/etc/passwd'", "(a path separator)"),
    ('TR"AB18', "'TR\"AB18'", "U+0022 QUOTATION MARK"),
    ("TRAB 18", "'TRAB 18'", "U+0020 SPACE (a space)"),
    ("TRAB\u200b18", "'TRAB\\u200b18'", "U+200B ZERO WIDTH SPACE (an invisible"),
    ("\u0422RAB18", "'\\u0422RAB18'", "U+0422 CYRILLIC CAPITAL LETTER TE (a non-ASCII look-alike)"),
    ("TRAB\u202e81", "'TRAB\\u202e81'", "U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional-text"),
    ("TRAB\x0718", "'TRAB\\x0718'", "U+0007 (a control character)"),
]


@pytest.mark.parametrize(("typed", "escaped", "named"), BAD_IDS)
def test_study_id_must_match_the_pattern(
    ccsvi_copy: Path, typed: str, escaped: str, named: str
) -> None:
    line = set_cell(ccsvi_copy, "studies", {"study_id": "TRAB18"}, "study_id", typed)
    assert_problem(
        ccsvi_copy,
        f"studies.csv, line {line}, column 'study_id'",
        f"invalid id {escaped}",
        named,
        "[A-Za-z0-9_-]+",
    )


def test_message_never_shows_an_invisible_character(ccsvi_copy: Path) -> None:
    """Every message about a zero-width id shows it escaped: nothing normal-looking."""
    set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, "study_id", "TRAB\u200b18")
    found = problems_of(ccsvi_copy)
    assert found
    assert all("\u200b" not in p for p in found), found
    assert any("unknown study 'TRAB\\u200b18'" in p for p in found), found


@pytest.mark.parametrize("column", ["study_id", "outcome"])
def test_arm_row_ids_must_match_the_pattern(ccsvi_copy: Path, column: str) -> None:
    line = set_cell(ccsvi_copy, "arms", TRAB_SHAM_PHC, column, "a/b")
    assert_problem(ccsvi_copy, f"arms.csv, line {line}, column '{column}'", "invalid id 'a/b'")


@pytest.mark.parametrize("domain", ["../../../x", "/tmp/x", 'q"uote', "sa\u200be"])
def test_domain_id_must_match_the_pattern(ccsvi_copy: Path, domain: str) -> None:
    """A domain id becomes a folder of a run: ``../../../x`` wrote above ``--out``."""
    toml = ccsvi_copy / "evidence.toml"
    quoted = domain.replace('"', '\\"')
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("[domains.pain]", f'[domains."{quoted}"]'),
        encoding="utf-8",
    )
    assert_problem(
        ccsvi_copy, "evidence.toml", f"column 'domains.{shown(domain)[1:-1]}'", "invalid id"
    )


def test_reading_ids_must_match_the_pattern(ccsvi_copy: Path) -> None:
    alt = ccsvi_copy / "alternatives.toml"
    alt.write_text(
        alt.read_text(encoding="utf-8")
        + '\n["bad/switch"]\ndefault = "a"\n["bad/switch".options.a]\n'
        + '\n[ok_switch]\ndefault = "a"\n[ok_switch.options.a]\n[ok_switch.options."b\u200b"]\n',
        encoding="utf-8",
    )
    found = problems_of(ccsvi_copy)
    assert any("column 'bad/switch': invalid id 'bad/switch'" in p for p in found), found
    assert any(
        "column 'ok_switch.options.b\\u200b'" in p and "U+200B ZERO WIDTH SPACE" in p for p in found
    ), found


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\n"])
def test_instrument_name_has_no_invisible_character(ccsvi_copy: Path, char: str) -> None:
    name = f"MSQOL-54{char} PHC"
    line = set_cell(ccsvi_copy, "instruments", {"instrument": "MSQOL-54 PHC"}, "instrument", name)
    assert_problem(
        ccsvi_copy,
        f"instruments.csv, line {line}, column 'instrument'",
        f"U+{ord(char):04X}",
        "names may not contain invisible characters",
    )


def test_a_plain_unicode_instrument_name_is_a_name() -> None:
    """Instruments are labels, not ids: accents are fine, invisible characters are not."""
    from ccsvi_bayes.evidence import name_reason

    assert name_reason("Échelle de qualité de vie") is None
    assert id_reason("TRAB18") is None
    assert id_reason("hub12_n-238") is None


# --- paths -----------------------------------------------------------------------------------
def test_inside_accepts_a_path_in_the_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    assert inside(tmp_path, "sub/x.csv", "field") == (tmp_path / "sub" / "x.csv").resolve()
    assert inside(tmp_path, tmp_path / "y.csv", "field") == (tmp_path / "y.csv").resolve()


@pytest.mark.parametrize("path", ["../x.csv", "/etc/passwd", "a/../../x.csv", ""])
def test_inside_refuses_a_path_that_leaves_the_folder(tmp_path: Path, path: str) -> None:
    folder = tmp_path / "evidence"
    (folder / "a").mkdir(parents=True)
    with pytest.raises(UnsafePath, match=r"^bias\.elicited_table: ") as info:
        inside(folder, path, "bias.elicited_table")
    assert info.value.exit_code == 2
    assert "outside the folder" in str(info.value) or "empty" in str(info.value)


def test_inside_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    (tmp_path / "secret.csv").write_text("x\n", encoding="utf-8")
    os.symlink(tmp_path / "secret.csv", folder / "link.csv")
    with pytest.raises(UnsafePath, match="outside the folder"):
        inside(folder, "link.csv", "bias.elicited_table")


def test_inside_reports_a_symlink_loop(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(UnsafePath, match="symlink loop"):
        inside(tmp_path, "a", "field")


@pytest.mark.parametrize("value", ["../elicited_bias.csv", "/etc/passwd", "sub/x.csv", "x.txt"])
def test_elicited_table_names_a_file_of_the_evidence_folder(value: str) -> None:
    from ccsvi_bayes.specs import load_spec

    with pytest.raises(InvalidModelSpec, match=r"bias\.elicited_table must name a CSV file"):
        load_spec("bias_adjusted", ["bias.form=elicited", f"bias.elicited_table={value}"])


def test_elicited_table_outside_the_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_data_validation import run_main

    argv = ["fit", "-m", "bias_adjusted", "-o", "qol_physical", "--out", str(tmp_path / "o")]
    for value in ("../elicited_bias.csv", "/etc/passwd"):
        sets = ["--set", "bias.form=elicited", "--set", f"bias.elicited_table={value}"]
        assert run_main(*argv, *sets) == 2
        shown = capsys.readouterr()
        assert "bias.elicited_table must name a CSV file" in shown.out + shown.err
        assert "Traceback" not in shown.out + shown.err
    assert not (tmp_path / "o").exists()


def test_elicited_table_symlinked_out_of_the_folder_is_refused(
    ccsvi_copy: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.csv"
    shutil.copy(ccsvi_copy / "elicited_bias.csv", outside)
    os.symlink(outside, ccsvi_copy / "other_bias.csv")
    ev = load_evidence(ccsvi_copy)
    with pytest.raises(InvalidEvidence) as info:
        elicited_bias_table(ev, "other_bias.csv")
    assert any(
        "bias.elicited_table" in str(p) and "outside the folder" in str(p)
        for p in info.value.problems
    ), info.value.problems


def test_symlink_loops_are_reported_as_loops(ccsvi_copy: Path, tmp_path: Path) -> None:
    (ccsvi_copy / "arms.csv").unlink()
    os.symlink(ccsvi_copy / "loop.csv", ccsvi_copy / "arms.csv")
    os.symlink(ccsvi_copy / "arms.csv", ccsvi_copy / "loop.csv")
    assert_problem(ccsvi_copy, "arms.csv: file is a symlink loop")
    loop = tmp_path / "loop"
    os.symlink(tmp_path / "loop2", loop)
    os.symlink(loop, tmp_path / "loop2")
    assert any("evidence folder is a symlink loop" in p for p in problems_of(loop))


def test_run_with_a_traversing_domain_id_writes_nothing(ccsvi_copy: Path, tmp_path: Path) -> None:
    """Before: ``run`` wrote posterior.nc, summary.json and checks.json above ``--out``."""
    import subprocess
    import sys

    toml = ccsvi_copy / "evidence.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("[domains.pain]", '[domains."../../../x"]'),
        encoding="utf-8",
    )
    out = tmp_path / "deep" / "er" / "out"
    before = sorted(tmp_path.rglob("*"))
    cli = [sys.executable, "-c", "from ccsvi_bayes.cli import main; main()"]
    done = subprocess.run(
        [*cli, "run", "--evidence", str(ccsvi_copy), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "invalid id '../../../x'" in done.stderr + done.stdout
    created = {p for p in tmp_path.rglob("*") if p not in before}
    allowed = {out, out.parent, out.parent.parent}  # --out itself may be made
    assert {p for p in created if p not in allowed and out not in p.parents} == set()


def test_a_look_alike_code_is_shown_escaped(ccsvi_copy: Path) -> None:
    """``rсt`` with a Cyrillic ``с`` looked like ``rct`` in "unknown code: got 'rсt'"."""
    line = set_cell(ccsvi_copy, "studies", {"study_id": "TRAB18"}, "design", "r\u0441t")
    assert_problem(ccsvi_copy, f"studies.csv, line {line}, column 'design'", "got 'r\\u0441t'")


def test_an_unknown_reading_is_shown_escaped() -> None:
    found = problems_of(None, assumptions={"hub12_denominator\u200b": "n259"})  # type: ignore[arg-type]
    assert any("unknown switch 'hub12_denominator\\u200b'" in p for p in found), found
    found = problems_of(None, assumptions={"hub12_denominator": "n\u200b259"})  # type: ignore[arg-type]
    assert any("unknown option 'n\\u200b259'" in p for p in found), found


def test_an_evidence_file_linked_out_of_the_folder_is_refused(
    ccsvi_copy: Path, tmp_path: Path
) -> None:
    """A shared set's arms.csv linked to a private file would be read and quoted."""
    private = tmp_path / "private.csv"
    shutil.move(ccsvi_copy / "arms.csv", private)
    os.symlink(private, ccsvi_copy / "arms.csv")
    assert_problem(ccsvi_copy, "arms.csv: the path 'arms.csv' resolves to", "outside the folder")


def test_domain_label_has_no_invisible_character(ccsvi_copy: Path) -> None:
    toml = ccsvi_copy / "evidence.toml"
    text = toml.read_text(encoding="utf-8")
    start = text.index("[domains.pain]")
    label_at = text.index("label = ", start)
    toml.write_text(
        text[:label_at] + 'label = "Pa\\u202ein"\n' + text[text.index("\n", label_at) + 1 :],
        encoding="utf-8",
    )
    assert_problem(
        ccsvi_copy,
        "evidence.toml, column 'domains.pain.label'",
        "'Pa\\u202ein' contains U+202E RIGHT-TO-LEFT OVERRIDE",
    )
