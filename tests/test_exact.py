"""The exact (quadrature) NNHM engine: public REML check, limits, MC and brute force, priors."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from ccsvi_bayes.inference import exact as ex
from ccsvi_bayes.priors import FAMILIES, PriorFamily, TauDensity, register

DATA = Path(__file__).parent / "data"

FLAT: dict[str, Any] = {"dist": "Flat", "kwargs": {}}
TAU2FLAT: dict[str, Any] = {"dist": "Tau2Flat", "kwargs": {}}
RHODES: dict[str, Any] = {
    "dist": "LogTau2StudentT",
    "kwargs": {"nu": 5, "mu": -3.02, "sigma": 2.27},
}

# A small SMD example (k = 5), positive = benefit.
Y5 = np.array([0.30, 0.10, 0.55, -0.05, 0.25])
SE5 = np.array([0.15, 0.20, 0.25, 0.12, 0.30])


@pytest.fixture(scope="module")
def bcg() -> tuple[np.ndarray, np.ndarray]:
    """log RR and its SE for the 13 BCG trials (metafor's escalc, measure = "RR")."""
    with (DATA / "bcg.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 13
    a, b, c, d = (np.array([float(r[k]) for r in rows]) for k in ("tpos", "tneg", "cpos", "cneg"))
    y = np.log(a / (a + b)) - np.log(c / (c + d))
    v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return y, np.sqrt(v)


def numbers(summary: dict[str, Any]) -> np.ndarray:
    """Every float of a summary, in a fixed order."""
    out: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, float):
            out.append(node)

    walk(summary)
    return np.array(out)


# --- 1. BCG vaccine: the public check ---------------------------------------------------


def test_bcg_data_match_metafor_escalc(bcg):
    y, se = bcg
    # metafor: escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
    np.testing.assert_allclose(
        y[:6], [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861], atol=5e-5
    )
    np.testing.assert_allclose(
        se[:6] ** 2, [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069], atol=5e-5
    )


def test_bcg_reml_reproduces_published_fit(bcg):
    fit = ex.reml(*bcg)
    assert fit["mu"] == pytest.approx(-0.7145, abs=5e-4)
    assert fit["se_mu"] == pytest.approx(0.1798, abs=5e-4)
    assert fit["tau2"] == pytest.approx(0.3132, abs=5e-4)
    assert fit["tau"] == pytest.approx(math.sqrt(fit["tau2"]))


def test_bcg_flat_priors_posterior_mode_of_tau2_is_reml(bcg):
    y, se = bcg
    t2 = np.linspace(0.20, 0.45, 250_001)  # step 1e-6
    tau = np.sqrt(t2)
    # log p(tau^2 | y) = log p(tau) - log(2 tau) + log p(y | tau); Tau2Flat: p(tau^2) = 1
    logpost = (
        ex.tau_prior_logpdf(tau, TAU2FLAT)
        - np.log(2 * tau)
        + ex.log_marginal_likelihood(tau, y, se, FLAT)
    )
    t2_hat = t2[np.argmax(logpost)]
    assert t2_hat == pytest.approx(0.3132, abs=1e-3)
    assert t2_hat == pytest.approx(ex.reml(y, se)["tau2"], abs=2e-6)
    mean, var = ex.conditional_mu(math.sqrt(t2_hat), y, se, FLAT)
    assert float(mean) == pytest.approx(-0.7145, abs=5e-4)
    assert math.sqrt(float(var)) == pytest.approx(0.1798, abs=5e-4)

    # The engine's own normalised density of log tau, turned into a density of tau^2,
    # peaks at the same place: p(tau^2) = p_x(x) / (2 tau^2), x = log tau.
    post = ex.nnhm_exact(y, se, TAU2FLAT, FLAT)
    assert post.model is not None
    dens = post.model.log_density(0.5 * np.log(t2)) - np.log(t2)
    assert t2[np.argmax(dens)] == pytest.approx(t2_hat, abs=2e-6)


# --- 2. Known limits --------------------------------------------------------------------


def test_single_study_with_tau_near_zero_is_the_conjugate_normal():
    y, s, s0 = 0.4, 0.3, 0.5
    post = ex.nnhm_exact(
        [y],
        [s],
        {"dist": "Uniform", "kwargs": {"lower": 0, "upper": 1e-8}},
        {"dist": "Normal", "kwargs": {"mu": 0, "sigma": s0}},
    )
    mean = y * s0**2 / (s0**2 + s**2)
    sd = math.sqrt(s0**2 * s**2 / (s0**2 + s**2))
    eff = post.summary()["effect"]
    assert eff["mean"] == pytest.approx(mean, abs=1e-6)
    assert eff["sd"] == pytest.approx(sd, abs=1e-6)
    for key, q in (("q025", 0.025), ("median", 0.5), ("q975", 0.975)):
        assert eff[key] == pytest.approx(mean + sd * stats.norm.ppf(q), abs=1e-6)
    assert eff["prob_benefit"] == pytest.approx(stats.norm.cdf(mean / sd), abs=1e-6)
    study = post.summary()["studies"][0]
    assert study["shrunk_mean"] == pytest.approx(mean, abs=1e-6)  # theta_1 = mu at tau = 0


def test_prior_mass_at_zero_gives_the_fixed_effect_result():
    post = ex.nnhm_exact(Y5, SE5, {"dist": "HalfNormal", "kwargs": {"sigma": 1e-4}}, FLAT)
    w = 1 / SE5**2
    fe_mean, fe_sd = float((w * Y5).sum() / w.sum()), float(1 / math.sqrt(w.sum()))
    s = post.summary()
    assert s["effect"]["mean"] == pytest.approx(fe_mean, abs=2e-6)
    assert s["effect"]["sd"] == pytest.approx(fe_sd, abs=2e-6)
    assert s["effect"]["q975"] == pytest.approx(fe_mean + 1.959964 * fe_sd, abs=2e-6)
    assert s["predictive"]["q975"] == pytest.approx(fe_mean + 1.959964 * fe_sd, abs=2e-5)
    assert s["heterogeneity"]["tau"]["mean"] < 2e-4
    for study in s["studies"]:
        assert study["shrunk_mean"] == pytest.approx(fe_mean, abs=2e-6)


# --- 3. Agreement with Monte Carlo and with a brute-force 2-D grid ----------------------


def test_summary_agrees_with_posterior_draws():
    post = ex.nnhm_exact(Y5, SE5)
    s = post.summary(mcid=0.2)
    n = 200_000
    draws = post.sample(n, np.random.default_rng(20240601))
    assert draws["theta"].shape == (n, 5)

    def prob_tol(p: float) -> float:
        return 5 * math.sqrt(p * (1 - p) / n)

    mu = draws["mu"]
    assert mu.mean() == pytest.approx(s["effect"]["mean"], abs=5 * mu.std() / math.sqrt(n))
    assert mu.std() == pytest.approx(s["effect"]["sd"], rel=5 / math.sqrt(2 * n))
    p = s["effect"]["prob_benefit"]
    assert np.mean(mu > 0) == pytest.approx(p, abs=prob_tol(p))
    p = s["effect"]["prob_mcid"]
    assert np.mean(mu > 0.2) == pytest.approx(p, abs=prob_tol(p))
    # each quantile: the draws' CDF there is q (a scale-free check)
    checks = [
        (mu, s["effect"]["q025"], 0.025),
        (mu, s["effect"]["median"], 0.5),
        (mu, s["effect"]["q975"], 0.975),
        (draws["tau"], s["heterogeneity"]["tau"]["q025"], 0.025),
        (draws["tau"], s["heterogeneity"]["tau"]["q975"], 0.975),
        (draws["theta_new"], s["predictive"]["q025"], 0.025),
        (draws["theta_new"], s["predictive"]["q975"], 0.975),
    ]
    for i, study in enumerate(s["studies"]):
        checks += [(draws["theta"][:, i], study["shrunk_q025"], 0.025)]
        checks += [(draws["theta"][:, i], study["shrunk_q975"], 0.975)]
    for x, value, q in checks:
        assert np.mean(x <= value) == pytest.approx(q, abs=prob_tol(q))
    tau = draws["tau"]
    assert tau.mean() == pytest.approx(
        s["heterogeneity"]["tau"]["mean"], abs=5 * tau.std() / math.sqrt(n)
    )
    theta = draws["theta"].mean(axis=0)
    want = [study["shrunk_mean"] for study in s["studies"]]
    np.testing.assert_allclose(
        theta, want, atol=5 * draws["theta"].std(axis=0).max() / math.sqrt(n)
    )


def test_summary_agrees_with_a_brute_force_grid_over_mu_and_tau():
    post = ex.nnhm_exact(Y5, SE5)  # HalfNormal(0.5) on tau, Normal(0, 1) on mu
    s = post.summary()
    mu = np.linspace(-3.0, 3.5, 1301)[:, None]  # wide (large tau spreads mu); 0 is a node
    tau = np.linspace(0.0, 2.5, 1251)[None, :]
    logp = stats.norm.logpdf(mu, 0, 1) + stats.halfnorm.logpdf(tau, scale=0.5)
    for yi, si in zip(Y5, SE5, strict=True):
        logp = logp + stats.norm.logpdf(yi, mu, np.sqrt(si**2 + tau**2))
    p = np.exp(logp - logp.max())
    p /= integrate.trapezoid(integrate.trapezoid(p, tau[0], axis=1), mu[:, 0])
    p_mu = integrate.trapezoid(p, tau[0], axis=1)
    p_tau = integrate.trapezoid(p, mu[:, 0], axis=0)
    m, t = mu[:, 0], tau[0]
    mean = integrate.trapezoid(m * p_mu, m)
    assert s["effect"]["mean"] == pytest.approx(mean, abs=1e-6)
    assert s["effect"]["sd"] == pytest.approx(
        math.sqrt(integrate.trapezoid((m - mean) ** 2 * p_mu, m)), abs=1e-6
    )
    assert s["heterogeneity"]["tau"]["mean"] == pytest.approx(
        integrate.trapezoid(t * p_tau, t), abs=1e-6
    )
    cdf_mu = integrate.cumulative_trapezoid(p_mu, m, initial=0)
    cdf_tau = integrate.cumulative_trapezoid(p_tau, t, initial=0)
    up = m >= 0
    assert s["effect"]["prob_benefit"] == pytest.approx(
        integrate.simpson(p_mu[up], x=m[up]), abs=1e-6
    )
    for key, q in (("q025", 0.025), ("median", 0.5), ("q975", 0.975)):
        assert s["effect"][key] == pytest.approx(np.interp(q, cdf_mu, m), abs=1e-4)
    for key, q in (("q025", 0.025), ("q975", 0.975)):
        assert s["heterogeneity"]["tau"][key] == pytest.approx(np.interp(q, cdf_tau, t), abs=1e-4)
    # E[theta_1 | y] = E[(1 - B) y_1 + B mu], B = s_1^2 / (s_1^2 + tau^2)
    b = SE5[0] ** 2 / (SE5[0] ** 2 + tau**2)
    e_theta = integrate.trapezoid(integrate.trapezoid(((1 - b) * Y5[0] + b * mu) * p, t, axis=1), m)
    assert s["studies"][0]["shrunk_mean"] == pytest.approx(e_theta, abs=1e-6)


def test_cdf_and_quantile_are_inverse_and_weights_are_a_distribution():
    post = ex.nnhm_exact(Y5, SE5, RHODES)
    assert post.tau_weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(post.tau_weights >= 0)
    assert np.all(np.diff(post.tau_grid) >= 0)
    assert post.theta_mean.shape == post.theta_var.shape == (post.tau_grid.size, 5)
    q = np.array([0.001, 0.025, 0.5, 0.975, 0.999])
    np.testing.assert_allclose(post.mu_cdf(post.mu_quantile(q)), q, atol=1e-12)
    assert isinstance(post.mu_quantile(0.5), float)
    assert isinstance(post.mu_cdf(0.0), float)
    assert post.model is not None
    np.testing.assert_allclose(post.model.tau_cdf(post.tau_quantile(q)), q, atol=1e-10)


# --- 4. Prior families ------------------------------------------------------------------

PROPER_PRIORS = [
    {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}},
    {"dist": "HalfCauchy", "kwargs": {"beta": 0.3}},
    {"dist": "HalfStudentT", "kwargs": {"nu": 3, "sigma": 0.5}},
    {"dist": "Exponential", "kwargs": {"lam": 2.0}},
    {"dist": "Uniform", "kwargs": {"lower": 0.05, "upper": 2.0}},
    {"dist": "LogNormal", "kwargs": {"mu": -1.0, "sigma": 1.0}},
    {"dist": "LogTau2Normal", "kwargs": {"mu": -2.56, "sigma": 1.74}},
    RHODES,
    {"dist": "Tau2Uniform", "kwargs": {"upper": 4.0}},
]


def _prior_mass(prior: dict[str, Any], upper: float = math.inf) -> float:
    """Integral of exp(logpdf) over tau in [0, upper] (on log tau where unbounded)."""
    p = ex.parse_tau_prior(prior)
    lo, hi = p.support
    hi = min(hi, upper)
    if prior["dist"] in ("Uniform", "Tau2Uniform"):
        return float(integrate.quad(lambda t: math.exp(p.logpdf(np.array(t))), lo, hi)[0])

    def f(x: float) -> float:
        return math.exp(float(p.logpdf(np.array(math.exp(x)))) + x)

    top = math.log(hi) if math.isfinite(hi) else math.inf
    total = 0.0  # mass beyond tau in (e^-200, e^120) is < 1e-9 for every prior below
    for a, b in [(-200.0, -3.0), (-3.0, 1.0), (1.0, 120.0)]:
        b = min(b, top)
        if b > a:
            total += integrate.quad(f, a, b, limit=200, epsabs=1e-13)[0]
    return total


@pytest.mark.parametrize("prior", PROPER_PRIORS, ids=lambda p: p["dist"])
def test_prior_density_integrates_to_one_and_matches_cdf_and_quantiles(prior):
    assert _prior_mass(prior) == pytest.approx(1.0, abs=1e-7)
    p = ex.parse_tau_prior(prior)
    t = 0.3
    assert math.exp(float(p.logcdf(np.array(t)))) == pytest.approx(_prior_mass(prior, t), abs=1e-7)
    for q in (1e-10, 0.3, 0.9):
        assert float(p.logcdf(np.exp(p.log_ppf(np.array(q))))) == pytest.approx(
            math.log(q), abs=1e-6
        )
        assert float(p.logcdf(np.exp(p.log_isf(np.array(q))))) == pytest.approx(
            math.log1p(-q), abs=1e-6
        )


def test_tau2flat_is_uniform_on_tau_squared():
    tau = np.array([0.1, 0.5, 2.0])
    np.testing.assert_allclose(ex.tau_prior_logpdf(tau, TAU2FLAT), np.log(2 * tau))
    np.testing.assert_allclose(ex.parse_tau_prior(TAU2FLAT).logcdf(tau), np.log(tau**2))
    assert not ex.parse_tau_prior(TAU2FLAT).proper


def test_rhodes_prior_median_and_posterior_equal_to_prior():
    # prior median of tau: log tau^2 has median -3.02, so tau = exp(-1.51) = 0.221
    p = ex.parse_tau_prior(RHODES)
    median = math.exp(
        optimize.brentq(lambda x: _prior_mass(RHODES, math.exp(x)) - 0.5, -4, 1, xtol=1e-12)
    )
    assert median == pytest.approx(0.221, abs=5e-4)
    assert median == pytest.approx(math.exp(-1.51), rel=1e-6)
    assert math.exp(float(p.log_ppf(np.array(0.5)))) == pytest.approx(math.exp(-1.51), rel=1e-12)
    # one study and a Flat mu: the restricted likelihood is flat, so p(tau | y) = p(tau)
    post = ex.nnhm_exact([0.2], [0.3], RHODES, FLAT)
    q = np.array([0.025, 0.5, 0.975])
    want = np.exp((-3.02 + 2.27 * stats.t.ppf(q, 5)) / 2)
    np.testing.assert_allclose(post.tau_quantile(q), want, rtol=2e-6)


# --- 5. Grid convergence and the batch engine -------------------------------------------


@pytest.mark.parametrize(
    ("case", "tau_prior", "mu_prior"),
    [
        ("bcg", TAU2FLAT, FLAT),
        ("bcg", None, {"dist": "Normal", "kwargs": {"mu": 0, "sigma": 4}}),
        ("y5", None, None),
        ("y5", RHODES, None),
        ("y5", {"dist": "HalfCauchy", "kwargs": {"beta": 0.5}}, FLAT),
        ("y5", {"dist": "HalfNormal", "kwargs": {"sigma": 1e-4}}, None),
    ],
)
def test_doubling_the_nodes_changes_summaries_by_less_than_1e_4(bcg, case, tau_prior, mu_prior):
    y, se = bcg if case == "bcg" else (Y5, SE5)
    summaries = [
        numbers(ex.nnhm_exact(y, se, tau_prior, mu_prior, n_nodes=n).summary(0.1))
        for n in (128, 256, 512)
    ]
    assert np.abs(summaries[1] - summaries[0]).max() < 1e-4
    assert np.abs(summaries[2] - summaries[1]).max() < 1e-4


@pytest.mark.parametrize(("tau_prior", "mu_prior"), [(None, None), (RHODES, FLAT)])
def test_batch_equals_single(tau_prior, mu_prior):
    rng = np.random.default_rng(7)
    y = rng.normal(0.2, 0.4, (12, 6))
    se = rng.uniform(0.1, 0.5, (12, 6))
    batch = ex.nnhm_exact_batch(y, se, tau_prior, mu_prior, n_nodes=128)
    for r in range(12):
        post = ex.nnhm_exact(y[r], se[r], tau_prior, mu_prior, n_nodes=128)
        eff = post.summary()["effect"]
        single = {
            "mu_mean": eff["mean"],
            "mu_sd": eff["sd"],
            "mu_q025": eff["q025"],
            "mu_median": eff["median"],
            "mu_q975": eff["q975"],
            "tau_mean": post.summary()["heterogeneity"]["tau"]["mean"],
            "prob_benefit": eff["prob_benefit"],
        }
        for key, value in single.items():
            assert batch[key][r] == pytest.approx(value, abs=1e-8), key


# --- 6. Invalid input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": [0.1, 0.2], "se": [0.1]}, "same shape"),
        ({"y": [], "se": []}, "at least one study"),
        ({"y": [0.1, np.nan], "se": [0.1, 0.1]}, "y must be finite"),
        ({"y": [0.1, 0.2], "se": [0.1, np.inf]}, "se must be finite"),
        ({"y": [0.1, 0.2], "se": [0.1, 0.0]}, "se must be > 0"),
        ({"y": [[0.1]], "se": [[0.1]]}, "1-D"),
        (
            {"tau_prior": {"dist": "HalfNormals", "kwargs": {"sigma": 1}}},
            "unknown tau prior 'HalfNormals'",
        ),
        (
            {"tau_prior": {"dist": "HalfNormal", "kwargs": {"scale": 1}}},
            r"unexpected kwargs \['scale'\]",
        ),
        (
            {"tau_prior": {"dist": "HalfStudentT", "kwargs": {"nu": 3}}},
            r"missing kwargs \['sigma'\]",
        ),
        ({"tau_prior": {"dist": "HalfNormal", "kwargs": {"sigma": -1}}}, "sigma must be > 0"),
        ({"tau_prior": {"dist": "HalfNormal", "kwargs": {"sigma": "1"}}}, "sigma must be a number"),
        ({"tau_prior": {"dist": "Uniform", "kwargs": {"lower": 1, "upper": 0.5}}}, "lower < upper"),
        (
            {"tau_prior": {"dist": "HalfNormal", "kwarg": {"sigma": 1}}},
            r"unexpected keys \['kwarg'\]",
        ),
        ({"mu_prior": {"dist": "Cauchy", "kwargs": {}}}, "unknown mu prior 'Cauchy'"),
        ({"mu_prior": {"dist": "Normal", "kwargs": {"mu": 0, "sigma": 0}}}, "sigma must be > 0"),
        ({"tau_prior": TAU2FLAT, "mu_prior": FLAT}, "improper posterior with k=2"),
        ({"n_nodes": 8}, "n_nodes must be >= 16"),
    ],
)
def test_invalid_input_raises_a_clear_value_error(kwargs, match):
    args: dict[str, Any] = {"y": [0.1, 0.2], "se": [0.1, 0.2], **kwargs}
    with pytest.raises(ValueError, match=match):
        ex.nnhm_exact(**args)


def test_invalid_batch_and_query_input():
    with pytest.raises(ValueError, match="2-D"):
        ex.nnhm_exact_batch([0.1, 0.2], [0.1, 0.2], None, None)
    with pytest.raises(ValueError, match="same shape"):
        ex.nnhm_exact_batch(np.zeros((3, 4)), np.ones((3, 5)), None, None)
    with pytest.raises(ValueError, match="se must be > 0"):
        ex.nnhm_exact_batch(np.zeros((3, 4)), -np.ones((3, 4)), None, None)
    post = ex.nnhm_exact(Y5, SE5)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            post.mu_quantile(bad)
    with pytest.raises(ValueError, match="positive integer"):
        post.sample(0)
    with pytest.raises(ValueError, match="same shape"):
        ex.reml([0.1, 0.2], [0.1])


def test_reml_single_study_and_no_heterogeneity():
    assert ex.reml([0.3], [0.2]) == {
        "tau2": 0.0,
        "tau": 0.0,
        "mu": 0.3,
        "se_mu": pytest.approx(0.2),
    }
    fit = ex.reml([0.1, 0.1, 0.1], [0.2, 0.3, 0.4])  # no spread: the maximum is at tau^2 = 0
    assert fit["tau2"] == pytest.approx(0.0, abs=1e-10)


# --- 7. A τ family registered elsewhere is integrated with no change to the engine -----------


def _half_logistic() -> PriorFamily:
    """HalfLogistic(scale) on τ: p(τ) = 2 e^(-τ/s) / (s (1 + e^(-τ/s))^2), F(τ) = tanh(τ/2s);
    not a built-in family, so the engine knows it only through its registration."""

    def logpdf(k: Any, t: np.ndarray) -> Any:
        s = k["scale"]
        return math.log(2.0) - t / s - np.log(s) - 2.0 * np.log1p(np.exp(-t / s))

    return PriorFamily(
        "HalfLogistic",
        ("scale",),
        build=lambda name, h, dims: None,  # the exact engine never builds a PyMC variable
        median=lambda k: 2.0 * k["scale"] * math.atanh(0.5),
        positive=frozenset({"scale"}),
        tau=TauDensity(
            logpdf=logpdf,
            logcdf=lambda k, t: np.log(np.tanh(t / (2.0 * k["scale"]))),
            log_ppf=lambda k, q: np.log(2.0 * k["scale"]) + np.log(np.arctanh(q)),
            log_isf=lambda k, q: np.log(k["scale"]) + np.log(np.log1p(2.0 * (1.0 - q) / q)),
        ),
    )


@pytest.fixture
def registered() -> Any:
    """Register prior families for one test and remove them afterwards."""
    added: list[str] = []

    def add(entry: PriorFamily) -> dict[str, Any]:
        register(entry)
        added.append(entry.name)
        return {"dist": entry.name, "kwargs": {}}

    yield add
    for name in added:
        del FAMILIES[name]


def test_a_registered_tau_family_is_integrated_by_the_engine(registered) -> None:
    registered(_half_logistic())
    prior = {"dist": "HalfLogistic", "kwargs": {"scale": 0.3}}
    assert ex.TAU_FAMILIES["HalfLogistic"] == ("scale",)
    assert _prior_mass(prior) == pytest.approx(1.0, abs=1e-7)
    # independent check: p(tau | y) ∝ p(tau) p(y | tau), with mu ~ N(0, 1) integrated as the
    # k-variate normal y ~ N(0, diag(s^2 + tau^2) + 1), by scipy's quad over tau
    p_tau = ex.parse_tau_prior(prior)

    def joint(tau: float) -> float:
        cov = np.diag(SE5**2 + tau**2) + 1.0
        log_lik = stats.multivariate_normal.logpdf(Y5, np.zeros(5), cov)
        return math.exp(float(p_tau.logpdf(np.array(tau))) + log_lik)

    mass = integrate.quad(joint, 0.0, 10.0, limit=200, epsabs=1e-14)[0]
    tau_mean = integrate.quad(lambda t: t * joint(t), 0.0, 10.0, limit=200)[0] / mass
    post = ex.nnhm_exact(Y5, SE5, prior, {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}})
    assert post.model is not None
    assert post.model.log_norm == pytest.approx(math.log(mass), abs=1e-8)
    summary = post.summary()
    assert summary["heterogeneity"]["tau"]["mean"] == pytest.approx(tau_mean, rel=1e-7)
    many = ex.nnhm_exact_scenarios([Y5, Y5], [SE5, SE5], [prior, RHODES], None, n_nodes=256)
    assert many["tau_mean"][0] == pytest.approx(summary["heterogeneity"]["tau"]["mean"], rel=1e-12)
    assert many["log_marginal"][0] == pytest.approx(post.model.log_norm, rel=1e-12)


def test_a_registered_copy_of_a_family_gives_its_numbers_to_the_bit(registered) -> None:
    halfnormal = FAMILIES["HalfNormal"]
    registered(dataclasses.replace(halfnormal, name="HalfNormalCopy"))
    copy = {"dist": "HalfNormalCopy", "kwargs": {"sigma": 0.5}}
    original = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}}
    a, b = ex.nnhm_exact(Y5, SE5, copy, FLAT), ex.nnhm_exact(Y5, SE5, original, FLAT)
    assert a.summary(mcid=0.1) == b.summary(mcid=0.1)
    np.testing.assert_array_equal(a.sample(50, 1)["tau"], b.sample(50, 1)["tau"])
    batch = ex.nnhm_exact_scenarios([Y5] * 2, [SE5] * 2, [copy, original], FLAT, studies=True)
    for key, values in batch.items():
        np.testing.assert_array_equal(values[0], values[1], err_msg=key)


def test_a_registered_family_without_a_tau_density_is_refused(registered) -> None:
    registered(dataclasses.replace(FAMILIES["Normal"], name="NormalCopy", normal_mu=None))
    with pytest.raises(ValueError, match="unknown tau prior 'NormalCopy'"):
        ex.nnhm_exact(Y5, SE5, {"dist": "NormalCopy", "kwargs": {"mu": 0.0, "sigma": 1.0}})
    with pytest.raises(ValueError, match="unknown mu prior 'NormalCopy'"):
        ex.nnhm_exact(Y5, SE5, None, {"dist": "NormalCopy", "kwargs": {"mu": 0.0, "sigma": 1.0}})
