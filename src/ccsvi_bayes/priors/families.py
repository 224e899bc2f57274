"""The registry of prior families: one entry per family, not ``if`` chains in four modules.

Each :class:`PriorFamily` knows its kwargs, which of them must be positive, how to build its
PyMC random variable from hyperparameter tensors, its median (for choosing a
parameterisation, never in the maths) and how its kwargs move when the effect scale is
multiplied by a factor f (``rescale``; which conversions exist is decided once in
:mod:`ccsvi_bayes.priors.scale`): location/scale kwargs × f, a log-location + log f
(LogNormal), a rate ÷ f (Exponential), log τ² families mu + 2·log f (τ × f ⇔ log τ² + 2 log f),
τ² ~ Uniform(0, upper): upper × f²; Beta and flat priors do not move.
For the exact NNHM engine a family on τ also carries its NumPy/SciPy density
(:class:`~ccsvi_bayes.priors.tau_density.TauDensity`), and a family on μ its reading as a
Normal(mean, sd) (the conjugate form; sd = inf for Flat).
A new family is one :func:`register` call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ccsvi_bayes.errors import InvalidModelSpec
from ccsvi_bayes.priors.tau_density import TAU_DENSITIES, TauDensity

__all__ = ["FAMILIES", "PriorFamily", "family", "register"]

Builder = Callable[[str, Mapping[str, Any], Any], Any]
Rescale = Callable[[Mapping[str, float], float], dict[str, float]]
#: a family on μ as Normal(mean, sd) for the exact engine's conjugate μ | τ (sd = inf: Flat)
NormalMu = Callable[[Mapping[str, float]], tuple[float, float]]


def _multiply(*names: str) -> Rescale:
    """Location/scale kwargs × factor (a linear change of the effect scale)."""

    def rescale(kwargs: Mapping[str, float], factor: float) -> dict[str, float]:
        return {k: (v * factor if k in names else v) for k, v in kwargs.items()}

    return rescale


def _unchanged(kwargs: Mapping[str, float], factor: float) -> dict[str, float]:
    return dict(kwargs)


def _shift_log_location(kwargs: Mapping[str, float], factor: float) -> dict[str, float]:
    """LogNormal: scaling the variable by f shifts its log-location by log f."""
    return {**kwargs, "mu": kwargs["mu"] + math.log(factor)}


def _shift_log_tau2(kwargs: Mapping[str, float], factor: float) -> dict[str, float]:
    """log τ² families: τ × f shifts log τ² by 2·log f (the spread is unchanged)."""
    return {**kwargs, "mu": kwargs["mu"] + 2.0 * math.log(factor)}


def _multiply_tau2(kwargs: Mapping[str, float], factor: float) -> dict[str, float]:
    """τ² ~ Uniform(0, upper): τ × f multiplies the bound of τ² by f²."""
    return {**kwargs, "upper": kwargs["upper"] * factor**2}


def _divide_rate(kwargs: Mapping[str, float], factor: float) -> dict[str, float]:
    """Exponential: rate = 1 / scale."""
    return {**kwargs, "lam": kwargs["lam"] / factor}


def _no_constraint(kwargs: Mapping[str, float]) -> str | None:
    return None


def _ordered_bounds(kwargs: Mapping[str, float]) -> str | None:
    return None if kwargs["lower"] < kwargs["upper"] else "Uniform needs lower < upper"


@dataclass(frozen=True)
class PriorFamily:
    """One prior family: its kwargs, constraints, PyMC builder, median and scale rule, and
    what the exact engine needs of it (``tau``: its density on τ; ``normal_mu``: its reading
    as a Normal prior on μ; None where the engine does not integrate it).

    ``constraint`` says why valid numbers are not valid kwargs together (None: they are);
    ``proper`` is False for a family without a normalising constant (Flat, Tau2Flat)."""

    name: str
    kwargs: tuple[str, ...]
    build: Builder
    rescale: Rescale = _unchanged
    median: Callable[[Mapping[str, float]], float] | None = None
    positive: frozenset[str] = field(default_factory=frozenset)
    constraint: Callable[[Mapping[str, float]], str | None] = _no_constraint
    proper: bool = True
    tau: TauDensity | None = None
    normal_mu: NormalMu | None = None

    def check(self, kwargs: Mapping[str, Any], where: str) -> None:
        """Raise :class:`InvalidModelSpec` naming ``where`` for missing, unknown or bad kwargs."""
        missing = [k for k in self.kwargs if k not in kwargs]
        extra = [k for k in kwargs if k not in self.kwargs]
        if missing or extra:
            raise InvalidModelSpec(
                f"{where}: {self.name} takes kwargs {', '.join(self.kwargs) or 'none'}; missing {missing}, unknown {extra}"
            )
        for key, value in kwargs.items():
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                raise InvalidModelSpec(
                    f"{where}.kwargs.{key} must be a finite number, got {value!r}"
                )
            if key in self.positive and value <= 0:
                raise InvalidModelSpec(f"{where}.kwargs.{key} must be > 0, got {value!r}")
        reason = self.constraint(kwargs)
        if reason is not None:
            raise InvalidModelSpec(f"{where}: {reason}")


FAMILIES: dict[str, PriorFamily] = {}


def register(entry: PriorFamily) -> PriorFamily:
    """Add a family to the registry (its name is the spec's ``dist``)."""
    FAMILIES[entry.name] = entry
    return entry


def family(name: str, where: str = "prior") -> PriorFamily:
    """The registered family ``name``, or a spec error listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise InvalidModelSpec(
            f"{where}: unknown dist {name!r} (known: {', '.join(FAMILIES)})"
        ) from None


# --- builders: PyMC is imported when a model is built, not when specs are read -------------
def _pm() -> Any:
    import pymc as pm

    return pm


def _pt() -> Any:
    import pytensor.tensor as pt

    return pt


def _on_log_tau2(student: bool) -> Builder:
    def build(name: str, h: Mapping[str, Any], dims: Any) -> Any:
        pm = _pm()
        if student:
            log_tau2 = pm.StudentT(
                f"log_{name}2", nu=h["nu"], mu=h["mu"], sigma=h["sigma"], dims=dims
            )
        else:
            log_tau2 = pm.Normal(f"log_{name}2", mu=h["mu"], sigma=h["sigma"], dims=dims)
        return pm.Deterministic(name, _pt().exp(0.5 * log_tau2), dims=dims)

    return build


def _tau2_uniform(name: str, h: Mapping[str, Any], dims: Any) -> Any:
    pm = _pm()
    tau2 = pm.Uniform(f"{name}2", lower=0.0, upper=h["upper"], dims=dims)
    return pm.Deterministic(name, _pt().sqrt(tau2), dims=dims)


def _tau2_flat(name: str, h: Mapping[str, Any], dims: Any) -> Any:
    pm = _pm()
    tau2 = pm.HalfFlat(f"{name}2", dims=dims)
    return pm.Deterministic(name, _pt().sqrt(tau2), dims=dims)


def _fixed(name: str, h: Mapping[str, Any], dims: Any) -> Any:
    return _pm().Deterministic(name, h["value"] + _pt().zeros(()), dims=dims)


def _halfnormal_median(k: Mapping[str, float]) -> float:
    from scipy import stats

    return float(k["sigma"] * stats.halfnorm.ppf(0.5))


def _halfstudent_median(k: Mapping[str, float]) -> float:
    from scipy import stats

    return float(k["sigma"] * stats.t.ppf(0.75, k["nu"]))


_LOC_SCALE = frozenset({"sigma", "beta", "lam", "nu", "alpha", "upper"})

for _entry in (
    PriorFamily(
        "Normal",
        ("mu", "sigma"),
        lambda n, h, d: _pm().Normal(n, mu=h["mu"], sigma=h["sigma"], dims=d),
        _multiply("mu", "sigma"),
        normal_mu=lambda k: (k["mu"], k["sigma"]),
    ),
    PriorFamily(
        "StudentT",
        ("nu", "mu", "sigma"),
        lambda n, h, d: _pm().StudentT(n, nu=h["nu"], mu=h["mu"], sigma=h["sigma"], dims=d),
        _multiply("mu", "sigma"),
    ),
    PriorFamily(
        "HalfNormal",
        ("sigma",),
        lambda n, h, d: _pm().HalfNormal(n, sigma=h["sigma"], dims=d),
        _multiply("sigma"),
        _halfnormal_median,
    ),
    PriorFamily(
        "HalfCauchy",
        ("beta",),
        lambda n, h, d: _pm().HalfCauchy(n, beta=h["beta"], dims=d),
        _multiply("beta"),
        lambda k: k["beta"],
    ),
    PriorFamily(
        "HalfStudentT",
        ("nu", "sigma"),
        lambda n, h, d: _pm().HalfStudentT(n, nu=h["nu"], sigma=h["sigma"], dims=d),
        _multiply("sigma"),
        _halfstudent_median,
    ),
    PriorFamily(
        "Exponential",
        ("lam",),
        lambda n, h, d: _pm().Exponential(n, lam=h["lam"], dims=d),
        _divide_rate,
        lambda k: math.log(2.0) / k["lam"],
    ),
    PriorFamily(
        "Uniform",
        ("lower", "upper"),
        lambda n, h, d: _pm().Uniform(n, lower=h["lower"], upper=h["upper"], dims=d),
        _multiply("lower", "upper"),
        lambda k: 0.5 * (k["lower"] + k["upper"]),
        constraint=_ordered_bounds,
    ),
    PriorFamily(
        "LogNormal",
        ("mu", "sigma"),
        lambda n, h, d: _pm().LogNormal(n, mu=h["mu"], sigma=h["sigma"], dims=d),
        _shift_log_location,
        lambda k: math.exp(k["mu"]),
    ),
    PriorFamily(
        "Beta",
        ("alpha", "beta"),
        lambda n, h, d: _pm().Beta(n, alpha=h["alpha"], beta=h["beta"], dims=d),
    ),
    PriorFamily(
        "LogTau2Normal",
        ("mu", "sigma"),
        _on_log_tau2(student=False),
        _shift_log_tau2,
        median=lambda k: math.exp(0.5 * k["mu"]),
    ),
    PriorFamily(
        "LogTau2StudentT",
        ("nu", "mu", "sigma"),
        _on_log_tau2(student=True),
        _shift_log_tau2,
        median=lambda k: math.exp(0.5 * k["mu"]),
    ),
    PriorFamily(
        "Tau2Uniform",
        ("upper",),
        _tau2_uniform,
        _multiply_tau2,
        median=lambda k: math.sqrt(0.5 * k["upper"]),
    ),
    PriorFamily(
        "Flat",
        (),
        lambda n, h, d: _pm().Flat(n, dims=d),
        proper=False,
        normal_mu=lambda k: (0.0, math.inf),
    ),
    PriorFamily("Tau2Flat", (), _tau2_flat, proper=False),
    PriorFamily("Fixed", ("value",), _fixed, _multiply("value"), lambda k: k["value"]),
):
    # Uniform(lower, upper) takes any bounds with lower < upper (e.g. U(-10, 0)): its bounds
    # are locations, not scales, so neither must be positive
    positive = frozenset() if _entry.name == "Uniform" else frozenset(_entry.kwargs) & _LOC_SCALE
    register(replace(_entry, positive=positive, tau=TAU_DENSITIES.get(_entry.name)))
