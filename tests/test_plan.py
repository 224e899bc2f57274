"""Would another trial help? `plan()` and `ccsvi-bayes plan` (issue 22).

Fast tier: fake fit folders (posterior draws of mu and tau, a summary.json; no MCMC) where
the answers have closed forms: the assurance against the normal-predictive closed form and an
independent Monte Carlo (±0.005); with tau fixed, the expected SD reduction and the EVSI
against the conjugate normal pre-posterior (within 5%); a huge tau that no trial size can
overcome (Roloff, Higgins & Sutton 2013) against a tiny one that a large trial settles;
reproducibility to the bit; the figures; bad input (exit 2 naming the option). Slow: the
same assurance check on a real exact rct_only fit.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm
from typer.testing import CliRunner

from ccsvi_bayes.cli import app
from ccsvi_bayes.decisions.plan import InvalidPlan, assurance_closed_form, plan

Z = float(norm.ppf(0.975))


def _fake_fit(
    folder: Path,
    *,
    mu: np.ndarray,
    tau: np.ndarray,
    scale: str = "smd",
    mcid: float | None = None,
    measure: str = "",
) -> Path:
    folder.mkdir(parents=True)
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {"mu": (("chain", "draw"), mu[None, :]), "tau": (("chain", "draw"), tau[None, :])}
            )
        }
    )
    tree.to_netcdf(folder / "posterior.nc")
    summary = {
        "model": "rct_only",
        "outcome": "fake",
        "outcome_label": "Fake outcome",
        "engine": "exact",
        "effect": {
            "scale": scale,
            "mcid": mcid,
            "mcid_standardized": mcid,
            "instrument_scale": {"measure": measure},
        },
        "studies": [
            {"study_id": "A", "observed": 0.3, "se": 0.2},
            {"study_id": "B", "observed": -0.1, "se": 0.15},
            {"study_id": "C", "observed": 1.0, "se": 0.1, "observed_measure": "single-arm change"},
        ],
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def _normal_fit(
    tmp_path: Path, *, m: float, s: float, tau: float | None, draws: int, seed: int = 1
) -> Path:
    rng = np.random.default_rng(seed)
    mu = m + s * rng.standard_normal(draws)
    taus = np.full(draws, tau) if tau is not None else np.abs(0.25 * rng.standard_normal(draws))
    return _fake_fit(tmp_path / f"fit_{seed}", mu=mu, tau=taus)


def _draws(fit: Path) -> tuple[np.ndarray, np.ndarray]:
    post = xr.open_datatree(fit / "posterior.nc")["posterior"]
    return np.asarray(post["mu"]).ravel(), np.asarray(post["tau"]).ravel()


def test_assurance_is_the_closed_form_within_its_monte_carlo_error(tmp_path: Path) -> None:
    fit = _normal_fit(tmp_path, m=0.15, s=0.1, tau=None, draws=400)
    doc = plan(fit, [30, 300], n_sim=2000, seed=3)
    mu, tau = _draws(fit)
    for design in doc["designs"]:
        closed = assurance_closed_form(mu, tau, math.sqrt(2 / design["n_per_arm"]))
        assert abs(design["assurance"] - closed) <= 3 * design["mcse"]["assurance"]


@pytest.mark.slow
def test_assurance_matches_closed_form_and_independent_monte_carlo(tmp_path: Path) -> None:
    fit = _normal_fit(tmp_path, m=0.15, s=0.1, tau=None, draws=400)
    doc = plan(fit, [30, 100, 300], n_sim=40_000, seed=3)
    mu, tau = _draws(fit)
    rng = np.random.default_rng(99)  # independent: its own simulated trials
    for design in doc["designs"]:
        se = math.sqrt(2 / design["n_per_arm"])
        closed = assurance_closed_form(mu, tau, se)
        s = rng.integers(0, mu.size, 400_000)
        y = mu[s] + tau[s] * rng.standard_normal(s.size) + se * rng.standard_normal(s.size)
        independent = float(np.mean(y / se > Z))
        assert design["se"] == pytest.approx(se)
        assert design["assurance_closed_form"] == pytest.approx(closed)
        assert abs(design["assurance"] - closed) <= 0.005
        assert abs(independent - closed) <= 0.005
        assert 0 < design["mcse"]["assurance"] < 0.003


def test_assurance_grows_with_n_and_sign_is_benefit_positive(tmp_path: Path) -> None:
    good = plan(_normal_fit(tmp_path, m=0.4, s=0.05, tau=0.05, draws=400), [20, 200], n_sim=500)
    bad = plan(_normal_fit(tmp_path, m=-0.4, s=0.05, tau=0.05, draws=400, seed=2), [200], n_sim=500)
    assert good["designs"][0]["assurance"] < good["designs"][1]["assurance"]
    assert good["designs"][1]["assurance"] > 0.9  # a true benefit of 0.4 SD, 200 per arm
    assert bad["designs"][0]["assurance"] < 0.01


def _conjugate(fit: Path, tau: float, n: int) -> tuple[float, float]:
    """Expected SD reduction and EVSI (utility 1, adopting now) of the conjugate normal
    pre-posterior with tau known, the fit's draws of mu taken as a normal prior."""
    mu, _ = _draws(fit)
    v, mean = float(mu.var()), float(mu.mean())
    v_post = 1 / (1 / v + 1 / (tau**2 + 2 / n))
    sp = math.sqrt(v - v_post)  # E[mu | y] ~ N(mean, v - v_post)
    evsi = sp * norm.pdf(mean / sp) - mean * norm.cdf(-mean / sp)  # E[max(-E[mu|y], 0)]
    return math.sqrt(v) - math.sqrt(v_post), evsi


def test_sd_reduction_and_evsi_match_the_conjugate_normal_preposterior(tmp_path: Path) -> None:
    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=0.1, draws=2000)
    doc = plan(fit, [100], n_sim=4000, utility=1.0, cost_per_patient=0.001, seed=5)
    d = doc["designs"][0]
    reduction, evsi = _conjugate(fit, 0.1, 100)
    assert d["expected_sd_reduction"] == pytest.approx(reduction, rel=0.05)
    assert abs(d["evsi"] - evsi) <= 3 * d["mcse"]["evsi"]
    assert d["trial_cost"] == pytest.approx(0.2)
    assert d["evsi_net"] == pytest.approx(d["evsi"] - 0.2)
    assert d["reweighting"]["share_unreliable"] < 0.05


@pytest.mark.slow
def test_evsi_within_5_percent_of_the_conjugate_preposterior(tmp_path: Path) -> None:
    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=0.1, draws=2000)
    doc = plan(fit, [30, 100], n_sim=40_000, utility=1.0, seed=5)
    for d in doc["designs"]:
        reduction, evsi = _conjugate(fit, 0.1, d["n_per_arm"])
        assert d["expected_sd_reduction"] == pytest.approx(reduction, rel=0.05)
        assert d["evsi"] == pytest.approx(evsi, rel=0.05)


def test_huge_heterogeneity_no_trial_changes_the_verdict_roloff(tmp_path: Path) -> None:
    huge = _normal_fit(tmp_path, m=0.05, s=0.2, tau=3.0, draws=1000)
    doc = plan(huge, [50, 500, 5000], n_sim=1000, target=0.8)
    assert doc["smallest_n"] is None
    assert all(d["prob_verdict_change"] < 0.1 for d in doc["designs"])
    assert "No size tried reaches" in doc["statement"]
    assert "heterogeneity" in doc["statement"]
    tiny = _normal_fit(tmp_path, m=0.05, s=0.2, tau=0.01, draws=1000, seed=2)
    doc = plan(tiny, [50, 500, 5000], n_sim=1000, target=0.8)
    assert doc["smallest_n"] is not None
    assert f"{doc['smallest_n']} patients per arm" in doc["statement"]


def test_mcid_is_a_second_verdict(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    fit = _fake_fit(
        tmp_path / "mcid",
        mu=0.3 + 0.2 * rng.standard_normal(800),
        tau=np.full(800, 0.1),
        mcid=0.25,
    )
    doc = plan(fit, [100], n_sim=500)
    by = doc["designs"][0]["prob_change_by_quantity"]
    assert set(by) == {"prob_benefit", "prob_mcid"}
    assert doc["designs"][0]["prob_verdict_change"] >= max(v["prob"] for v in by.values())


def test_same_seed_same_numbers_and_order_does_not_matter(tmp_path: Path) -> None:
    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=None, draws=400)
    a = plan(fit, [100, 20], n_sim=300, seed=7)
    b = plan(fit, [20, 100], n_sim=300, seed=7)
    c = plan(fit, [100], n_sim=300, seed=8)
    assert json.dumps(a) == json.dumps(b)
    assert a["designs"][1] == plan(fit, [100], n_sim=300, seed=7)["designs"][0]
    assert c["designs"][0]["prob_verdict_change"] != a["designs"][1]["prob_verdict_change"] or (
        c["designs"][0]["assurance"] != a["designs"][1]["assurance"]
    )


def test_binary_uses_the_control_risk_delta_method_se(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    fit = _fake_fit(
        tmp_path / "bin",
        mu=0.5 + 0.2 * rng.standard_normal(400),
        tau=np.full(400, 0.2),
        scale="log_odds",
        measure="odds ratio of 'X', treatment vs control (below 1 = benefit)",
    )
    with pytest.raises(InvalidPlan, match="--control-risk"):
        plan(fit, [100], n_sim=200)
    doc = plan(fit, [100], n_sim=200, control_risk=0.3)
    p0 = 0.3
    p1 = 1 / (1 + math.exp(-(math.log(p0 / (1 - p0)) - doc["current"]["mean"])))
    se = math.sqrt(1 / (100 * p0 * (1 - p0)) + 1 / (100 * p1 * (1 - p1)))
    assert doc["designs"][0]["se"] == pytest.approx(se)
    assert doc["new_trial"]["events_harmful"] is True
    assert "prob_mcid" not in doc["designs"][0]["prob_change_by_quantity"]


def test_binary_baseline_from_the_fits_pi_mean_draws(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    fit = _fake_fit(
        tmp_path / "pi",
        mu=0.5 + 0.2 * rng.standard_normal(400),
        tau=np.full(400, 0.2),
        scale="log_odds",
    )
    with xr.open_datatree(fit / "posterior.nc") as tree:
        post = tree["posterior"].to_dataset().load()
    post["pi_mean"] = (("chain", "draw"), np.full((1, 400), math.log(0.2 / 0.8)))
    xr.DataTree.from_dict({"posterior": post}).to_netcdf(fit / "posterior.nc", mode="w")
    doc = plan(fit, [100], n_sim=200)
    fixed = plan(fit, [100], n_sim=200, control_risk=0.2)
    assert doc["new_trial"]["baseline"] == "expit(pi_mean) draws of the fit"
    assert doc["designs"][0]["se"] == pytest.approx(fixed["designs"][0]["se"])
    assert doc["new_trial"]["events_harmful"] is False


def test_cli_writes_plan_json_and_figures(tmp_path: Path) -> None:
    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=None, draws=400)
    out = tmp_path / "plan"
    args = ["plan", str(fit), "--n-per-arm", "20,100", "--n-sim", "200", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "plan.json").read_text())
    assert doc["schema_version"] == "1.0.0"
    for key in ("fit", "outcome", "scale", "direction", "thresholds", "smallest_n", "statement"):
        assert key in doc
    d = doc["designs"][0]
    assert {"n_per_arm", "assurance", "prob_verdict_change", "expected_sd_reduction"} <= set(d)
    assert d["reweighting"]["path"] == "reweighted"
    assert {"assurance", "prob_verdict_change", "expected_sd_reduction"} <= set(d["mcse"])
    for stem in ("plan_curve", "plan_funnel"):
        for ext in ("png", "svg", "pdf"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0
    assert not list(out.glob(".*.tmp"))


def test_figure_functions_return_artists(tmp_path: Path) -> None:
    from ccsvi_bayes.figures.plan import draw_augmented_funnel, draw_sample_size_curve
    from ccsvi_bayes.figures.style import new_figure

    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=None, draws=400)
    doc = plan(fit, [20, 100, 400], n_sim=200, funnel_grid=15)
    assert np.asarray(doc["funnel"]["changes_verdict"]).shape == (15, 15)
    assert [s["study_id"] for s in doc["funnel"]["studies"]] == ["A", "B"]  # contrasts only
    _, axes = new_figure(ncols=2)
    assert draw_sample_size_curve(axes[0], doc)
    assert draw_augmented_funnel(axes[1], doc)
    assert axes[1].get_ylim()[0] > axes[1].get_ylim()[1]  # SE axis inverted


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n-per-arm", "0,100"], "--n-per-arm"),
        (["--n-per-arm", "ten"], "--n-per-arm"),
        (["--n-per-arm", "100", "--thresholds", "0.9,0.1"], "--thresholds"),
        (["--n-per-arm", "100", "--thresholds", "0.1,1.2"], "--thresholds"),
        (["--n-per-arm", "100", "--target", "1.5"], "--target"),
        (["--n-per-arm", "100", "--cost-per-patient", "5"], "--utility"),
    ],
)
def test_cli_refuses_bad_arguments(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=None, draws=200)
    _exit_2(["plan", str(fit), *args, "--out", str(tmp_path / "o")], message, capsys)


def test_cli_refuses_a_folder_that_is_not_a_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    args = ["plan", str(tmp_path / "empty"), "--n-per-arm", "100", "--out", str(tmp_path / "o")]
    _exit_2(args, "FIT_DIR", capsys)


def test_md_domain_needs_sd(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    fit = _fake_fit(tmp_path / "md", mu=rng.standard_normal(200), tau=np.ones(200), scale="md")
    with pytest.raises(InvalidPlan, match="--sd"):
        plan(fit, [100], n_sim=200)
    doc = plan(fit, [100], n_sim=200, sd=10.0)
    assert doc["designs"][0]["se"] == pytest.approx(math.sqrt(2 * 100 / 100))


def _exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ccsvi_bayes import cli

    saved, sys.argv = sys.argv, ["ccsvi-bayes", *argv]
    try:
        with pytest.raises(SystemExit) as info:
            cli.main()
    finally:
        sys.argv = saved
    output = capsys.readouterr()
    assert info.value.code == 2, output
    assert message in output.out + output.err
    assert "Traceback" not in output.out + output.err


@pytest.mark.slow
def test_exact_rct_only_fit_assurance_agrees_with_closed_form(tmp_path: Path) -> None:
    fit = tmp_path / "fit"
    result = CliRunner().invoke(
        app,
        [
            "fit",
            "--model",
            "rct_only",
            "--outcome",
            "qol_physical",
            "--engine",
            "exact",
            "--out",
            str(fit),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = plan(fit, [50, 200], n_sim=40_000, max_draws=1000)
    mu, tau = _draws(fit)
    used = np.linspace(0, mu.size - 1, 1000).round().astype(int)  # plan's even thinning
    rng = np.random.default_rng(11)
    for d in doc["designs"]:
        se = math.sqrt(2 / d["n_per_arm"])
        closed = assurance_closed_form(mu[used], tau[used], se)
        assert d["assurance_closed_form"] == pytest.approx(closed)
        assert abs(d["assurance"] - closed) <= 0.005
        s = rng.choice(used, 400_000)
        y = mu[s] + tau[s] * rng.standard_normal(s.size) + se * rng.standard_normal(s.size)
        assert abs(float(np.mean(y / se > Z)) - closed) <= 0.005
        # every draw (not only the thinned ones): the thinning costs less than 0.005 too
        assert abs(assurance_closed_form(mu, tau, se) - closed) <= 0.005


def test_cli_refuses_an_output_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = _normal_fit(tmp_path, m=0.1, s=0.2, tau=None, draws=200)
    (tmp_path / "file").write_text("x")
    _exit_2(
        ["plan", str(fit), "--n-per-arm", "100", "--out", str(tmp_path / "file")], "--out", capsys
    )
