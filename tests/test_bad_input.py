"""No input crashes the process (issue 10, item 6) and nothing is read silently (item 7).

One test per class of bad input: non-finite numbers spelled every way in every file, files in
the wrong encoding or binary, a model that cannot start sampling, a worker that dies; then
the honesty defects: a blank ``centres``, ``elicited_bias.csv`` validation, harms-domain
contrast rows. Each is checked through the loader and through the CLI (exit code, message,
no traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ccsvi_bayes.errors import InvalidEvidence, InvalidModelSpec, SamplerInitError
from ccsvi_bayes.evidence import load_evidence
from tests.conftest import PPVIPD, edit_csv
from tests.test_data_validation import TRAB_SHAM_PHC, problems_of, run_main, set_cell

# --- non-finite numbers ----------------------------------------------------------------------
#: (file, row match, column, spelling): every numeric table, many spellings of inf and nan
NON_FINITE_CELLS = [
    ("arms", TRAB_SHAM_PHC, "sd_change", "inf"),
    ("arms", TRAB_SHAM_PHC, "sd_change", "-inf"),
    ("arms", TRAB_SHAM_PHC, "sd_change", "Infinity"),
    ("arms", TRAB_SHAM_PHC, "mean_change", "nan"),
    ("arms", TRAB_SHAM_PHC, "mean_change", "NaN"),
    ("arms", TRAB_SHAM_PHC, "n", "1e999"),
    ("arms", TRAB_SHAM_PHC, "p_value", "-NAN"),
    ("studies", {"study_id": "TRAB18"}, "follow_up_weeks", "+inf"),
    ("studies", {"study_id": "TRAB18"}, "centres", "INF"),
    ("studies", {"study_id": "TRAB18"}, "year", "nan"),
    ("instruments", {"instrument": "MSQOL-54 PHC"}, "reference_sd", "-Infinity"),
    ("instruments", {"instrument": "MSQOL-54 PHC"}, "mcid", "1E400"),
    ("elicited_bias", {"study_id": "PREM14"}, "bias_sd", "inf"),
    ("elicited_bias", {"study_id": "PREM14"}, "bias_mean", "NaN"),
]


@pytest.mark.parametrize(("table", "match", "column", "spelling"), NON_FINITE_CELLS)
def test_non_finite_cell_is_rejected(
    ccsvi_copy: Path, table: str, match: dict[str, str], column: str, spelling: str
) -> None:
    line = set_cell(ccsvi_copy, table, match, column, spelling)
    found = problems_of(ccsvi_copy)
    wanted = [
        p
        for p in found
        if f"{table}.csv, line {line}, column '{column}'" in p
        and "not a finite number" in p
        and repr(spelling) in p
    ]
    assert wanted, found
    assert len(found) == 1, found  # no echo ("must be > 0: got -inf", "no result", ...)
    assert run_main("validate", "--evidence", str(ccsvi_copy)) == 2


@pytest.mark.parametrize(("column", "spelling"), [("estimate", "-inf"), ("se", "nan")])
def test_non_finite_contrast_is_rejected(tmp_path: Path, column: str, spelling: str) -> None:
    folder = tmp_path / "ppv"
    shutil.copytree(PPVIPD, folder)
    line = set_cell(folder, "contrasts", {"study_id": "PPV03"}, column, spelling)
    found = problems_of(folder)
    assert any(
        f"contrasts.csv, line {line}, column '{column}'" in p and "not a finite number" in p
        for p in found
    ), found
    assert run_main("validate", "--evidence", str(folder)) == 2


def test_every_non_finite_cell_is_listed_at_once(ccsvi_copy: Path) -> None:
    for table, match, column, spelling in NON_FINITE_CELLS[::3]:
        set_cell(ccsvi_copy, table, match, column, spelling)
    found = problems_of(ccsvi_copy)
    assert sum("not a finite number" in p for p in found) == len(NON_FINITE_CELLS[::3]), found


@pytest.mark.parametrize(
    ("pattern", "new", "key"),
    [
        (r"\[12, 78\]", "[12, inf]", "domains.qol_physical.timepoint_weeks[1]"),
        (r"\[12, 78\]", "[nan, 78]", "domains.qol_physical.timepoint_weeks[0]"),
        (r"(?m)^mcid = .*$", "mcid = -inf", "domains.qol_physical.mcid"),
        (r"(?m)^mcid = .*$", "mcid = 1e999", "domains.qol_physical.mcid"),
    ],
)
def test_non_finite_in_evidence_toml(ccsvi_copy: Path, pattern: str, new: str, key: str) -> None:
    import re

    toml = ccsvi_copy / "evidence.toml"
    text, n = re.subn(pattern, new, toml.read_text(encoding="utf-8"), count=1)
    assert n == 1
    toml.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new in t)
    found = problems_of(ccsvi_copy)
    assert any(
        f"evidence.toml, line {line}, column '{key}'" in p and "not a finite number" in p
        for p in found
    ), found
    assert run_main("validate", "--evidence", str(ccsvi_copy)) == 2


def test_non_finite_in_alternatives_toml(ccsvi_copy: Path) -> None:
    toml = ccsvi_copy / "alternatives.toml"
    lines = toml.read_text(encoding="utf-8").splitlines()
    i = next(i for i, t in enumerate(lines) if "values = { n = 259, events = " in t)
    lines[i] = lines[i].replace("values = { n = 259", "values = { n = nan", 1)
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems_of(ccsvi_copy)
    assert any(
        f"alternatives.toml, line {i + 1}" in p and ".values.n'" in p and "not a finite" in p
        for p in found
    ), found


# --- encodings -------------------------------------------------------------------------------
def test_latin1_csv_names_file_line_and_column(ccsvi_copy: Path) -> None:
    line = set_cell(ccsvi_copy, "studies", {"study_id": "PREM14"}, "label", "Prémmi 2014")
    path = ccsvi_copy / "studies.csv"
    path.write_bytes(path.read_bytes().replace("é".encode(), "é".encode("latin-1")))
    found = problems_of(ccsvi_copy)
    assert any(
        f"studies.csv, line {line}, column 'label'" in p and "not UTF-8" in p and "e9" in p
        for p in found
    ), found
    assert run_main("validate", "--evidence", str(ccsvi_copy)) == 2


def test_latin1_toml_names_file_and_line(ccsvi_copy: Path) -> None:
    toml = ccsvi_copy / "evidence.toml"
    lines = toml.read_text(encoding="utf-8").splitlines()
    i = next(i for i, t in enumerate(lines) if t.startswith("label = "))
    lines[i] = lines[i].replace('"', '"Qualité ', 1)
    toml.write_bytes(("\n".join(lines) + "\n").encode("latin-1", errors="replace"))
    found = problems_of(ccsvi_copy)
    assert any(f"evidence.toml, line {i + 1}" in p and "not UTF-8" in p for p in found), found


@pytest.mark.parametrize(
    ("name", "payload", "fragment"),
    [
        ("instruments.csv", "utf-16", "encoded as UTF-16"),
        ("arms.csv", b"study_id,outcome\x00\x01\x02\xff\n", "binary content"),
        ("alternatives.toml", b"\x7fELF\x02\x01\x01\x00\x00", "binary content"),
    ],
)
def test_foreign_or_binary_file_is_named(
    ccsvi_copy: Path, name: str, payload: str | bytes, fragment: str
) -> None:
    path = ccsvi_copy / name
    if isinstance(payload, str):
        path.write_bytes(path.read_text(encoding="utf-8").encode(payload))
    else:
        path.write_bytes(payload)
    found = problems_of(ccsvi_copy)
    assert any(p.startswith(f"{name}, line 1") and fragment in p for p in found), found
    assert run_main("validate", "--evidence", str(ccsvi_copy)) == 2


def test_utf8_byte_order_mark_is_accepted(ccsvi_copy: Path) -> None:
    for name in ("arms.csv", "evidence.toml"):
        path = ccsvi_copy / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load_evidence(ccsvi_copy).arms) == len(load_evidence().arms)


# --- elicited_bias.csv is validated ----------------------------------------------------------
def test_elicited_bias_rules(ccsvi_copy: Path) -> None:
    bad_sd = set_cell(ccsvi_copy, "elicited_bias", {"study_id": "PREM14"}, "bias_sd", "-0.2")
    bad_id = set_cell(ccsvi_copy, "elicited_bias", {"study_id": "NAP20"}, "study_id", "NOPE1")
    bad_mean = set_cell(ccsvi_copy, "elicited_bias", {"study_id": "ALB12"}, "bias_mean", "0,4")
    found = problems_of(ccsvi_copy)
    for fragment in (
        f"elicited_bias.csv, line {bad_sd}, column 'bias_sd': must be >= 0",
        f"elicited_bias.csv, line {bad_id}, column 'study_id': unknown study 'NOPE1'",
        f"elicited_bias.csv, line {bad_mean}, column 'bias_mean': not a number",
    ):
        assert any(fragment in p for p in found), (fragment, found)
    assert run_main("validate", "--evidence", str(ccsvi_copy)) == 2


def test_elicited_bias_missing_column(ccsvi_copy: Path) -> None:
    edit_csv(
        ccsvi_copy / "elicited_bias.csv",
        lambda h, r: (
            [c for c in h if c != "bias_sd"],
            [{k: v for k, v in x.items() if k != "bias_sd"} for x in r],
        ),
    )
    found = problems_of(ccsvi_copy)
    assert any("elicited_bias.csv, line 1, column 'bias_sd': missing required" in p for p in found)


def test_elicited_table_named_by_the_spec_is_validated(ccsvi_copy: Path) -> None:
    from ccsvi_bayes.models.registry import model_family
    from ccsvi_bayes.specs import load_spec

    shutil.copy(ccsvi_copy / "elicited_bias.csv", ccsvi_copy / "other_bias.csv")
    line = set_cell(ccsvi_copy, "other_bias", {"study_id": "PREM14"}, "bias_sd", "inf")
    ev = load_evidence(ccsvi_copy)  # other_bias.csv is not part of the evidence set
    spec = load_spec("bias_adjusted", ["bias.form=elicited", "bias.elicited_table=other_bias.csv"])
    with pytest.raises(InvalidEvidence) as info:
        model_family(spec.family).prepare(ev, spec, "qol_physical")
    assert any(
        f"other_bias.csv, line {line}, column 'bias_sd': not a finite number" in str(p)
        for p in info.value.problems
    ), info.value.problems
    # a study of the model without a row is named, with the choices
    (ccsvi_copy / "other_bias.csv").write_text(
        "study_id,bias_mean,bias_sd,source\nTRAB18,0,0,x\n", encoding="utf-8"
    )
    with pytest.raises(InvalidModelSpec, match=r"other_bias.csv: no elicited bias for .*HUB12"):
        model_family(spec.family).prepare(ev, spec, "qol_physical")


# --- a blank centres is read by a documented switch, with a note -----------------------------
def _bias_adjusted_notes(
    evidence_path: Path | None, *overrides: str
) -> tuple[list[str], dict[str, float]]:
    from ccsvi_bayes.models.registry import model_family
    from ccsvi_bayes.specs import load_spec

    spec = load_spec("bias_adjusted", list(overrides))
    _rows, data = model_family(spec.family).prepare(
        load_evidence(evidence_path), spec, "qol_physical"
    )
    single = dict(
        zip(data.study_table.index, data.x[:, data.features.index("single_centre")], strict=True)
    )
    return list(data.notes), single


def test_blank_centres_default_is_multicentre_with_a_note() -> None:
    notes, single = _bias_adjusted_notes(None)
    assert single["HUB12"] == 0.0
    assert single["ALB12"] == 1.0
    centres = [n for n in notes if "centres unknown" in n]
    assert centres, notes
    assert "HUB12" in centres[0]
    assert "read as multicentre" in centres[0]
    assert "harmonize.unknown_centres=single_centre" in centres[0]


def test_blank_centres_switch_reads_them_as_single_centre() -> None:
    notes, single = _bias_adjusted_notes(None, "harmonize.unknown_centres=single_centre")
    assert single["HUB12"] == 1.0
    assert single["TRAB18"] == 0.0
    assert any("read as single_centre" in n for n in notes), notes


def test_blank_centres_harmonized_row_says_so() -> None:
    from ccsvi_bayes.harmonize import harmonize

    rows = harmonize(load_evidence(), "qol_physical")
    hub = rows[rows["study_id"] == "HUB12"]
    assert hub["centres"].isna().all()
    assert hub["harmonization"].str.contains("centres unknown: read as multicentre").all()


def test_unknown_centres_rejects_other_readings() -> None:
    from ccsvi_bayes.specs import load_spec

    with pytest.raises(InvalidModelSpec, match="multicentre"):
        load_spec("bias_adjusted", ["harmonize.unknown_centres=unknown"])


# --- harms-domain contrast rows are reported, not dropped silently --------------------------
def test_harms_contrast_rows_are_named_in_the_notes(ccsvi_copy: Path) -> None:
    from ccsvi_bayes.models.harms import prepare_harms_data
    from ccsvi_bayes.specs import load_spec

    def add(
        header: list[str], rows: list[dict[str, str]]
    ) -> tuple[list[str], list[dict[str, str]]]:
        row = dict.fromkeys(header, "")
        row.update(
            study_id="NAP20",
            outcome="sae_any",
            instrument="Serious adverse event",
            timepoint_weeks="52",
            measure="log_or",
            estimate="0.3",
            se="0.8",
            source="test",
            location="test",
            quote="test",
        )
        return header, [*rows, row]

    edit_csv(ccsvi_copy / "contrasts.csv", add)
    data = prepare_harms_data(load_evidence(ccsvi_copy), load_spec("sae_any"), "sae_any")
    assert "NAP20" not in data.studies
    dropped = [n for n in data.notes if "NAP20" in n]
    assert dropped, data.notes
    assert "contrasts.csv line" in dropped[0]
    assert "arm-based" in dropped[0]


# --- a sampler that cannot start, a worker that dies: messages and exit codes ----------------
def _extreme_ppv(tmp_path: Path) -> Path:
    """Finite but extreme data: a log OR of 1e300 with SE 1e-300 (valid, yet no starting
    point of the model has a finite log-density)."""
    folder = tmp_path / "ppv_extreme"
    shutil.copytree(PPVIPD, folder)
    set_cell(folder, "contrasts", {"study_id": "PPV01"}, "estimate", "1e300")
    set_cell(folder, "contrasts", {"study_id": "PPV01"}, "se", "1e-300")
    load_evidence(folder)  # valid: the numbers are finite
    return folder


def test_compiled_model_names_the_non_finite_term() -> None:
    import pymc as pm

    from ccsvi_bayes.inference.compiled import CompiledModel

    with pm.Model(coords={"obs": ["a", "b", "c"]}) as model:
        y = pm.Data("y", np.zeros(3), dims="obs")
        s = pm.Data("s", np.ones(3), dims="obs")
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y_obs", mu, s, observed=y, dims="obs")
    compiled = CompiledModel(model)
    compiled.check_initial_point({"y": np.zeros(3), "s": np.ones(3)})  # fine: no error
    with pytest.raises(SamplerInitError, match=r"y_obs\[b\] = -inf"):
        compiled.check_initial_point({"y": np.array([0.0, 1e300, 0.0]), "s": np.ones(3) * 1e-300})
    with pytest.raises(SamplerInitError, match=r"non-finite model inputs: y \(1 of 3"):
        compiled.check_initial_point({"y": np.array([0.0, np.inf, 0.0]), "s": np.ones(3)})


def test_sampler_init_failure_through_the_cli(tmp_path: Path) -> None:
    """A real process: exit 2 with a message naming the observation, no traceback, no
    signal, and no hang (four chains: the groups run in worker processes)."""
    folder = _extreme_ppv(tmp_path)
    cmd = [
        sys.executable,
        "-c",
        "from ccsvi_bayes.cli import main; main()",
        "fit",
        "-m",
        "naive",
        "-o",
        "ipd",
        "--out",
        str(tmp_path / "out"),
        "--evidence",
        str(folder),
        "--draws",
        "20",
        "--tune",
        "20",
        "--chains",
        "4",
    ]
    env = {k: v for k, v in os.environ.items() if k != "CCSVI_BAYES_TRACEBACK"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "the sampler cannot start" in output, output
    assert "naive / ipd, chains" in output, output  # the fit is named, then the chain group
    assert "y_contrast[PPV01:contrast] = -inf" in output, output
    assert "Traceback" not in output, output
    assert not (tmp_path / "out" / "summary.json").exists()


def die_in_worker(_job: object) -> None:
    """Stands in for a chain group whose worker process crashes."""
    os._exit(1)


def test_worker_death_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ccsvi_bayes.inference import nuts

    monkeypatch.setattr(nuts, "sample_chain_group", die_in_worker)
    monkeypatch.delenv("CCSVI_BAYES_TRACEBACK", raising=False)
    code = run_main(
        "fit",
        *("-m", "naive", "-o", "ipd", "--out", str(tmp_path / "out")),
        *("--evidence", str(PPVIPD), "--draws", "20", "--tune", "20", "--chains", "4"),
    )
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == 1, text
    assert "naive / ipd, chains" in text, text
    assert "worker process died" in text, text
    assert "Traceback" not in text, text


def test_unexpected_error_is_a_message_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    app_module = importlib.import_module("ccsvi_bayes.cli.app")

    def boom() -> None:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(app_module, "app", boom)
    monkeypatch.delenv("CCSVI_BAYES_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as info:
        app_module.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: planted bug" in err
    assert "Traceback" not in err
