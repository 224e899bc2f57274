"""Run-level figures (issue 12): the artists match the results they draw, every axis names its
units and the direction of benefit, labels come from the evidence set, and the run-folder
driver writes PNG/SVG/PDF and index.json on a partial run of a non-CCSVI evidence set.

No MCMC: exact-engine fits of the small PPV23/IPD set and synthetic result trees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.figures.bias import bias_panels, bias_prior_posterior
from ccsvi_bayes.figures.checks import has_predictive, loo_pit_panel, ppc_panel
from ccsvi_bayes.figures.common import fmt_prob
from ccsvi_bayes.figures.draw import draw_run_figures
from ccsvi_bayes.figures.effect import effect_plot
from ccsvi_bayes.figures.forest import FLAG_COLUMNS, forest_plot
from ccsvi_bayes.figures.harms import harm_variant_label, harms_plot
from ccsvi_bayes.figures.style import new_figure
from ccsvi_bayes.fitting import fit
from ccsvi_bayes.results import RunFolderError

TESTS = Path(__file__).parent
PPVIPD = TESTS / "data" / "ppvipd"
BENEFIT = ("favours treatment", "positive = benefit", "= benefit", "fewer")


@pytest.fixture(scope="module")
def ppv() -> Evidence:
    return load_evidence(PPVIPD)


@pytest.fixture(scope="module")
def ppv_run(tmp_path_factory: pytest.TempPathFactory, ppv: Evidence) -> Path:
    """A partial run folder of the PPV23/IPD set: rct_only and naive fitted (exact engine),
    bias_adjusted recorded as skipped, no harms, no sensitivity."""
    run = tmp_path_factory.mktemp("ppvrun")
    fits: list[dict[str, Any]] = []
    for model in ("rct_only", "naive"):
        result = fit(ppv, model=model, outcome="ipd", engine="exact", seed=1)
        result.to_dir(run / model / "ipd")
        fits.append(
            {
                "model": model,
                "outcome": "ipd",
                "engine": "exact",
                "folder": f"{model}/ipd",
                "status": "fitted",
            }
        )
    fits.append(
        {
            "model": "bias_adjusted",
            "outcome": "ipd",
            "engine": "nuts",
            "folder": "bias_adjusted/ipd",
            "status": "skipped",
        }
    )
    doc = {
        "schema_version": "1.0.0",
        "evidence": {
            "name": ppv.name,
            "sha256": ppv.sha256,
            "assumptions": dict(ppv.assumptions),
            "path": str(PPVIPD),
        },
        "seed": 1,
        "fits": fits,
        "incomplete": ["bias_adjusted/ipd"],
        "complete": False,
    }
    (run / "run.json").write_text(json.dumps(doc), encoding="utf-8")
    return run


def _summaries(run: Path) -> dict[str, dict[str, Any]]:
    return {
        m: json.loads((run / m / "ipd" / "summary.json").read_text(encoding="utf-8"))
        for m in ("rct_only", "naive")
    }


def _labels(ax: Any) -> list[str]:
    return [ax.get_xlabel(), ax.get_ylabel()]


# --- forest ------------------------------------------------------------------------------
def test_forest_pooled_rows_are_the_summary_means_and_labels_come_from_the_evidence(
    ppv_run: Path, ppv: Evidence
) -> None:
    summaries = _summaries(ppv_run)
    _fig, axes = new_figure(9, 6, ncols=2, sharey=True)
    art = forest_plot(list(axes), summaries, ppv, "ipd")
    by_gid = {a.get_gid(): a for a in art["pooled"]}
    for model, s in summaries.items():
        mark = by_gid[f"pooled:{model}"]
        assert isinstance(mark, Line2D)
        assert mark.get_xdata()[0] == pytest.approx(s["effect"]["mean"])
        thick = by_gid[f"interval:{model}"]
        assert isinstance(thick, Line2D)
        assert list(thick.get_xdata()) == pytest.approx([s["effect"]["q025"], s["effect"]["q975"]])
        thin = by_gid[f"predictive:{model}"]
        assert isinstance(thin, Line2D)
        assert list(thin.get_xdata()) == pytest.approx(
            [s["predictive"]["q025"], s["predictive"]["q975"]]
        )
    # rct_only has only the RCTs, naive all studies: the observed rows are naive's studies
    assert len(art["observed"]) == len(summaries["naive"]["studies"])
    first = summaries["naive"]["studies"][0]
    obs = next(a for a in art["observed"] if a.get_gid() == f"observed:{first['study_id']}")
    assert isinstance(obs, Line2D)
    assert obs.get_xdata()[0] == pytest.approx(first["observed"])
    # one traffic-light dot per study and feature, filled exactly where the flaw is present
    dots = [a for a in art["flags"] if isinstance(a, PathCollection)]
    assert len(dots) == len(summaries["naive"]["studies"]) * len(FLAG_COLUMNS)
    cohort = next(s for s in summaries["naive"]["studies"] if not s["randomized"])
    gid = f"flag:{cohort['study_id']}:nonrandomized:1"
    assert any(d.get_gid() == gid for d in dots)
    ax = axes[0]
    assert ax.get_title(loc="left") == ppv.domain("ipd").label
    assert "log odds ratio" in ax.get_xlabel()
    assert "favours treatment" in ax.get_xlabel()
    assert "Quality of life" not in " ".join(t.get_text() for t in ax.get_yticklabels())


# --- effect on the instrument scale ------------------------------------------------------
def _smd_summary(mean: float, pb: float, pm: float) -> dict[str, Any]:
    return {
        "effect": {
            "scale": "smd",
            "mean": mean,
            "q025": mean - 0.4,
            "q975": mean + 0.4,
            "prob_benefit": pb,
            "prob_mcid": pm,
            "mcid_standardized": 5.0 / 19.7,
            "instrument_scale": {"instrument": "MSQOL-54 PHC", "reference_sd": 19.7},
        }
    }


def test_effect_plot_mcid_band_and_printed_probabilities() -> None:
    ev = load_evidence(None)
    domain = ev.domain("qol_physical")
    rng = np.random.default_rng(0)
    draws = {"bias_adjusted": rng.normal(-0.1, 0.2, 2000), "naive": rng.normal(0.25, 0.18, 2000)}
    summaries = {
        "bias_adjusted": _smd_summary(-0.1, 0.31125, 0.0385),
        "naive": _smd_summary(0.25, 0.936, 0.4835),
    }
    _fig, ax = new_figure()
    art = effect_plot(ax, draws, summaries, ev, "qol_physical")
    band = art["mcid"][0]
    assert isinstance(band, Rectangle)
    assert band.get_x() == pytest.approx(domain.mcid)  # [MCID, ∞): from the MCID to the edge
    assert band.get_x() + band.get_width() >= ax.get_xlim()[1]
    text = art["text"][0].get_text()  # type: ignore[attr-defined]
    assert f"P(> MCID) = {fmt_prob(0.0385)}" in text
    assert f"P(benefit) = {fmt_prob(0.31125)}" in text
    # the density is on the points scale: its mode sits near mean × reference SD
    line = next(a for a in art["density"] if a.get_gid() == "density:bias_adjusted")
    assert isinstance(line, Line2D)
    mode = line.get_xdata()[int(np.argmax(line.get_ydata()))]
    assert mode == pytest.approx(-0.1 * 19.7, abs=1.0)
    assert "MSQOL-54 PHC points" in ax.get_xlabel()
    assert any(b in ax.get_xlabel() for b in BENEFIT)
    assert "density" in ax.get_ylabel()


def test_effect_plot_binary_domain_is_an_odds_ratio_with_the_evidence_direction(
    ppv_run: Path, ppv: Evidence
) -> None:
    summaries = _summaries(ppv_run)
    trees = {m: xr.open_datatree(ppv_run / m / "ipd" / "posterior.nc") for m in summaries}
    try:
        _fig, ax = new_figure()
        art = effect_plot(ax, trees, summaries, ppv, "ipd")
    finally:
        for t in trees.values():
            t.close()
    assert ax.get_xscale() == "log"
    assert "odds ratio of IPD" in ax.get_xlabel()
    assert "below 1 = benefit" in ax.get_xlabel()  # IPD: higher_is_better = false
    assert "← favours treatment" in ax.get_xlabel()
    assert art["mcid"] == []  # no MCID in this set
    line = next(a for a in art["density"] if a.get_gid() == "density:naive")
    assert isinstance(line, Line2D)
    mode = line.get_xdata()[int(np.argmax(line.get_ydata()))]
    # positive (benefit) log odds ratio of an event that is a harm: OR = exp(-mu) < 1
    assert mode == pytest.approx(np.exp(-summaries["naive"]["effect"]["median"]), rel=0.2)


# --- harms --------------------------------------------------------------------------------
def _harm(rd: float, enabled: bool) -> dict[str, Any]:
    return {
        "endpoint": "sae_any",
        "risk_treatment": {"mean": 0.02 + rd, "q025": 0.005, "q975": 0.08},
        "risk_control": {"mean": 0.02, "q025": 0.004, "q975": 0.05},
        "risk_difference": {"mean": rd, "q025": rd - 0.02, "q975": rd + 0.04},
        "prob_rd_gt_1pct": 0.43,
        "ascertainment": {"enabled": enabled},
    }


def test_harms_plot_per_1000_and_any_number_of_variants() -> None:
    ev = load_evidence(None)
    on, off = _harm(0.0125, True), _harm(0.02, False)
    data = {"sae_any": {harm_variant_label(on): on, harm_variant_label(off): off}}
    _fig, axes = new_figure(9, 4, ncols=2, sharey=True)
    art = harms_plot(list(axes), data, ev)
    rd = {a.get_gid(): a for a in art["rd"]}
    assert set(rd) == {
        "rd:sae_any:ascertainment adjustment: on",
        "rd:sae_any:ascertainment adjustment: off",
    }
    line = rd["rd:sae_any:ascertainment adjustment: off"]
    assert isinstance(line, Line2D)
    assert line.get_xdata()[0] == pytest.approx(20.0)
    risk = {a.get_gid(): a for a in art["risk"]}
    control = risk["risk:sae_any:ascertainment adjustment: on:control"]
    assert isinstance(control, Line2D)
    assert control.get_xdata()[0] == pytest.approx(20.0)
    ticks = " ".join(t.get_text() for t in axes[0].get_yticklabels())
    assert ev.domain("sae_any").label in ticks
    assert "ascertainment adjustment: off" in ticks
    for ax in axes:
        assert "per 1,000 procedures" in ax.get_xlabel()
        assert "←" in ax.get_xlabel()
    assert fmt_prob(0.43) in art["text"][0].get_text()  # type: ignore[attr-defined]


# --- bias, predictive check, LOO-PIT on a synthetic tree ----------------------------------
FEATURES = ["nonrandomized", "uncontrolled"]


def _tree(*, predictive: bool = True, bias: bool = True, seed: int = 0) -> xr.DataTree:
    rng = np.random.default_rng(seed)
    c, d, n = 2, 300, 5
    dims = ("chain", "draw")
    mu = rng.normal(0.1, 0.1, (c, d))
    post: dict[str, Any] = {"mu": (dims, mu), "tau": (dims, np.abs(rng.normal(0, 0.1, (c, d))))}
    prior: dict[str, Any] = {"mu": (dims, rng.normal(0, 1, (1, d)))}
    coords: dict[str, Any] = {"feature": FEATURES}
    if bias:
        post["gamma"] = ((*dims, "feature"), rng.normal(0.2, 0.05, (c, d, 2)))
        post["kappa"] = (dims, np.abs(rng.normal(0, 0.1, (c, d))))
        prior["gamma"] = ((*dims, "feature"), rng.normal(0.1, 0.15, (1, d, 2)))
        prior["kappa"] = (dims, np.abs(rng.normal(0, 0.2, (1, d))))
    groups = {
        "posterior": xr.Dataset(post, coords=coords),
        "prior": xr.Dataset(prior, coords=coords),
    }
    if predictive:
        arms = [f"S{i}:treatment" for i in range(n)]
        y = rng.normal(0.1, 0.2, n)
        se = np.full(n, 0.2)
        pp = rng.normal(mu[..., None], se)
        ll = -0.5 * ((y - mu[..., None]) / se) ** 2 - np.log(se * np.sqrt(2 * np.pi))
        obs_coords = {"arm_obs": arms}
        groups["observed_data"] = xr.Dataset({"y_arm": (("arm_obs",), y)}, coords=obs_coords)
        groups["posterior_predictive"] = xr.Dataset(
            {"y_arm": ((*dims, "arm_obs"), pp)}, coords=obs_coords
        )
        groups["log_likelihood"] = xr.Dataset(
            {"y_arm": ((*dims, "arm_obs"), ll)}, coords=obs_coords
        )
    return xr.DataTree.from_dict(groups)


def test_bias_prior_posterior_panels() -> None:
    tree = _tree()
    assert bias_panels(tree) == ["gamma[nonrandomized]", "gamma[uncontrolled]", "kappa"]
    _fig, axes = new_figure(8, 3, ncols=4)
    art = bias_prior_posterior(list(axes), tree, unit="SMD")
    assert {a.get_gid() for a in art["posterior"]} == {
        "posterior:gamma[nonrandomized]",
        "posterior:gamma[uncontrolled]",
        "posterior:kappa",
    }
    assert len(art["prior"]) == 3
    # the posterior of gamma[uncontrolled] peaks near its draws' mean (0.2)
    line = next(a for a in art["posterior"] if a.get_gid() == "posterior:gamma[uncontrolled]")
    assert isinstance(line, Line2D)
    assert line.get_xdata()[int(np.argmax(line.get_ydata()))] == pytest.approx(0.2, abs=0.05)
    assert "positive = exaggerates benefit" in axes[0].get_xlabel()
    assert "SMD" in axes[0].get_xlabel()
    assert "SMD" in axes[2].get_xlabel()
    assert not axes[3].get_visible()
    with pytest.raises(ValueError, match="no bias parameters"):
        bias_prior_posterior(list(axes), _tree(bias=False))


def test_ppc_and_loo_pit_panels() -> None:
    ev = load_evidence(None)
    tree = _tree()
    _fig, axes = new_figure(8, 3, ncols=2)
    art = ppc_panel(axes[0], tree, ev, "qol_physical")
    y = tree["observed_data"]["y_arm"].values
    dots = {a.get_gid(): a for a in art["observed"]}
    dot = dots["observed:S3:treatment"]
    assert isinstance(dot, Line2D)
    assert dot.get_ydata()[0] == pytest.approx(y[3])
    assert len(art["interval"]) == 2 * y.size
    assert "SD units" in axes[0].get_ylabel()
    assert "improvement" in axes[0].get_ylabel()
    pit = loo_pit_panel(axes[1], tree)
    ecdf = pit["ecdf"][0]
    assert isinstance(ecdf, Line2D)
    ys = np.asarray(ecdf.get_ydata())
    assert ys[-1] == 1.0
    assert len(ys) == y.size + 2
    assert "probability" in axes[1].get_xlabel()
    assert "0–1" in axes[1].get_ylabel()
    assert not has_predictive(_tree(predictive=False))
    with pytest.raises(ValueError, match="posterior_predictive"):
        ppc_panel(axes[0], _tree(predictive=False), ev, "qol_physical")


# --- the run-folder driver -----------------------------------------------------------------
def test_driver_on_a_partial_run_of_another_evidence_set(ppv_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    records = draw_run_figures(ppv_run, out)
    stems = {r.stem for r in records}
    assert stems == {"forest_ipd", "effect_ipd"}
    for r in records:
        assert set(r.files) == {f"{r.stem}.png", f"{r.stem}.svg", f"{r.stem}.pdf"}
        for name in r.files:
            assert (out / name).stat().st_size > 0
        assert "Invasive pneumococcal disease" in r.caption
        assert "Quality of life" not in r.caption
        assert "MSQOL" not in r.caption
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert index["schema_version"] == 1
    assert [f["stem"] for f in index["figures"]] == [r.stem for r in records]
    skipped = {s["stem"]: s["reason"] for s in index["skipped"]}
    assert "bias_adjusted/ipd" in skipped
    assert "skipped" in skipped["bias_adjusted/ipd"]
    assert {"bias_ipd", "ppc_ipd", "loo_pit_ipd", "harms"} <= set(skipped)
    assert "exact-engine" in skipped["ppc_ipd"]
    assert not list(out.glob("*.tmp"))
    assert not list(out.glob(".*"))


def test_driver_default_folder_and_sensitivity_never_crash(ppv_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(
        (ppv_run / "run.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    # only the naive fit is present; a broken sensitivity folder is recorded, not raised
    (run / "naive").mkdir()
    for name in ("summary.json", "posterior.nc"):
        (run / "naive" / "ipd").mkdir(exist_ok=True)
        (run / "naive" / "ipd" / name).write_bytes((ppv_run / "naive" / "ipd" / name).read_bytes())
    (run / "sensitivity" / "ipd").mkdir(parents=True)
    records = draw_run_figures(run)
    assert {r.stem for r in records} >= {"forest_ipd", "effect_ipd"}
    index = json.loads((run / "figures" / "index.json").read_text(encoding="utf-8"))
    skipped = {s["stem"] for s in index["skipped"]}
    assert "rct_only/ipd" in skipped


def test_driver_without_run_json_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match=r"run\.json"):
        draw_run_figures(tmp_path)


# --- speed-ups keep every figure: parallel drawing, layout once, lean PDF fonts -------------
@pytest.fixture(scope="module")
def ccsvi_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of the embedded CCSVI set with exact-engine RCT-only fits of three
    domains (three drawing units, so the default driver draws in two processes)."""
    ev = load_evidence(None)
    run = tmp_path_factory.mktemp("ccsvirun")
    fits = []
    for outcome in list(ev.domains)[:3]:
        fit(ev, model="rct_only", outcome=outcome, engine="exact", seed=1).to_dir(
            run / "rct_only" / outcome
        )
        fits.append(
            {
                "model": "rct_only",
                "outcome": outcome,
                "engine": "exact",
                "folder": f"rct_only/{outcome}",
                "status": "fitted",
            }
        )
    doc = {
        "evidence": {"name": ev.name, "sha256": ev.sha256, "assumptions": dict(ev.assumptions)},
        "seed": 1,
        "fits": fits,
    }
    (run / "run.json").write_text(json.dumps(doc), encoding="utf-8")
    return run


def test_driver_index_lists_exactly_the_figures_written_in_parallel_or_not(
    ccsvi_run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ev = load_evidence(None)
    indexes = []
    for jobs in (2, 1):
        out = tmp_path / f"jobs{jobs}"
        with caplog.at_level("WARNING", logger="ccsvi_bayes.figures.draw"):
            records = draw_run_figures(ccsvi_run, out, jobs=jobs)
        assert not caplog.records  # the worker process drew its share (no fallback)
        index = json.loads((out / "index.json").read_text(encoding="utf-8"))
        stems = [f["stem"] for f in index["figures"]]
        assert stems == [r.stem for r in records]
        expected = [f"{kind}_{o}" for o in list(ev.domains)[:3] for kind in ("forest", "effect")]
        assert stems == expected  # evidence order, whichever process drew them
        listed = {name for f in index["figures"] for name in f["files"]}
        assert listed == {f"{s}.{ext}" for s in stems for ext in ("png", "svg", "pdf")}
        assert {p.name for p in out.iterdir()} == listed | {"index.json"}
        assert "harms" in {s["stem"] for s in index["skipped"]}
        indexes.append(index)
    assert indexes[0] == indexes[1]


def test_save_figure_lays_out_once_and_restores_the_figure(tmp_path: Path) -> None:
    from fontTools import subset

    from ccsvi_bayes.figures.style import lean_font_subsets, save_figure

    fig, ax = new_figure(4, 3)
    ax.set_title("γ κ → ≥ MCID")
    engine = fig.get_layout_engine()
    before = list(subset.Options._drop_tables_default)
    with lean_font_subsets():
        assert "GPOS" in subset.Options._drop_tables_default
    assert subset.Options._drop_tables_default == before
    paths = save_figure(fig, tmp_path, "one")
    assert [p.name for p in paths] == ["one.png", "one.svg", "one.pdf"]
    assert fig.get_layout_engine() is engine
    pdf = (tmp_path / "one.pdf").read_bytes()
    assert b"/FontFile2" in pdf  # Type 42 (TrueType) fonts still embedded
    assert subset.Options._drop_tables_default == before


def test_fmt_prob_prints_the_digits_its_mcse_supports() -> None:
    assert fmt_prob(0.4638, 0.012) == "0.5"  # MCSE in the second decimal
    assert fmt_prob(0.4638, 0.004) == "0.46"
    assert fmt_prob(0.4638) == "0.46"  # no MCSE: two decimals
    assert fmt_prob(0.001, 0.0001) == "< 0.01"
