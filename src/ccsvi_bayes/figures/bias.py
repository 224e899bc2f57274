"""Prior vs posterior of the bias parameters of a design-bias model: one small panel per
design feature (``gamma[feature]``, the mean bias a flaw adds) and one for ``kappa`` (the
study-level spread of bias). How much the data moved each prior is what the panel shows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.artist import Artist
from matplotlib.axes import Axes

from ccsvi_bayes.figures.common import flat_draws, group, kde, model_colour
from ccsvi_bayes.figures.forest import FLAG_HEADERS
from ccsvi_bayes.figures.style import OKABE_ITO, in_house_style

__all__ = ["bias_panels", "bias_prior_posterior"]

_EXTRA_HEADERS = {"unblinded_x_patient_reported": "unblinded × patient-reported"}


def bias_panels(tree: xr.DataTree) -> list[str]:
    """The panels :func:`bias_prior_posterior` draws for ``tree``: ``gamma[<feature>]`` per
    feature, then ``kappa`` when the model has it (empty: no bias parameters)."""
    post = group(tree, "posterior")
    if post is None or "gamma" not in post:
        return []
    feats = [str(f) for f in post["gamma"].coords["feature"].values]
    return [f"gamma[{f}]" for f in feats] + (["kappa"] if "kappa" in post else [])


def _values(ds: xr.Dataset | None, panel: str) -> np.ndarray | None:
    if ds is None:
        return None
    if panel.startswith("gamma["):
        if "gamma" not in ds:
            return None
        feat = panel[len("gamma[") : -1]
        return flat_draws(ds["gamma"].sel(feature=feat)).ravel()
    if panel not in ds:
        return None
    return flat_draws(ds[panel]).ravel()


def _density(
    ax: Axes, values: np.ndarray, grid: np.ndarray, **kw: object
) -> tuple[Artist, np.ndarray] | None:
    if values.size < 2 or np.ptp(values) == 0:
        return None
    dens = kde(values, grid)
    (line,) = ax.plot(grid, dens, **kw)  # type: ignore[arg-type]
    return line, dens


@in_house_style
def bias_prior_posterior(
    axes: Sequence[Axes], tree: xr.DataTree, *, unit: str = "SMD"
) -> dict[str, list[Artist]]:
    """Prior (grey, dashed; the fit's ``prior`` group) and posterior (filled) density of every
    bias parameter, one panel per entry of :func:`bias_panels` on ``axes`` (at least that
    many). ``unit`` names the analysis scale (``SMD``, ``log odds ratio``…). Returns artists
    by role: ``prior``/``posterior`` (gids ``prior:<panel>``, ``posterior:<panel>``)."""
    panels = bias_panels(tree)
    if not panels:
        raise ValueError("the fit has no bias parameters (gamma): not a design-bias model")
    if len(axes) < len(panels):
        raise ValueError(f"{len(panels)} bias panels need as many axes, got {len(axes)}")
    prior, post = group(tree, "prior"), group(tree, "posterior")
    colour = model_colour("bias_adjusted")
    out: dict[str, list[Artist]] = {"prior": [], "posterior": [], "other": []}
    for ax, panel in zip(axes, panels, strict=False):
        pv, qv = _values(prior, panel), _values(post, panel)
        both = [v for v in (pv, qv) if v is not None]
        stacked = np.concatenate(both)
        lo, hi = np.quantile(stacked, [0.005, 0.995])
        if panel == "kappa":
            lo = 0.0
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        grid = np.linspace(lo - (0 if panel == "kappa" else pad), hi + pad, 256)
        if pv is not None:
            drawn = _density(ax, pv, grid, color=OKABE_ITO["grey"], ls="--", lw=1.2, label="prior")
            if drawn is not None:
                drawn[0].set_gid(f"prior:{panel}")
                out["prior"].append(drawn[0])
        if qv is not None:
            drawn = _density(ax, qv, grid, color=colour, lw=1.8, label="posterior")
            if drawn is not None:
                line, dens = drawn
                line.set_gid(f"posterior:{panel}")
                out["posterior"].append(line)
                out["other"].append(ax.fill_between(grid, dens, color=colour, alpha=0.2, lw=0))
        if panel == "kappa":
            ax.set_title("κ: spread of study bias", loc="left", fontsize=8)
            ax.set_xlabel(f"SD of study bias ({unit})\nlarger = less predictable")
        else:
            feat = panel[len("gamma[") : -1]
            name = _EXTRA_HEADERS.get(feat, FLAG_HEADERS.get(feat, feat.replace("_", " ")))
            ax.set_title(f"γ: {name}", loc="left", fontsize=8)
            ax.set_xlabel(f"bias ({unit})\npositive = exaggerates benefit")
            out["other"].append(ax.axvline(0.0, color=OKABE_ITO["grey"], lw=0.6))
        ax.set_ylabel("density (per unit)")
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
    axes[0].get_figure().legend(  # type: ignore[union-attr]
        handles=out["prior"][:1] + out["posterior"][:1],
        loc="outside lower center",
        ncols=2,
        fontsize=7,
    )
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return out
