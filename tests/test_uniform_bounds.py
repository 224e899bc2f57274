"""Uniform priors take any bounds with lower < upper (issue 20): U(-10, 0) can be typed."""

from __future__ import annotations

import pytest

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.priors import family
from ccsvi_bayes.specs import load_spec


@pytest.mark.parametrize("bounds", [(-10.0, 0.0), (-10.0, -2.0), (-1.0, 1.0), (0.0, 10.0)])
def test_uniform_accepts_any_ordered_bounds(bounds: tuple[float, float]) -> None:
    lower, upper = bounds
    family("Uniform").check({"lower": lower, "upper": upper}, "priors.beta_mean")


@pytest.mark.parametrize("bounds", [(0.0, 0.0), (0.0, -10.0), (2.0, 1.0)])
def test_uniform_still_needs_lower_below_upper(bounds: tuple[float, float]) -> None:
    lower, upper = bounds
    with pytest.raises(InvalidModelSpec, match="lower < upper"):
        family("Uniform").check({"lower": lower, "upper": upper}, "priors.beta_mean")


def test_uniform_with_negative_bounds_set_from_the_command_line() -> None:
    spec = load_spec("bias_mixture").with_overrides(
        [
            "priors.beta_mean.dist=Uniform",
            "priors.beta_mean.lower=-10",
            "priors.beta_mean.upper=0",
        ]
    )
    prior = spec.priors["beta_mean"]
    assert prior.dist == "Uniform"


def test_scale_kwargs_of_other_families_stay_positive() -> None:
    with pytest.raises(InvalidModelSpec, match="must be > 0"):
        family("Tau2Uniform").check({"upper": -1.0}, "priors.tau")
