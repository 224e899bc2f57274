"""Hand-computed checks of the pure harmonization formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ccsvi_bayes.harmonize import formulas as f

# Traboulsee 2018: venoplasty (n 49) vs sham (n 55), change from baseline.
NT, NC = 49, 55


# --- Traboulsee 2018 worked examples -----------------------------------------


def test_traboulsee_mental_composite():
    md, se = f.mean_difference(-0.8, 18.7, NT, 1.2, 15.2, NC)
    # se = sqrt(18.7^2/49 + 15.2^2/55) = sqrt(7.1365 + 4.2007) = 3.367
    assert md == pytest.approx(-2.00, abs=0.005)
    assert se == pytest.approx(3.37, abs=0.005)
    g, _ = f.hedges_g(-0.8, 18.7, NT, 1.2, 15.2, NC)
    # s_p = sqrt((48*349.69 + 54*231.04)/102) = 16.937; d = -0.1181; J = 1 - 3/407
    assert g == pytest.approx(-0.117, abs=0.001)
    p = 2 * stats.norm.sf(abs(md / se))
    assert p == pytest.approx(0.553, abs=0.001)


def test_traboulsee_physical_composite():
    md, se = f.mean_difference(1.4, 14.0, NT, 1.3, 11.5, NC)
    # se = sqrt(196/49 + 132.25/55) = sqrt(4 + 2.4045) = 2.5307
    assert md == pytest.approx(0.10, abs=0.005)
    assert se == pytest.approx(2.53, abs=0.005)
    g, se_g = f.hedges_g(1.4, 14.0, NT, 1.3, 11.5, NC)
    # s_p = sqrt(16549.5/102) = 12.738; g = 0.99263*0.1/12.738 = 0.0078
    assert g == pytest.approx(0.008, abs=0.001)
    # se_g = sqrt(104/2695 + g^2/208) = 0.1964
    assert se_g == pytest.approx(0.196, abs=0.001)


def test_traboulsee_msfc():
    md, se = f.mean_difference(-0.4, 1.5, NT, 0.0, 0.7, NC)
    # se = sqrt(2.25/49 + 0.49/55) = sqrt(0.045918 + 0.008909) = 0.23415
    assert md == pytest.approx(-0.40, abs=0.005)
    assert se == pytest.approx(0.234, abs=0.001)
    g, _ = f.hedges_g(-0.4, 1.5, NT, 0.0, 0.7, NC)
    # s_p = sqrt(134.46/102) = 1.1481; d = -0.3484; g = -0.3458
    assert g == pytest.approx(-0.35, abs=0.01)


# --- responders ----------------------------------------------------------------


def test_responder_half_is_zero():
    d, _ = f.responder_to_smd(50, 100, threshold=0.0)
    assert d == 0.0


def test_responder_threshold_added():
    n = 1000
    events = stats.norm.cdf(0.3) * n  # p = Phi(0.3)
    d, _ = f.responder_to_smd(events, n, threshold=0.2)
    assert d == pytest.approx(0.5, abs=1e-9)


def test_responder_se_by_hand():
    _, se = f.responder_to_smd(48, 89)
    p = 48 / 89  # 0.539326
    z = stats.norm.ppf(p)  # 0.09869
    dens = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # 0.39701
    expected = math.sqrt(p * (1 - p) / 89) / dens  # 0.052856 / 0.39701
    assert se == pytest.approx(expected, rel=1e-9)
    assert se == pytest.approx(0.1331, abs=5e-4)


def test_responder_logit():
    d, se = f.responder_to_smd(50, 100, method="logit")
    assert d == pytest.approx(0.0, abs=1e-12)
    # se = (sqrt(3)/pi) / sqrt(100 * 0.25) = 0.55133 / 5
    assert se == pytest.approx(math.sqrt(3) / math.pi / 5, rel=1e-12)


def test_responder_zero_events_corrected():
    p, corrected = f.responder_proportion(0, 20)
    assert corrected is True
    assert p == pytest.approx(0.5 / 21)
    d, se = f.responder_to_smd(0, 20)
    assert math.isfinite(d)
    assert math.isfinite(se)
    assert d == pytest.approx(stats.norm.ppf(0.5 / 21))
    _, corrected = f.responder_proportion(5, 20)
    assert corrected is False


# --- p-values and CIs ----------------------------------------------------------


def test_se_from_ci_and_p():
    # 13.2 / (2 * 1.959964) = 3.3674
    assert f.se_from_ci(-8.60, 4.60) == pytest.approx(3.367, abs=0.001)
    # 2.0 / Phi^-1(1 - 0.2765) = 2.0 / 0.5932 = 3.371
    assert f.se_from_p(-2.0, 0.553) == pytest.approx(3.37, abs=0.005)
    assert f.z_from_p(0.05) == pytest.approx(1.959964, abs=1e-6)


def test_smd_from_p_only():
    d, se = f.smd_from_p_only(0.05, 100, 1, r=0.5)
    assert d == pytest.approx(1.959964 / 10, abs=1e-6)
    # sqrt(1) * sqrt(1/100 + 0.196^2/200) = 0.10096
    assert se == pytest.approx(math.sqrt(0.01 + 0.1959964**2 / 200), abs=1e-6)
    d_neg, _ = f.smd_from_p_only(0.05, 100, -1)
    assert d_neg == pytest.approx(-d)


# --- single arm, direction, SDs ------------------------------------------------


def test_standardized_mean_change_sign():
    sign = f.direction_sign(False)  # EDSS: lower is better
    assert sign == -1
    d, se = f.standardized_mean_change(-0.2, 0.8, 16, 1.0, sign=sign)
    assert d == pytest.approx(0.2)
    assert se == pytest.approx(0.8 / 4)
    assert f.direction_sign(True) == 1


def test_pooled_sd_and_change_sd():
    # sqrt((54*11.5^2 + 48*14.0^2) / 102) = sqrt((7141.5 + 9408)/102) = sqrt(162.25)
    assert f.pooled_sd([11.5, 14.0], [55, 49]) == pytest.approx(math.sqrt(162.25), rel=1e-12)
    assert f.change_sd_from_baseline_sd(20, 0.5) == pytest.approx(20.0, rel=1e-12)


def test_log_odds_conversions():
    assert f.log_odds_to_smd(1.0) == pytest.approx(math.sqrt(3) / math.pi, rel=1e-12)
    assert f.log_odds_to_smd(1.0) == pytest.approx(0.5513, abs=1e-4)
    assert f.smd_to_log_odds(f.log_odds_to_smd(0.7)) == pytest.approx(0.7, rel=1e-12)
    lo, se = f.log_odds(20, 50)
    assert lo == pytest.approx(math.log(20 / 30))
    assert se == pytest.approx(math.sqrt(1 / 20 + 1 / 30))


# --- ValueError rules (message names the argument) ------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: f.mean_difference(0, 1, 0, 0, 1, 10), "n_t"),
        (lambda: f.hedges_g(0, 1, 10, 0, 1, -3), "n_c"),
        (lambda: f.standardized_mean_change(0.1, 1, 0, 1), "^n must be"),
    ],
)
def test_nonpositive_n(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: f.mean_difference(0, 0, 10, 0, 1, 10), "sd_t"),
        (lambda: f.hedges_g(0, 1, 10, 0, -1, 10), "sd_c"),
        (lambda: f.standardized_mean_change(0.1, 1, 10, 0), "sd_ref"),
        (lambda: f.change_sd_from_baseline_sd(0), "sd_baseline"),
        (lambda: f.pooled_sd([1.0, -1.0], [10, 10]), "sds"),
    ],
)
def test_nonpositive_sd(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("p", [0.0, -0.1, 1.5])
def test_p_out_of_range(p):
    with pytest.raises(ValueError, match="p must be"):
        f.z_from_p(p)


@pytest.mark.parametrize(("events", "n"), [(-1, 10), (11, 10)])
def test_events_out_of_range(events, n):
    with pytest.raises(ValueError, match="events"):
        f.responder_to_smd(events, n)


def test_ci_order():
    with pytest.raises(ValueError, match="ci_low"):
        f.se_from_ci(4.6, -8.6)


@pytest.mark.parametrize("r", [1.0, -1.5, 2.0])
def test_r_out_of_range(r):
    with pytest.raises(ValueError, match="r must be"):
        f.change_sd_from_baseline_sd(10, r)


def test_se_from_p_zero_estimate():
    with pytest.raises(ValueError, match=r"estimate.*not identifiable"):
        f.se_from_p(0.0, 0.5)


def test_unknown_method():
    with pytest.raises(ValueError, match="method"):
        f.responder_to_smd(10, 20, method="cloglog")


@pytest.mark.parametrize("events", [0, 20])
def test_log_odds_boundary(events):
    with pytest.raises(ValueError, match="events"):
        f.log_odds(events, 20)


def test_bad_sign():
    with pytest.raises(ValueError, match="sign"):
        f.smd_from_p_only(0.05, 100, 0)


# --- vectorisation ---------------------------------------------------------------


def test_vectorised_shapes():
    md, se = f.mean_difference(
        [-0.8, 1.4, -0.4], [18.7, 14.0, 1.5], NT, [1.2, 1.3, 0.0], [15.2, 11.5, 0.7], NC
    )
    assert isinstance(md, np.ndarray)
    assert md.shape == (3,)
    assert se.shape == (3,)
    g, se_g = f.hedges_g(np.zeros((2, 1)), 1.0, [10, 20, 30], 0.5, 1.0, 10)
    assert g.shape == (2, 3)
    assert se_g.shape == (2, 3)
    d, se_d = f.responder_to_smd(np.array([0, 48, 89]), 89)
    assert d.shape == (3,)
    assert se_d.shape == (3,)
    assert np.all(np.isfinite(d))
    _, corrected = f.responder_proportion(np.array([0, 48, 89]), 89)
    assert corrected.tolist() == [True, False, True]
    assert f.direction_sign([True, False]).tolist() == [1, -1]
    assert f.z_from_p(np.array([0.05, 1.0])).shape == (2,)
    d, se = f.smd_from_p_only([0.05, 0.01], [100, 50], [1, -1])
    assert d.shape == (2,)
    assert se.shape == (2,)
    assert f.se_from_ci([-1.0, 0.0], [1.0, 2.0]).shape == (2,)
    assert isinstance(f.se_from_ci(-1.0, 1.0), float)
