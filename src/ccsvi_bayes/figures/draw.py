"""Every figure of a run folder (``ccsvi-bayes run --out OUT``; layout in /tmp/contract12 and
DESIGN.md §5): forest, instrument-scale effect, bias prior-vs-posterior, predictive-check and
LOO-PIT panels per efficacy domain, the harms figure, and the sensitivity figures of each
``OUT/sensitivity/<outcome>/`` grid; ``figures/index.json`` lists what was written and what
was skipped and why. A partial run draws what it can and never fails for a missing fit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr
from matplotlib.figure import Figure

from ccsvi_bayes.errors import CcsviBayesError
from ccsvi_bayes.evidence import Evidence, load_evidence
from ccsvi_bayes.figures.bias import bias_panels, bias_prior_posterior
from ccsvi_bayes.figures.checks import has_predictive, loo_pit_panel, ppc_panel
from ccsvi_bayes.figures.common import DEFAULT_MODELS, model_label, scale_unit
from ccsvi_bayes.figures.effect import effect_plot, effect_scale
from ccsvi_bayes.figures.forest import forest_plot, forest_rows
from ccsvi_bayes.figures.harms import harm_variant_label, harms_plot
from ccsvi_bayes.figures.style import FigureRecord, new_figure, save_figure
from ccsvi_bayes.results.store import write_atomic

__all__ = [
    "INDEX_SCHEMA_VERSION",
    "RunFolder",
    "RunFolderError",
    "draw_run_figures",
    "load_run_evidence",
]

log = logging.getLogger(__name__)

INDEX_SCHEMA_VERSION = 1


class RunFolderError(CcsviBayesError):
    """A folder that is not a run folder (no readable ``run.json``)."""


def load_run_evidence(run: Mapping[str, Any]) -> Evidence:
    """The evidence set of a run, with the readings (assumptions) it used: ``evidence.path``
    when run.json records one, else the embedded set (which must carry the recorded name)."""
    ev = run.get("evidence") or {}
    assumptions = ev.get("assumptions") or None
    path = ev.get("path")
    evidence = load_evidence(path, assumptions=assumptions)
    name = ev.get("name")
    if path is None and name is not None and name != evidence.name:
        raise RunFolderError(
            f"run.json names evidence set '{name}' but records no evidence.path; "
            f"the embedded set is '{evidence.name}'"
        )
    if ev.get("sha256") and ev["sha256"] != evidence.sha256:
        log.warning("evidence digest differs from run.json's: figures use the set as it is now")
    return evidence


class RunFolder:
    """Read-only access to the fits of a run folder (summaries and posteriors, by folder)."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        try:
            self.run: dict[str, Any] = json.loads((self.dir / "run.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise RunFolderError(
                f"{self.dir / 'run.json'}: not a readable run index ({exc})"
            ) from exc
        self._trees: dict[str, xr.DataTree | None] = {}

    def summary(self, folder: str) -> dict[str, Any] | None:
        try:
            doc = json.loads((self.dir / folder / "summary.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def tree(self, folder: str) -> xr.DataTree | None:
        if folder not in self._trees:
            path = self.dir / folder / "posterior.nc"
            try:
                self._trees[folder] = xr.open_datatree(path) if path.exists() else None
            except (OSError, ValueError):
                self._trees[folder] = None
        return self._trees[folder]

    def close(self) -> None:
        for tree in self._trees.values():
            if tree is not None:
                tree.close()

    def fit_folders(self) -> dict[str, dict[str, str]]:
        """outcome -> model -> folder of every fit in run.json with a summary, plus any
        other ``<a>/<b>/summary.json`` under the folder (e.g. a harms variant fitted later)."""
        out: dict[str, dict[str, str]] = {}
        seen: set[str] = set()
        for fit in self.run.get("fits", []) or []:
            folder = str(fit.get("folder") or f"{fit.get('model')}/{fit.get('outcome')}")
            seen.add(folder)
            if (self.dir / folder / "summary.json").exists():
                out.setdefault(str(fit["outcome"]), {})[str(fit["model"])] = folder
        for path in sorted(self.dir.glob("*/*/summary.json")):
            folder = f"{path.parent.parent.name}/{path.parent.name}"
            if folder in seen or path.parent.parent.name in ("sensitivity", "figures"):
                continue
            doc = self.summary(folder)
            if doc and doc.get("outcome") and doc.get("model"):
                models = out.setdefault(str(doc["outcome"]), {})
                models.setdefault(path.parent.parent.name, folder)
        return out


def _save(
    fig: Figure,
    out_dir: Path,
    stem: str,
    title: str,
    caption: str,
    section: str,
    outcome: str | None,
) -> FigureRecord:
    paths = save_figure(fig, out_dir, stem)
    return FigureRecord(
        stem=stem,
        title=title,
        caption=caption,
        section=section,
        outcome=outcome,
        files=tuple(p.name for p in paths),
    )


def draw_run_figures(run_dir: Path, out_dir: Path | None = None) -> list[FigureRecord]:
    """Draw every figure of the run folder ``run_dir`` into ``out_dir`` (default
    ``run_dir/figures``) as PNG + SVG + PDF and write ``out_dir/index.json``
    (``{"figures": [...], "skipped": [{"stem", "reason"}], "schema_version": 1}``).

    Figures whose inputs are missing (a skipped or failed fit, an exact-engine fit without
    predictive draws, a model without bias parameters) are listed under ``skipped`` with the
    reason. Raises :class:`RunFolderError` only when ``run.json`` is missing or names an
    evidence set that cannot be found.
    """
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "figures"
    folder = RunFolder(run_dir)
    evidence = load_run_evidence(folder.run)
    records: list[FigureRecord] = []
    skipped: list[dict[str, str]] = []

    def attempt(stem: str, draw: Callable[..., FigureRecord | None], *args: Any) -> None:
        try:
            rec = draw(*args)
        except Exception as exc:  # one broken figure never stops the others
            log.warning("figure %s skipped: %s", stem, exc)
            skipped.append({"stem": stem, "reason": f"{type(exc).__name__}: {exc}"})
            return
        if rec is not None:
            records.append(rec)

    try:
        fits = folder.fit_folders()
        efficacy: dict[str, dict[str, dict[str, Any]]] = {}
        harms: dict[str, dict[str, dict[str, Any]]] = {}
        for outcome, models in fits.items():
            for model, sub in models.items():
                doc = folder.summary(sub)
                if doc is None:
                    continue
                if "risk_difference" in doc:
                    endpoint = str(doc.get("endpoint") or outcome)
                    label = harm_variant_label(doc)
                    variants = harms.setdefault(endpoint, {})
                    variants[label if label not in variants else f"{label} ({sub})"] = doc
                elif "effect" in doc:
                    efficacy.setdefault(outcome, {})[model] = doc
        for fit in folder.run.get("fits", []) or []:
            if not (run_dir / str(fit.get("folder", "")) / "summary.json").exists():
                skipped.append(
                    {
                        "stem": f"{fit.get('model')}/{fit.get('outcome')}",
                        "reason": f"fit {fit.get('status', 'missing')}: no summary.json",
                    }
                )
        order = [d for d in evidence.domains if d in efficacy] + [
            d for d in efficacy if d not in evidence.domains
        ]
        for outcome in order:
            summaries = efficacy[outcome]
            trees = {m: fits[outcome][m] for m in summaries}
            attempt(f"forest_{outcome}", _forest, evidence, outcome, summaries, out_dir)
            attempt(
                f"effect_{outcome}", _effect, folder, evidence, outcome, summaries, trees, out_dir
            )
            attempt(f"bias_{outcome}", _bias, folder, evidence, outcome, trees, out_dir, skipped)
            for kind in ("ppc", "loo_pit"):
                attempt(
                    f"{kind}_{outcome}",
                    _checks,
                    folder,
                    evidence,
                    outcome,
                    trees,
                    kind,
                    out_dir,
                    skipped,
                )
        if harms:
            attempt("harms", _harms, evidence, harms, out_dir)
        else:
            skipped.append({"stem": "harms", "reason": "no harms fit in the run folder"})
        records.extend(_sensitivity(folder, out_dir, skipped))
    finally:
        folder.close()
    index = {
        "figures": [r.as_dict() for r in records],
        "skipped": skipped,
        "schema_version": INDEX_SCHEMA_VERSION,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(
        out_dir / "index.json",
        lambda tmp: Path(tmp).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8"),
    )
    return records


def _forest(
    evidence: Evidence, outcome: str, summaries: Mapping[str, Mapping[str, Any]], out_dir: Path
) -> FigureRecord:
    domain = evidence.domain(outcome)
    n_rows = len(forest_rows(summaries)) + 1 + len(summaries)
    fig, axes = new_figure(9.0, 2.6 + 0.34 * n_rows, ncols=2, width_ratios=[3.0, 1.15], sharey=True)
    forest_plot(list(axes), summaries, evidence, outcome)
    models = ", ".join(model_label(m) for m in DEFAULT_MODELS if m in summaries)
    caption = (
        f"{domain.label}: each study's observed effect (±1.96 SE; marker by design; open markers "
        "are single-arm changes, which include the no-treatment change and bias), its shrunken "
        f"estimate, and the pooled effect of each model ({models}) with its 95% credible "
        f"interval (thick) and 95% prediction interval for a new study (thin), on the "
        f"{scale_unit(domain)} scale, positive = benefit. Right: design features of each study "
        "(filled = present, a source of bias)."
    )
    return _save(
        fig,
        out_dir,
        f"forest_{outcome}",
        f"Forest plot: {domain.label}",
        caption,
        "results",
        outcome,
    )


def _effect(
    folder: RunFolder,
    evidence: Evidence,
    outcome: str,
    summaries: Mapping[str, Mapping[str, Any]],
    subs: Mapping[str, str],
    out_dir: Path,
) -> FigureRecord:
    domain = evidence.domain(outcome)
    posteriors: dict[str, xr.DataTree] = {}
    for model, sub in subs.items():
        tree = folder.tree(sub)
        if tree is not None and "posterior" in tree.children and "mu" in tree["posterior"]:
            posteriors[model] = tree
    if not posteriors:
        raise FileNotFoundError(f"no posterior.nc with the effect 'mu' for '{outcome}'")
    fig, ax = new_figure(6.5, 4.2)
    effect_plot(ax, posteriors, summaries, evidence, outcome)
    main = "bias_adjusted" if "bias_adjusted" in posteriors else next(iter(posteriors))
    scale = effect_scale(summaries.get(main, {}), evidence, domain)
    band = (
        f" The shaded region is [MCID, ∞) in the benefit direction, MCID = {scale.mcid:g} "
        f"({domain.mcid_source or 'evidence set'})."
        if scale.mcid is not None
        else " No MCID is defined for this domain."
    )
    caption = (
        f"{domain.label}: posterior density of the pooled effect on the scale '{scale.unit}', "
        f"{model_label(main)} model solid, the others dashed.{band} P(benefit) and P(> MCID) "
        "are the fits' summary values."
    )
    return _save(
        fig,
        out_dir,
        f"effect_{outcome}",
        f"Effect on the instrument scale: {domain.label}",
        caption,
        "results",
        outcome,
    )


def _bias(
    folder: RunFolder,
    evidence: Evidence,
    outcome: str,
    subs: Mapping[str, str],
    out_dir: Path,
    skipped: list[dict[str, str]],
) -> FigureRecord | None:
    domain = evidence.domain(outcome)
    for model in ["bias_adjusted", *[m for m in subs if m != "bias_adjusted"]]:
        tree = folder.tree(subs[model]) if model in subs else None
        if tree is None or not bias_panels(tree):
            continue
        panels = bias_panels(tree)
        ncols = min(4, len(panels))
        nrows = -(-len(panels) // ncols)
        fig, axes = new_figure(
            2.5 * ncols + 0.6, 2.1 * nrows + 0.4, nrows=nrows, ncols=ncols, squeeze=False
        )
        bias_prior_posterior(list(axes.ravel()), tree, unit=scale_unit(domain))
        caption = (
            f"{domain.label}, {model_label(model)} model: prior (dashed) and posterior (filled) of "
            f"the mean bias each design feature adds (γ, {scale_unit(domain)}; positive = "
            "exaggerates benefit) and of the study-level bias spread κ."
        )
        return _save(
            fig,
            out_dir,
            f"bias_{outcome}",
            f"Bias parameters: {domain.label}",
            caption,
            "bias",
            outcome,
        )
    skipped.append(
        {"stem": f"bias_{outcome}", "reason": "no fit with design-bias parameters (gamma)"}
    )
    return None


def _checks(
    folder: RunFolder,
    evidence: Evidence,
    outcome: str,
    subs: Mapping[str, str],
    kind: str,
    out_dir: Path,
    skipped: list[dict[str, str]],
) -> FigureRecord | None:
    domain = evidence.domain(outcome)
    need = kind == "loo_pit"
    models = [m for m in DEFAULT_MODELS if m in subs] + [m for m in subs if m not in DEFAULT_MODELS]
    usable = []
    for m in models:
        tree = folder.tree(subs[m])
        if tree is not None and has_predictive(tree, need_log_lik=need):
            usable.append((m, tree))
    stem = f"{kind}_{outcome}"
    if not usable:
        skipped.append(
            {
                "stem": stem,
                "reason": "no fit with posterior-predictive draws (exact-engine or missing fits)",
            }
        )
        return None
    fig, axes = new_figure(3.3 * len(usable) + 0.4, 3.6, ncols=len(usable), squeeze=False)
    for ax, (m, tree) in zip(axes.ravel(), usable, strict=True):
        if kind == "ppc":
            ppc_panel(ax, tree, evidence, outcome, title=model_label(m))
        else:
            loo_pit_panel(ax, tree, title=model_label(m))
    left_out = [model_label(m) for m in models if m not in dict(usable)]
    note = (
        f" Not shown (no predictive draws, e.g. exact engine): {', '.join(left_out)}."
        if left_out
        else ""
    )
    if kind == "ppc":
        title = f"Posterior predictive check: {domain.label}"
        caption = (
            f"{domain.label}: 50% (thick) and 95% (thin) posterior predictive intervals of every "
            f"observation with the observed value (dot), per model.{note}"
        )
    else:
        title = f"LOO-PIT: {domain.label}"
        caption = (
            f"{domain.label}: ECDF of the leave-one-out probability integral transform values "
            "against the uniform distribution with a pointwise 95% band; a calibrated model "
            f"stays inside the band. Few observations make the check weak.{note}"
        )
    return _save(fig, out_dir, stem, title, caption, "checks", outcome)


def _harms(
    evidence: Evidence, harms: Mapping[str, Mapping[str, Mapping[str, Any]]], out_dir: Path
) -> FigureRecord:
    rows = sum(len(v) for v in harms.values())
    fig, axes = new_figure(9.0, 1.9 + 0.75 * rows, ncols=2, sharey=True)
    harms_plot(list(axes), harms, evidence)
    labels = sorted({v.split(" (")[0] for variants in harms.values() for v in variants})
    caption = (
        "Absolute risk per 1,000 procedures in the treatment and control arms and the risk "
        "difference (treatment − control) per 1,000 procedures, with 95% credible intervals, "
        f"for {', '.join(evidence.domain(e).label if e in evidence.domains else e for e in harms)}. "
        f"Fits shown: {'; '.join(labels)}."
    )
    return _save(fig, out_dir, "harms", "Harms", caption, "harms", None)


def _sensitivity(
    folder: RunFolder, out_dir: Path, skipped: list[dict[str, str]]
) -> list[FigureRecord]:
    sweeps = [
        (str(s.get("outcome")), folder.dir / str(s["folder"]))
        for s in folder.run.get("sweeps", []) or []
        if s.get("folder")
    ]
    base = folder.dir / "sensitivity"
    if not sweeps and base.is_dir():
        sweeps = [(p.name, p) for p in sorted(base.iterdir()) if p.is_dir()]
    if not sweeps:
        return []
    try:
        from ccsvi_bayes.figures import sensitivity
    except ImportError as exc:
        log.info("sensitivity figures not drawn: %s", exc)
        skipped.append({"stem": "sensitivity", "reason": f"sensitivity figures unavailable: {exc}"})
        return []
    out: list[FigureRecord] = []
    for outcome, path in sweeps:
        try:
            out.extend(sensitivity.sensitivity_figures(path, out_dir, outcome=outcome))
        except Exception as exc:
            log.warning("sensitivity figures of %s skipped: %s", path, exc)
            skipped.append(
                {"stem": f"sensitivity_{outcome}", "reason": f"{type(exc).__name__}: {exc}"}
            )
    return out
