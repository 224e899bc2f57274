"""Prior, predictive, log-likelihood and data groups of a posterior ``DataTree``."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import numpy as np
import pymc as pm
import xarray as xr


def set_model_data(model: pm.Model, inputs: Mapping[str, np.ndarray]) -> None:
    """``pm.set_data`` with each array cast to its ``pm.Data`` dtype (int64 → int32 indices)."""
    pm.set_data({k: np.asarray(v, dtype=model[k].dtype) for k, v in inputs.items()}, model=model)


def constant_data(model: pm.Model, inputs: Mapping[str, np.ndarray]) -> xr.Dataset:
    """The ``constant_data`` group: every ``pm.Data`` value a posterior was drawn with.

    PyMC's forward samplers compare it with the model's current data; a ``pm.Data`` missing
    from it counts as changed (volatile) and everything downstream would be redrawn.
    """
    variables = {}
    for name, value in inputs.items():
        array = np.asarray(value, dtype=model[name].dtype)
        dims = model.named_vars_to_dims.get(name) or tuple(
            f"{name}_dim_{i}" for i in range(array.ndim)
        )
        variables[name] = (tuple(dims), array)
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    ds = xr.Dataset(variables)
    return ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims})


def concat_chains(parts: list[xr.DataTree], groups: tuple[str, ...]) -> xr.DataTree:
    """Chain groups sampled apart, joined along ``chain`` (renumbered 0..n-1)."""
    joined = {}
    for group in groups:
        ds = xr.concat([part[group].to_dataset() for part in parts], dim="chain")
        joined[group] = ds.assign_coords(chain=np.arange(ds.sizes["chain"]))
    return xr.DataTree.from_dict(joined)


def add_predictive_groups(
    model: pm.Model,
    idata: xr.DataTree,
    inputs: Mapping[str, np.ndarray],
    seed: int,
    prior_draws: int = 500,
) -> xr.DataTree:
    """Prior, prior predictive, posterior predictive, log-likelihood, observed and constant data."""
    logging.getLogger("pymc").setLevel(logging.WARNING)  # no "Sampling: [...]" chatter
    with model:
        set_model_data(model, inputs)
        with warnings.catch_warnings():
            # every Potential of our models is a likelihood term (summed-out mixture, tempered
            # power-prior likelihood), so leaving it out of prior sampling is exactly the prior
            _check_potentials_are_likelihood(model)
            warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
            prior = pm.sample_prior_predictive(draws=prior_draws, random_seed=seed)
        for group, node in prior.children.items():
            idata[group] = node
        idata["constant_data"] = xr.DataTree(constant_data(model, inputs))
        observed = [rv.name for rv in model.observed_RVs]
        if observed:
            pm.sample_posterior_predictive(
                idata, random_seed=seed + 1, extend_inferencedata=True, progressbar=False
            )
            pm.compute_log_likelihood(idata, extend_inferencedata=True, progressbar=False)
    _potential_log_likelihood(idata)
    return idata


def _check_potentials_are_likelihood(model: pm.Model) -> None:
    """Prior sampling ignores Potentials: right only when each is a likelihood term."""
    priors = [p.name for p in model.potentials if "loglik" not in str(p.name)]
    if priors:
        raise ValueError(
            f"Potentials {priors} are not likelihood terms (name without 'loglik'): "
            "prior predictive sampling would ignore part of the prior"
        )


def _potential_log_likelihood(idata: xr.DataTree) -> None:
    """Models with a tempered or summed-out likelihood store it as ``log_lik_*`` deterministics:
    ``log_lik_x`` becomes ``x`` in the ``log_likelihood`` group, unless ``x`` names one of its
    dimensions (``log_lik_study`` over ``study``): xarray would turn a variable named like its
    dimension into a coordinate and leave the group empty, so that one keeps its full name."""
    names = [str(v) for v in idata.posterior.data_vars if str(v).startswith("log_lik_")]
    if not names:
        return
    extra = xr.Dataset(
        {_loglik_name(idata.posterior[name]): idata.posterior[name] for name in names}
    )
    if "log_likelihood" in idata.children:
        extra = xr.merge([idata["log_likelihood"].to_dataset(), extra])
    idata["log_likelihood"] = xr.DataTree(extra)


def _loglik_name(da: xr.DataArray) -> str:
    short = str(da.name).removeprefix("log_lik_")
    return str(da.name) if short in da.dims else short
