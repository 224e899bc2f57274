"""The embedded CCSVI evidence set: the readings the evidence sheet insists on, and the
switches that keep alternative readings reachable."""

from __future__ import annotations

import pandas as pd
import pytest

from ccsvi_bayes.errors import InvalidEvidence
from ccsvi_bayes.evidence import load_evidence


@pytest.fixture(scope="module")
def ev():  # type: ignore[no-untyped-def]
    return load_evidence()


def arm(ev, study: str, instrument: str, arm: str) -> pd.Series:  # type: ignore[no-untyped-def]
    a = ev.arms
    rows = a[(a["study_id"] == study) & (a["instrument"] == instrument) & (a["arm"] == arm)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


REQUIRED_STUDIES = {
    "TRAB18",
    "BRAVE18",
    "PREM14",
    "NAP20",
    "ZAMB12",
    "ZAMB09",
    "HUB12",
    "BEGGS18",
    "RUSH12",
    "ALB12",
    "NSCI13",
    "GHEZ13",
    "BCREG",
    "MAND12",
    "PETR11",
    "LUPA13",
    "SIMKA10",
}
REQUIRED_DOMAINS = {
    "qol_physical",
    "qol_mental",
    "disability_edss",
    "disability_msfc",
    "pain",
    "fatigue",
    "relapse",
    "global_improvement",
    "sae_any",
    "complication_major",
}


def test_studies_and_domains_present(ev) -> None:  # type: ignore[no-untyped-def]
    assert set(ev.studies["study_id"]) >= REQUIRED_STUDIES
    assert set(ev.domains) >= REQUIRED_DOMAINS


def test_every_number_has_provenance(ev) -> None:  # type: ignore[no-untyped-def]
    for col in ("source", "location", "quote"):
        assert (ev.arms[col].str.len() > 0).all(), col
    assert (ev.studies["source"].str.len() > 0).all()


def test_traboulsee_sham_column_is_first(ev) -> None:  # type: ignore[no-untyped-def]
    # Seed 000 lists Sham first: sham +1.3 / venoplasty +1.4 (physical); +1.2 / -0.8 (mental)
    assert arm(ev, "TRAB18", "MSQOL-54 PHC", "control")["mean_change"] == 1.3
    assert arm(ev, "TRAB18", "MSQOL-54 PHC", "treatment")["mean_change"] == 1.4
    assert arm(ev, "TRAB18", "MSQOL-54 MHC", "control")["mean_change"] == 1.2
    assert arm(ev, "TRAB18", "MSQOL-54 MHC", "treatment")["mean_change"] == -0.8
    assert arm(ev, "TRAB18", "MSQOL-54 MHC", "treatment")["sd_change"] == 18.7
    assert arm(ev, "TRAB18", "EDSS", "treatment")["mean_change"] == -0.2
    assert arm(ev, "TRAB18", "MSFC", "treatment")["sd_change"] == 1.5


def test_traboulsee_harms(ev) -> None:  # type: ignore[no-untyped-def]
    t = arm(ev, "TRAB18", "Serious adverse event", "treatment")
    c = arm(ev, "TRAB18", "Serious adverse event", "control")
    assert (t["events"], t["n"], c["events"], c["n"]) == (5, 49, 1, 55)


def test_per_procedure_denominators_are_explicit(ev) -> None:  # type: ignore[no-untyped-def]
    comp = ev.arms[ev.arms["outcome"] == "complication_major"].set_index("study_id")
    assert comp.loc["MAND12", "n_unit"] == "procedures"
    assert comp.loc["HUB12", "n_unit"] == "patients"


def test_every_switch_option_loads(ev) -> None:  # type: ignore[no-untyped-def]
    for sid, alt in ev.alternatives.items():
        for oid in alt.options:
            other = load_evidence(assumptions={sid: oid})
            assert other.assumptions[sid] == oid
            if oid != alt.default:
                assert other.sha256 != ev.sha256, (sid, oid)


def test_switch_changes_the_data(ev) -> None:  # type: ignore[no-untyped-def]
    other = load_evidence(assumptions={"hub12_denominator": "n259"})
    hub = other.arms[
        (other.arms["study_id"] == "HUB12") & (other.arms["outcome"] == "qol_physical")
    ]
    assert set(hub["n"]) == {259}
    assert set(
        ev.arms.loc[(ev.arms["study_id"] == "HUB12") & (ev.arms["outcome"] == "qol_physical"), "n"]
    ) == {238}
    zamb = load_evidence(assumptions={"zamb12_randomized": "nonrandomized"}).study("ZAMB12")
    assert not zamb["randomized"]


def test_switch_that_matches_nothing_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from ccsvi_bayes.resources import default_evidence_path

    folder = tmp_path / "ccsvi"
    shutil.copytree(default_evidence_path(), folder)
    alt = folder / "alternatives.toml"
    alt.write_text(
        alt.read_text().replace(
            'study_id = "ZAMB09", outcome = "relapse"', 'study_id = "ZAMB99", outcome = "relapse"'
        )
    )
    with pytest.raises(InvalidEvidence, match="matches no row"):
        load_evidence(folder, assumptions={"zamb09_relapse_events": "e17"})
