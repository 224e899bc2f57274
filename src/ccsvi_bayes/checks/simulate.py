"""Simulated evidence sets with known truth, in the evidence-folder format.

Used by recovery tests and by ``nox -s checks``: a mixed-design set of sham-controlled RCTs
and uncontrolled single-arm studies whose changes include a no-treatment response (π) and,
for the uncontrolled studies, a bias (β). Every row says it is simulated.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ccsvi_bayes import vocabulary as V

__all__ = ["HarmsTruth", "SimulationTruth", "write_harms_set", "write_mixed_design_set"]


@dataclass(frozen=True)
class SimulationTruth:
    """Parameters of a simulated set (SMD units; positive = benefit)."""

    mu: float = 0.0  # true effect
    tau: float = 0.05  # between-study SD of the true effect
    pi_mean: float = 0.3  # no-treatment (sham) response
    pi_sd: float = 0.05
    bias_uncontrolled: float = (
        0.4  # total bias of an uncontrolled, unblinded PRO single-centre study
    )
    bias_sd: float = 0.05
    n_rct: int = 4
    n_single: int = 8
    n_per_arm: int = 100
    sd_change: float = 1.0


def write_mixed_design_set(
    folder: str | Path, truth: SimulationTruth | None = None, seed: int = 1
) -> Path:
    """Write a simulated evidence folder (domain ``qol``, instrument ``SIM``) and return it."""
    t = truth or SimulationTruth()
    rng = np.random.default_rng(seed)
    source = f"simulated by ccsvi_bayes.checks.simulate (seed {seed})"

    def arms_of(sid: str, rct: bool) -> list[dict[str, str]]:
        pi = rng.normal(t.pi_mean, t.pi_sd)
        theta = rng.normal(t.mu, t.tau)
        bias = 0.0 if rct else rng.normal(t.bias_uncontrolled, t.bias_sd)
        means = {"treatment": pi + theta + bias, **({"control": pi} if rct else {})}
        se = t.sd_change / np.sqrt(t.n_per_arm)
        return [
            {
                "arm": arm,
                "n": str(t.n_per_arm),
                "mean_change": f"{rng.normal(mean, se):.6f}",
                "sd_change": f"{t.sd_change:g}",
            }
            for arm, mean in means.items()
        ]

    header = (
        'name = "simulated_mixed_design"\n'
        'question = "Does the simulated intervention work (truth known)?"\n'
        "[domains.qol]\n"
        'label = "Simulated quality of life"\nscale = "smd"\ninstruments = ["SIM"]\n'
        "timepoint_weeks = [12, 78]\nmcid = 0.2\n"
    )
    layout = _Layout(
        header,
        _instrument_row("SIM", "continuous", "true", ("1.0", "0.2", "simulation")),
        _StudyFacts("2020", ("true", "true"), ("4", "1"), "48", "patient_reported"),
        ("qol", "SIM", "48"),
        "simulated value",
        source,
    )
    return _write_set(folder, layout, t, (t.n_rct, t.n_single), arms_of)


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class _Layout:
    """What every study of a simulated set shares: the ``evidence.toml`` text (the truth is
    appended as a comment), its one instrument, the studies' design facts, where every arm
    row sits (outcome, instrument, timepoint in weeks), its quote, and the source."""

    header: str
    instrument: dict[str, str]
    facts: _StudyFacts
    where: tuple[str, str, str]
    quote: str
    source: str


def _write_set(
    folder: str | Path,
    layout: _Layout,
    truth: SimulationTruth | HarmsTruth,
    counts: tuple[int, int],
    arms_of: Callable[[str, bool], list[dict[str, str]]],
) -> Path:
    """Write an evidence folder of ``counts`` = (RCTs, other studies); each study's arms are
    the cells ``arms_of(study id, randomized)`` gives (``arm``, ``n`` and the numbers; it is
    called in study order), the rest from ``layout``. Returns the folder."""
    studies, arms = [], []
    for sid, rct in _study_ids(*counts):
        studies.append(_study_row(sid, rct, layout.facts, layout.source))
        arms += [_arm_row(sid, layout, **cells) for cells in arms_of(sid, rct)]
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    toml = layout.header + f"# truth: {asdict(truth)}\n"
    (root / "evidence.toml").write_text(toml, encoding="utf-8")
    _write(root / "instruments.csv", V.INSTRUMENTS_COLUMNS, [layout.instrument])
    _write(root / "studies.csv", V.STUDIES_COLUMNS, studies)
    _write(root / "arms.csv", V.ARMS_COLUMNS, arms)
    return root


def _study_ids(n_rct: int, n_other: int) -> Iterator[tuple[str, bool]]:
    """(study id, randomized): the RCTs R01, R02, … first, then the others S.., numbered on."""
    for i in range(n_rct + n_other):
        rct = i < n_rct
        yield f"{'R' if rct else 'S'}{i + 1:02d}", rct


def _instrument_row(
    name: str, kind: str, higher_is_better: str, sd_mcid: tuple[str, str, str]
) -> dict[str, str]:
    """An instruments.csv row; ``sd_mcid`` is (reference SD, MCID, MCID source)."""
    reference_sd, mcid, mcid_source = sd_mcid
    return {
        "instrument": name,
        "kind": kind,
        "higher_is_better": higher_is_better,
        "scale_min": "",
        "scale_max": "",
        "reference_sd": reference_sd,
        "mcid": mcid,
        "mcid_source": mcid_source,
    }


@dataclass(frozen=True)
class _StudyFacts:
    """The design facts every study of a simulated set shares; ``prospective`` and
    ``centres`` are (RCT value, other value)."""

    year: str
    prospective: tuple[str, str]
    centres: tuple[str, str]
    follow_up_weeks: str
    assessment: str


def _study_row(sid: str, rct: bool, facts: _StudyFacts, source: str) -> dict[str, str]:
    """A studies.csv row: a double-blind sham-controlled RCT, or an uncontrolled single arm."""
    pick = 0 if rct else 1
    return {
        "study_id": sid,
        "label": f"simulated {sid}",
        "year": facts.year,
        "design": "rct" if rct else "single_arm",
        "randomized": str(rct).lower(),
        "blinding": "double" if rct else "none",
        "control": "sham" if rct else "none",
        "prospective": facts.prospective[pick],
        "centres": facts.centres[pick],
        "follow_up_weeks": facts.follow_up_weeks,
        "outcome_assessment": facts.assessment,
        "citation": "",
        "source": source,
        "notes": "",
    }


def _arm_row(
    sid: str,
    layout: _Layout,
    *,
    arm: str,
    n: str,
    mean_change: str = "",
    sd_change: str = "",
    events: str = "",
) -> dict[str, str]:
    """An arms.csv row of study ``sid``; outcome, instrument, timepoint, quote and source
    from ``layout``."""
    outcome, instrument, weeks = layout.where
    return {
        "study_id": sid,
        "outcome": outcome,
        "instrument": instrument,
        "arm": arm,
        "timepoint_weeks": weeks,
        "n": n,
        "mean_change": mean_change,
        "sd_change": sd_change,
        "events": events,
        "source": layout.source,
        "location": "simulated",
        "quote": layout.quote,
        "assumption": "",
    }


@dataclass(frozen=True)
class HarmsTruth:
    """A simulated harms set: randomized trials (both arms) plus retrospective case series
    that record only a share ``rho`` of their events."""

    alpha_mean: float = -3.9  # control log-odds: risk 2%
    delta: float = 1.1  # log odds ratio: OR 3.0
    n_rct: int = 4
    n_series: int = 8
    n_rct_arm: int = 150
    n_series_arm: int = 400
    rho_series: float = 0.6


def write_harms_set(folder: str | Path, truth: HarmsTruth | None = None, seed: int = 1) -> Path:
    """Write a simulated harms evidence folder (domain ``harm``, instrument ``EVENT``)."""
    t = truth or HarmsTruth()
    rng = np.random.default_rng(seed)
    source = f"simulated by ccsvi_bayes.simulate.write_harms_set (seed {seed})"

    def arms_of(sid: str, rct: bool) -> list[dict[str, str]]:
        rho = 1.0 if rct else t.rho_series
        plan = {"treatment": (t.alpha_mean + t.delta, t.n_rct_arm if rct else t.n_series_arm)}
        if rct:
            plan["control"] = (t.alpha_mean, t.n_rct_arm)
        return [
            {"arm": arm, "n": str(n), "events": str(rng.binomial(n, rho / (1.0 + np.exp(-logit))))}
            for arm, (logit, n) in plan.items()
        ]

    header = (
        'name = "simulated_harms"\nquestion = "How often does the simulated procedure harm?"\n'
        '[domains.harm]\nlabel = "Simulated serious harm"\nscale = "log_odds"\ninstruments = ["EVENT"]\n'
        'timepoint_weeks = [0, 104]\nendpoint = "complication_major"\n'
    )
    layout = _Layout(
        header,
        _instrument_row("EVENT", "count", "false", ("", "", "")),
        _StudyFacts("2015", ("true", "false"), ("3", "3"), "26", "clinician"),
        ("harm", "EVENT", "26"),
        "simulated count",
        source,
    )
    return _write_set(folder, layout, t, (t.n_rct, t.n_series), arms_of)
