"""Priors inside a model: hyperparameters come from one labelled ``pm.Data`` vector, so a
sensitivity grid swaps prior values without recompiling."""

from __future__ import annotations

from typing import Any

from ccsvi_bayes.priors import PriorSpec, family

__all__ = ["HyperView", "prior_rv"]


class HyperView:
    """Slices of the ``hyper`` data vector by ``<param>.<kwarg>`` label."""

    def __init__(self, node: Any, labels: list[str]) -> None:
        self.node = node
        self.index = {label: i for i, label in enumerate(labels)}

    def __call__(self, param: str, kwarg: str) -> Any:
        key = f"{param}.{kwarg}"
        if key in self.index:
            return self.node[self.index[key]]
        rows = [i for label, i in self.index.items() if label.startswith(key + "[")]
        return self.node[rows[0] : rows[-1] + 1]


def prior_rv(name: str, prior: PriorSpec, hyper: HyperView, dims: str | None = None) -> Any:
    """The random variable of one prior, built by its registered family; τ-type families are
    parametrised on log τ² or τ² and expose τ as a deterministic."""
    h = {k: hyper(name, k) for k in prior.kwargs}
    return family(prior.dist, f"priors.{name}").build(name, h, dims)
