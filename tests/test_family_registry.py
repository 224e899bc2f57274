"""The model-family registry is complete: every family registers how it is prepared and built
(models), summarised and announced (results) and calibrated (checks); a toy family registered
here is summarised, announced and SBC'd without editing any other module; a build resolves the
priors once; the results modules import one another without a cycle."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import pytest

from ccsvi_bayes.checks.sbc import run_sbc
from ccsvi_bayes.checks.sbc_families import SBC_FAMILIES, SbcFamily, efficacy_layout
from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.evidence import load_evidence
from ccsvi_bayes.inference import Diagnostics
from ccsvi_bayes.models import MODEL_FAMILIES, ModelData, ModelFamily, model_family
from ccsvi_bayes.models import efficacy as efficacy_graph
from ccsvi_bayes.results import FitResult
from ccsvi_bayes.results.families import SUMMARY_FAMILIES, SummaryFamily, headline
from ccsvi_bayes.results.fitted import Fitted
from ccsvi_bayes.results.numbers import chain_draws, mean_interval
from ccsvi_bayes.results.provenance import provenance_header
from ccsvi_bayes.specs import ModelSpec, available_models, load_spec

SRC = Path(__file__).resolve().parents[1] / "src" / "ccsvi_bayes"


def test_every_registered_model_family_has_every_entry() -> None:
    assert set(MODEL_FAMILIES) == set(SUMMARY_FAMILIES) == set(SBC_FAMILIES)
    for name in {load_spec(m).family for m in available_models()}:
        assert name in MODEL_FAMILIES
        assert name in SUMMARY_FAMILIES
        assert name in SBC_FAMILIES


# --- a toy family: a common-effect model on contrasts, registered here only ----------------------
def _toy_inputs(data: ModelData, spec: ModelSpec) -> dict[str, np.ndarray]:
    return {
        "contrast_y": data.contrast["y"].to_numpy(float),
        "contrast_se": data.contrast["se"].to_numpy(float),
    }


def _toy_build(data: ModelData, spec: ModelSpec) -> pm.Model:
    with pm.Model(coords={"contrast_obs": list(data.contrast["label"])}) as model:
        d = {k: pm.Data(k, v, dims="contrast_obs") for k, v in _toy_inputs(data, spec).items()}
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y_contrast", mu, d["contrast_se"], observed=d["contrast_y"], dims="contrast_obs")
    return model


def _toy_summary(result: Fitted) -> dict[str, Any]:
    mu = chain_draws(result.idata["posterior"]["mu"])
    return {
        **provenance_header(result),
        "common_effect": mean_interval(mu),
        "diagnostics": result.diagnostics.as_dict(),
    }


def _toy_headline(summary: Any) -> list[str]:
    return [f"toy {summary['model']}: common effect {summary['common_effect']['mean']:.2f}"]


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    """The ``toy`` family in all three registries (removed after the test)."""
    prepare = model_family("efficacy").prepare
    monkeypatch.setitem(MODEL_FAMILIES, "toy", ModelFamily("toy", prepare, _toy_build, _toy_inputs))
    monkeypatch.setitem(
        SUMMARY_FAMILIES,
        "toy",
        SummaryFamily("toy", _toy_summary, _toy_headline, marker="common_effect"),
    )
    monkeypatch.setitem(
        SBC_FAMILIES, "toy", SbcFamily("toy", key_params=("mu",), layout=efficacy_layout)
    )
    return replace(load_spec("rct_only"), family="toy")


def _fake_fit(spec: ModelSpec) -> FitResult:
    ev = load_evidence()
    rows, data = model_family(spec.family).prepare(ev, spec, "qol_physical")
    rng = np.random.default_rng(3)
    posterior = {
        "mu": rng.normal(0.2, 0.1, (2, 500)),
        "tau": np.abs(rng.normal(0.0, 0.1, (2, 500))),
        "theta": rng.normal(0.2, 0.2, (2, 500, len(data.studies))),
    }
    tree = az.from_dict(
        {"posterior": posterior}, coords={"study": list(data.studies)}, dims={"theta": ["study"]}
    )
    diag = Diagnostics(1.0, 1000.0, 1000.0, 0, True)
    return FitResult(tree, spec, ev, "qol_physical", rows, data, diag, 1, "nuts")


def test_a_toy_family_is_summarised_and_announced_by_its_entries(
    toy: ModelSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    from ccsvi_bayes.cli import render

    result = _fake_fit(toy)
    summary = result.summary_dict()
    assert summary["family"] == "toy"
    assert summary["common_effect"]["mean"] == pytest.approx(
        result.idata["posterior"]["mu"].values.mean()
    )
    assert "effect" not in summary  # the efficacy summary did not run
    render.fit_summary(summary)
    assert "toy rct_only: common effect 0.20" in capsys.readouterr().out


def test_a_toy_family_is_calibrated_by_its_sbc_entry(toy: ModelSpec) -> None:
    result = run_sbc(toy, n_sims=2, draws=60, tune=60, n_ranks=9, processes=1)
    assert list(result.ranks) == ["mu"]
    assert len(result.ranks["mu"]) == 2
    assert all(0 <= r <= 9 for r in result.ranks["mu"])


def test_an_unregistered_or_unserved_family_is_a_clear_sbc_error() -> None:
    with pytest.raises(InvalidModelSpec, match="SBC does not serve model 'bias_corrected'"):
        run_sbc("bias_corrected", n_sims=2)
    with pytest.raises(InvalidModelSpec, match="no SBC registered for model family 'nope'"):
        run_sbc(replace(load_spec("rct_only"), family="nope"), n_sims=2)


def test_summary_json_records_the_model_family() -> None:
    summary = _fake_fit(load_spec("rct_only")).summary_dict()
    assert summary["family"] == "efficacy"
    assert list(summary)[:3] == ["model", "family", "outcome"]


def test_a_summary_without_family_is_announced_by_the_block_it_holds() -> None:
    """Summaries written before ``family`` was recorded still get their headline."""
    block = {"mean": 0.3, "q025": 0.1, "q975": 0.5, "mcse": {"mean": 0.01}}
    summary = {"model": "m", "outcome": "o", "effect": {**block, "scale": "smd"}}
    assert "effect 0.30" in headline(summary)[0]
    assert headline({"model": "m", "outcome": "o"}) == []


# --- priors resolved once per build ----------------------------------------------------------
def test_a_build_resolves_the_priors_once(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec("bias_adjusted")
    _, data = model_family(spec.family).prepare(load_evidence(), spec, "qol_physical")
    calls = []
    resolve = efficacy_graph.resolve_priors

    def counting(*args: Any) -> Any:
        calls.append(args)
        return resolve(*args)

    monkeypatch.setattr(efficacy_graph, "resolve_priors", counting)
    model, inputs = model_family(spec.family).model_and_inputs(data, spec)
    assert len(calls) == 1
    # the same inputs and graph as the separate calls make
    separate = efficacy_graph.model_inputs(data, spec)
    assert inputs.keys() == separate.keys()
    for name, value in inputs.items():
        np.testing.assert_array_equal(value, separate[name])
    assert set(model.named_vars) == set(efficacy_graph.build_model(data, spec).named_vars)


# --- no import cycle among the results modules (function-level imports count) --------------------
def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("stage", ["results", "models", "checks"])
def test_no_import_cycle_inside_the_stage(stage: str) -> None:
    modules = {f"ccsvi_bayes.{stage}.{p.stem}": p for p in (SRC / stage).glob("*.py")}
    modules.pop(f"ccsvi_bayes.{stage}.__init__")
    graph = {m: {n for n in _imports(p) if n in modules and n != m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: tuple[str, ...]) -> None:
        if state.get(m) == 1:
            pytest.fail("import cycle: " + " -> ".join((*trail, m)))
        if state.get(m) == 2:
            return
        state[m] = 1
        for n in sorted(graph[m]):
            visit(n, (*trail, m))
        state[m] = 2

    for m in sorted(graph):
        visit(m, ())
