"""Simulated evidence sets with known truth, in the evidence-folder format.

Used by recovery tests and by ``nox -s checks``: a mixed-design set of sham-controlled RCTs
and uncontrolled single-arm studies whose changes include a no-treatment response (π) and,
for the uncontrolled studies, a bias (β). Every row says it is simulated.
"""

from __future__ import annotations

import csv
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
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    source = f"simulated by ccsvi_bayes.checks.simulate (seed {seed})"
    (root / "evidence.toml").write_text(
        'name = "simulated_mixed_design"\n'
        'question = "Does the simulated intervention work (truth known)?"\n'
        "[domains.qol]\n"
        'label = "Simulated quality of life"\nscale = "smd"\ninstruments = ["SIM"]\n'
        "timepoint_weeks = [12, 78]\nmcid = 0.2\n"
        f"# truth: {asdict(t)}\n",
        encoding="utf-8",
    )
    _write(
        root / "instruments.csv",
        V.INSTRUMENTS_COLUMNS,
        [
            {
                "instrument": "SIM",
                "kind": "continuous",
                "higher_is_better": "true",
                "scale_min": "",
                "scale_max": "",
                "reference_sd": "1.0",
                "mcid": "0.2",
                "mcid_source": "simulation",
            },
        ],
    )
    studies, arms = [], []
    for i in range(t.n_rct + t.n_single):
        rct = i < t.n_rct
        sid = f"{'R' if rct else 'S'}{i + 1:02d}"
        studies.append(
            {
                "study_id": sid,
                "label": f"simulated {sid}",
                "year": "2020",
                "design": "rct" if rct else "single_arm",
                "randomized": str(rct).lower(),
                "blinding": "double" if rct else "none",
                "control": "sham" if rct else "none",
                "prospective": "true",
                "centres": "4" if rct else "1",
                "follow_up_weeks": "48",
                "outcome_assessment": "patient_reported",
                "citation": "",
                "source": source,
                "notes": "",
            }
        )
        pi = rng.normal(t.pi_mean, t.pi_sd)
        theta = rng.normal(t.mu, t.tau)
        bias = 0.0 if rct else rng.normal(t.bias_uncontrolled, t.bias_sd)
        means = {"treatment": pi + theta + bias, **({"control": pi} if rct else {})}
        for arm, mean in means.items():
            observed = rng.normal(mean, t.sd_change / np.sqrt(t.n_per_arm))
            arms.append(
                {
                    "study_id": sid,
                    "outcome": "qol",
                    "instrument": "SIM",
                    "arm": arm,
                    "timepoint_weeks": "48",
                    "n": str(t.n_per_arm),
                    "mean_change": f"{observed:.6f}",
                    "sd_change": f"{t.sd_change:g}",
                    "events": "",
                    "source": source,
                    "location": "simulated",
                    "quote": "simulated value",
                    "assumption": "",
                }
            )
    _write(root / "studies.csv", V.STUDIES_COLUMNS, studies)
    _write(root / "arms.csv", V.ARMS_COLUMNS, arms)
    return root


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


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
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    source = f"simulated by ccsvi_bayes.simulate.write_harms_set (seed {seed})"
    (root / "evidence.toml").write_text(
        'name = "simulated_harms"\nquestion = "How often does the simulated procedure harm?"\n'
        '[domains.harm]\nlabel = "Simulated serious harm"\nscale = "log_odds"\ninstruments = ["EVENT"]\n'
        'timepoint_weeks = [0, 104]\nendpoint = "complication_major"\n'
        f"# truth: {asdict(t)}\n",
        encoding="utf-8",
    )
    _write(
        root / "instruments.csv",
        V.INSTRUMENTS_COLUMNS,
        [
            {
                "instrument": "EVENT",
                "kind": "count",
                "higher_is_better": "false",
                "scale_min": "",
                "scale_max": "",
                "reference_sd": "",
                "mcid": "",
                "mcid_source": "",
            },
        ],
    )
    studies, arms = [], []
    for i in range(t.n_rct + t.n_series):
        rct = i < t.n_rct
        sid = f"{'R' if rct else 'S'}{i + 1:02d}"
        studies.append(
            {
                "study_id": sid,
                "label": f"simulated {sid}",
                "year": "2015",
                "design": "rct" if rct else "single_arm",
                "randomized": str(rct).lower(),
                "blinding": "double" if rct else "none",
                "control": "sham" if rct else "none",
                "prospective": str(rct).lower(),
                "centres": "3",
                "follow_up_weeks": "26",
                "outcome_assessment": "clinician",
                "citation": "",
                "source": source,
                "notes": "",
            }
        )
        rho = 1.0 if rct else t.rho_series
        plan = {"treatment": (t.alpha_mean + t.delta, t.n_rct_arm if rct else t.n_series_arm)}
        if rct:
            plan["control"] = (t.alpha_mean, t.n_rct_arm)
        for arm, (logit, n) in plan.items():
            events = rng.binomial(n, rho / (1.0 + np.exp(-logit)))
            arms.append(
                {
                    "study_id": sid,
                    "outcome": "harm",
                    "instrument": "EVENT",
                    "arm": arm,
                    "timepoint_weeks": "26",
                    "n": str(n),
                    "mean_change": "",
                    "sd_change": "",
                    "events": str(events),
                    "source": source,
                    "location": "simulated",
                    "quote": "simulated count",
                    "assumption": "",
                }
            )
    _write(root / "studies.csv", V.STUDIES_COLUMNS, studies)
    _write(root / "arms.csv", V.ARMS_COLUMNS, arms)
    return root
